//! Start-up provisioning: `ALMACEN_BUCKETS=videos,uploads:public-read`
//! creates the buckets a compose file's apps expect, with an anonymous
//! access policy when one is named, so no init container running `mc mb`
//! and `mc anonymous set` is needed. Idempotent: a bucket that already
//! exists is left exactly as it is (an operator may have changed its policy
//! since), so restarting the container never undoes anything.

use anyhow::{Context as _, bail};

/// One bucket to provision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    /// The bucket name.
    pub name: String,
    /// The canned access name as written (`public-read`, `download`, ...),
    /// if one was given.
    pub access: Option<String>,
}

/// Parses `name[:access],...`; whitespace around items is ignored.
///
/// # Errors
/// An invalid bucket name, an unknown access name, or a bucket listed twice.
pub fn parse(spec: &str) -> anyhow::Result<Vec<BucketSpec>> {
    let mut out: Vec<BucketSpec> = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, access) = match item.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim().to_ascii_lowercase())),
            None => (item, None),
        };
        almacen_engine::validate_bucket_name(name)
            .map_err(|e| anyhow::anyhow!("bucket {name:?}: {e}"))?;
        if let Some(a) = &access
            && crate::canned::policy_json(name, a).is_none()
        {
            bail!(
                "bucket {name:?}: unknown access {a:?} (expected one of {})",
                crate::canned::NAMES
            );
        }
        if out.iter().any(|b| b.name == name) {
            bail!("bucket {name:?} is listed twice");
        }
        out.push(BucketSpec {
            name: name.to_owned(),
            access,
        });
    }
    Ok(out)
}

/// Creates each missing bucket and sets its policy; existing buckets are
/// left alone.
///
/// # Errors
/// The metadata store refuses a write.
pub async fn apply(engine: &almacen_engine::Engine, buckets: &[BucketSpec]) -> anyhow::Result<()> {
    for b in buckets {
        match engine.create_bucket(&b.name, None).await {
            Ok(()) => {}
            Err(almacen_engine::EngineError::BucketAlreadyOwnedByYou) => {
                tracing::info!(bucket = %b.name, "ALMACEN_BUCKETS: bucket exists, left as it is");
                continue;
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "ALMACEN_BUCKETS: cannot create bucket {}: {e}",
                    b.name
                ));
            }
        }
        let policy = b
            .access
            .as_deref()
            .and_then(|a| crate::canned::policy_json(&b.name, a))
            .flatten();
        if let Some(doc) = policy {
            engine
                .set_bucket_policy(&b.name, Some(doc))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| {
                    format!(
                        "ALMACEN_BUCKETS: cannot set the policy of bucket {}",
                        b.name
                    )
                })?;
        }
        tracing::info!(
            bucket = %b.name,
            access = b.access.as_deref().unwrap_or("private"),
            "ALMACEN_BUCKETS: bucket created"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_access() {
        let v = parse(" videos, uploads:public-read ,media:Download,").unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(
            v[0],
            BucketSpec {
                name: "videos".into(),
                access: None
            }
        );
        assert_eq!(v[1].access.as_deref(), Some("public-read"));
        assert_eq!(v[2].access.as_deref(), Some("download"));
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_input() {
        assert!(parse("Bad_Name").is_err());
        assert!(
            parse("uploads:world-readable")
                .unwrap_err()
                .to_string()
                .contains("unknown access")
        );
        assert!(parse("a1b,a1b").is_err());
    }
}
