//! Listing: ListObjects (v1) and ListObjectsV2.

use almacen_engine::{ListEntry, ListPage, ListQuery, VersionEntry, VersionListQuery};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::Almacen;
use crate::convert::{etag, ts, url_encode};
use crate::error::{s3_err, to_s3};

/// S3's page size limit.
const MAX_KEYS: usize = 1000;

/// A page size parameter (`max-keys`, `max-parts`, `max-uploads`):
/// default and cap 1000, negative values refused.
pub(crate) fn page_size(v: Option<i32>, name: &str) -> S3Result<usize> {
    match v {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(s3_err(
            S3ErrorCode::InvalidArgument,
            format!("{name} must be a non-negative integer"),
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS)),
    }
}

fn url_mode(e: Option<&EncodingType>) -> S3Result<bool> {
    match e.map(EncodingType::as_str) {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(_) => Err(s3_err(
            S3ErrorCode::InvalidArgument,
            "Invalid Encoding Method specified in Request",
        )),
    }
}

/// The parameters every listing shares, read and checked once.
struct Listing {
    max: usize,
    url: bool,
    prefix: String,
    delimiter: Option<String>,
}

impl Listing {
    fn parse(
        max_keys: Option<i32>,
        encoding_type: Option<&EncodingType>,
        prefix: Option<&String>,
        delimiter: Option<&String>,
    ) -> S3Result<Self> {
        Ok(Self {
            max: page_size(max_keys, "max-keys")?,
            url: url_mode(encoding_type)?,
            prefix: prefix.cloned().unwrap_or_default(),
            delimiter: delimiter.cloned().filter(|d| !d.is_empty()),
        })
    }

    /// The engine query for a page starting after `start_after` (ignored when empty).
    fn query(&self, start_after: Option<String>) -> ListQuery {
        ListQuery {
            prefix: self.prefix.clone(),
            start_after: start_after.filter(|s| !s.is_empty()),
            delimiter: self.delimiter.clone(),
            max: self.max,
        }
    }
}

struct Rendered {
    contents: Vec<Object>,
    prefixes: Vec<CommonPrefix>,
    last: Option<String>,
}

impl Almacen {
    fn render(&self, page: ListPage, url: bool, fetch_owner: bool) -> Rendered {
        let enc = |s: &str| if url { url_encode(s) } else { s.to_owned() };
        let mut r = Rendered {
            contents: Vec::new(),
            prefixes: Vec::new(),
            last: page.entries.last().map(|e| e.sort_key().to_owned()),
        };
        for e in page.entries {
            match e {
                ListEntry::Object(o) => r.contents.push(Object {
                    key: Some(enc(&o.key)),
                    e_tag: Some(etag(&o.etag)),
                    size: i64::try_from(o.size).ok(),
                    last_modified: Some(ts(o.mtime_ms)),
                    storage_class: Some(ObjectStorageClass::from_static(
                        ObjectStorageClass::STANDARD,
                    )),
                    owner: fetch_owner.then(|| self.owner.clone()),
                    ..Default::default()
                }),
                ListEntry::CommonPrefix(p) => r.prefixes.push(CommonPrefix {
                    prefix: Some(enc(&p)),
                }),
            }
        }
        r
    }

