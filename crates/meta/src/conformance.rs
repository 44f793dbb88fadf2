//! Behaviour every [`MetaStore`] must show, run against each implementation
//! (the embedded store always; PostgreSQL when `ALMACEN_TEST_PG_URL` names a
//! server, which CI provides).

use std::sync::Arc;

use crate::{
    BucketRow, Condition, ListEntry, ListQuery, MetaError, MetaStore, ObjectRow, VersionEntry,
    VersionListQuery, WriteOp,
};

pub(crate) fn obj(bucket: &str, key: &str) -> ObjectRow {
    ObjectRow {
        bucket: bucket.into(),
        key: key.into(),
        version_id: "null".into(),
        size: 1,
        etag: "e".into(),
        mtime_ms: 1,
        attrs: vec![],
        inline: Some(vec![1]),
        blobs: vec![],
        delete_marker: false,
    }
}

pub(crate) fn version(key: &str, id: &str, marker: bool) -> ObjectRow {
    ObjectRow {
        version_id: id.into(),
        delete_marker: marker,
        etag: format!("etag-{id}"),
        blobs: if marker {
            vec![]
        } else {
            vec![format!("blob-{id}")]
        },
        ..obj("b", key)
    }
}

pub(crate) async fn versions_markers_and_promotion(store: Arc<dyn MetaStore>) {
    store
        .commit(vec![WriteOp::CreateBucket(BucketRow {
            name: "b".into(),
            created_ms: 0,
            region: "us-east-1".into(),
            attrs: vec![],
        })])
        .await
        .unwrap();
    for id in ["v1", "v2"] {
        store
            .commit(vec![WriteOp::PutObject {
                row: version("k", id, false),
                condition: None,
            }])
            .await
            .unwrap();
    }
    store
        .commit(vec![WriteOp::DeleteObject {
            bucket: "b".into(),
            key: "k".into(),
            marker: Some(version("k", "m3", true)),
        }])
        .await
        .unwrap();
    // Hidden from ListObjects, listed newest first by ListObjectVersions.
    let page = store
        .list_objects(
            "b",
            ListQuery {
                max: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(page.entries.is_empty());
    let all = store
        .list_versions(
            "b",
            VersionListQuery {
                max: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ids: Vec<(String, bool)> = all
        .entries
        .iter()
        .map(|e| match e {
            VersionEntry::Version { row, is_latest } => (row.version_id.clone(), *is_latest),
            VersionEntry::CommonPrefix(_) => unreachable!(),
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            ("m3".into(), true),
            ("v2".into(), false),
            ("v1".into(), false)
        ]
    );
    // Resume after v2.
    let rest = store
        .list_versions(
            "b",
            VersionListQuery {
                key_marker: Some("k".into()),
                version_id_marker: Some("v2".into()),
                max: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.entries.len(), 1);
    // Removing the marker brings v2 back; removing v1 releases its blob.
    store
        .commit(vec![WriteOp::DeleteVersion {
            bucket: "b".into(),
            key: "k".into(),
            version_id: "m3".into(),
        }])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_object("b", "k")
            .await
            .unwrap()
            .unwrap()
            .version_id,
        "v2"
    );
    store
        .commit(vec![WriteOp::DeleteVersion {
            bucket: "b".into(),
            key: "k".into(),
            version_id: "v1".into(),
        }])
        .await
        .unwrap();
    assert_eq!(
        store.garbage(i64::MAX, 10).await.unwrap(),
        vec!["blob-v1".to_owned()]
    );
    assert!(
        store
            .get_object_version("b", "k", "v1")
            .await
            .unwrap()
            .is_none()
    );
    // A null write replaces the null version only; v2 stays.
    store
        .commit(vec![WriteOp::PutObject {
            row: version("k", "null", false),
            condition: None,
        }])
        .await
        .unwrap();
    store
        .commit(vec![WriteOp::PutObject {
            row: version("k", "null", false),
            condition: None,
        }])
        .await
        .unwrap();
    let all = store
        .list_versions(
            "b",
            VersionListQuery {
                max: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.entries.len(), 2);
    // The bucket is not empty while versions remain.
    let err = store
        .commit(vec![WriteOp::DeleteBucket { name: "b".into() }])
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::BucketNotEmpty));
}

pub(crate) async fn delimiter_listing_seeks_past_prefixes(store: Arc<dyn MetaStore>) {
    store
        .commit(vec![WriteOp::CreateBucket(BucketRow {
            name: "b".into(),
            created_ms: 0,
            region: "us-east-1".into(),
            attrs: vec![],
        })])
        .await
        .unwrap();
    let mut ops = vec![];
    for k in ["a/1", "a/2", "b", "c/x/y", "c/z", "d"] {
        ops.push(WriteOp::PutObject {
            row: obj("b", k),
            condition: None,
        });
    }
    store.commit(ops).await.unwrap();
    let page = store
        .list_objects(
            "b",
            ListQuery {
                delimiter: Some("/".into()),
                max: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let keys: Vec<_> = page.entries.iter().map(ListEntry::sort_key).collect();
    assert_eq!(keys, ["a/", "b", "c/", "d"]);
    let page = store
        .list_objects(
            "b",
            ListQuery {
                delimiter: Some("/".into()),
                start_after: Some("a/".into()),
                max: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let keys: Vec<_> = page.entries.iter().map(ListEntry::sort_key).collect();
    assert_eq!(keys, ["b", "c/"]);
    assert!(page.truncated);
}

pub(crate) async fn failed_condition_does_not_undo_neighbours(store: Arc<dyn MetaStore>) {
    store
        .commit(vec![WriteOp::CreateBucket(BucketRow {
            name: "b".into(),
            created_ms: 0,
            region: "r".into(),
            attrs: vec![],
        })])
        .await
        .unwrap();
    store
        .commit(vec![WriteOp::PutObject {
            row: obj("b", "k"),
            condition: None,
        }])
        .await
        .unwrap();
    let s1 = store.clone();
    let a = tokio::spawn(async move {
        s1.commit(vec![WriteOp::PutObject {
            row: obj("b", "k"),
            condition: Some(Condition::IfNoneMatchAny),
        }])
        .await
    });
    let s2 = store.clone();
    let b = tokio::spawn(async move {
        s2.commit(vec![WriteOp::PutObject {
            row: obj("b", "k2"),
            condition: Some(Condition::IfNoneMatchAny),
        }])
        .await
    });
    assert!(matches!(
        a.await.unwrap(),
        Err(MetaError::PreconditionFailed)
    ));
    b.await.unwrap().unwrap();
    assert!(store.get_object("b", "k2").await.unwrap().is_some());
}