    pub(crate) async fn op_list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let listing = Listing::parse(
            input.max_keys,
            input.encoding_type.as_ref(),
            input.prefix.as_ref(),
            input.delimiter.as_ref(),
        )?;
        let (max, url) = (listing.max, listing.url);
        let (prefix, delimiter) = (listing.prefix.clone(), listing.delimiter.clone());
        let page = self
            .engine
            .list_objects(&input.bucket, listing.query(input.marker.clone()))
            .await
            .map_err(to_s3)?;
        let truncated = page.truncated;
        let r = self.render(page, url, true);
        let enc = |s: String| if url { url_encode(&s) } else { s };
        // AWS returns NextMarker only when a delimiter was given.
        let next_marker = (truncated && delimiter.is_some())
            .then(|| r.last.clone().map(enc))
            .flatten();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            // botocore decodes Marker but not Prefix in v1 responses.
            prefix: Some(prefix),
            marker: Some(input.marker.map(enc).unwrap_or_default()),
            max_keys: i32::try_from(max).ok(),
            is_truncated: Some(truncated),
            contents: Some(r.contents),
            common_prefixes: Some(r.prefixes),
            delimiter: delimiter.map(enc),
            next_marker,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    pub(crate) async fn op_list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let listing = Listing::parse(
            input.max_keys,
            input.encoding_type.as_ref(),
            input.prefix.as_ref(),
            input.delimiter.as_ref(),
        )?;
        let (max, url) = (listing.max, listing.url);
        let (prefix, delimiter) = (listing.prefix.clone(), listing.delimiter.clone());
        let start_after = match &input.continuation_token {
            Some(t) => {
                let raw = TOKEN
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        s3_err(
                            S3ErrorCode::InvalidArgument,
                            "The continuation token provided is incorrect",
                        )
                    })?;
                Some(raw)
            }
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let page = self
            .engine
            .list_objects(&input.bucket, listing.query(start_after))
            .await
            .map_err(to_s3)?;
        let truncated = page.truncated;
        let r = self.render(page, url, input.fetch_owner.unwrap_or(false));
        let enc = |s: String| if url { url_encode(&s) } else { s };
        let key_count = r.contents.len() + r.prefixes.len();
        let next = truncated
            .then(|| r.last.as_ref().map(|l| TOKEN.encode(l.as_bytes())))
            .flatten();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc(prefix)),
            max_keys: i32::try_from(max).ok(),
            key_count: i32::try_from(key_count).ok(),
            continuation_token: input.continuation_token,
            is_truncated: Some(truncated),
            next_continuation_token: next,
            contents: Some(r.contents),
            common_prefixes: Some(r.prefixes),
            delimiter: delimiter.map(enc),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(enc),
            ..Default::default()
        }))
    }
}

impl Almacen {
    /// ListObjectVersions while versioning is not in: every object has
    /// exactly one version, `null`, and it is the latest.
    pub(crate) async fn op_list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        let listing = Listing::parse(
            input.max_keys,
            input.encoding_type.as_ref(),
            input.prefix.as_ref(),
            input.delimiter.as_ref(),
        )?;
        let (max, url) = (listing.max, listing.url);
        let (prefix, delimiter) = (listing.prefix.clone(), listing.delimiter.clone());
        if input.version_id_marker.is_some() && input.key_marker.is_none() {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                "A version-id marker cannot be specified without a key marker.",
            ));
        }
        let page = self
            .engine
            .list_versions(
                &input.bucket,
                VersionListQuery {
                    prefix: prefix.clone(),
                    key_marker: input.key_marker.clone(),
                    version_id_marker: input.version_id_marker.clone(),
                    delimiter: delimiter.clone(),
                    max,
                },
            )
            .await
            .map_err(to_s3)?;
        let truncated = page.truncated;
        let enc = |s: &str| if url { url_encode(s) } else { s.to_owned() };
        let (next_key, next_version) = match page.entries.last() {
            Some(VersionEntry::Version { row, .. }) => {
                (Some(row.key.clone()), Some(row.version_id.clone()))
            }
            Some(VersionEntry::CommonPrefix(p)) => (Some(p.clone()), None),
            None => (None, None),
        };
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        let mut prefixes = Vec::new();
        for e in page.entries {
            match e {
                VersionEntry::Version { row, is_latest } if row.delete_marker => {
                    markers.push(DeleteMarkerEntry {
                        key: Some(enc(&row.key)),
                        version_id: Some(row.version_id),
                        is_latest: Some(is_latest),
                        last_modified: Some(ts(row.mtime_ms)),
                        owner: Some(self.owner.clone()),
                    });
                }
                VersionEntry::Version { row, is_latest } => versions.push(ObjectVersion {
                    key: Some(enc(&row.key)),
                    version_id: Some(row.version_id.clone()),
                    is_latest: Some(is_latest),
                    e_tag: Some(etag(&row.etag)),
                    size: i64::try_from(row.size).ok(),
                    last_modified: Some(ts(row.mtime_ms)),
                    owner: Some(self.owner.clone()),
                    storage_class: Some(ObjectVersionStorageClass::from_static(
                        ObjectVersionStorageClass::STANDARD,
                    )),
                    ..Default::default()
                }),
                VersionEntry::CommonPrefix(p) => prefixes.push(CommonPrefix {
                    prefix: Some(enc(&p)),
                }),
            }
        }
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(enc(&prefix)),
            delimiter: delimiter.as_deref().map(enc),
            key_marker: Some(input.key_marker.as_deref().map(enc).unwrap_or_default()),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            next_key_marker: if truncated {
                next_key.as_deref().map(enc)
            } else {
                None
            },
            next_version_id_marker: if truncated { next_version } else { None },
            max_keys: i32::try_from(max).ok(),
            is_truncated: Some(truncated),
            versions: Some(versions),
            delete_markers: (!markers.is_empty()).then_some(markers),
            common_prefixes: Some(prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}
