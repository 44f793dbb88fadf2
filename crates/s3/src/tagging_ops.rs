//! Object and bucket tagging: Put/Get/DeleteObjectTagging, the
//! `x-amz-tagging` header of uploads and copies, and Put/Get/DeleteBucketTagging,
//! with S3's limits and errors.

use almacen_engine::Tags;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::Almacen;
use crate::error::{s3_err, to_s3};
use crate::object_ops::version_header;

/// S3's limit on tags per object.
pub(crate) const MAX_OBJECT_TAGS: usize = 10;
/// S3's limit on tags per bucket.
const MAX_BUCKET_TAGS: usize = 50;

fn invalid_tag(msg: impl Into<String>) -> S3Error {
    s3_err(S3ErrorCode::InvalidTag, msg)
}

/// Checks a tag set against S3's rules: at most `max` tags, keys of 1 to 128
/// characters not starting with `aws:`, values up to 256, no key twice.
pub(crate) fn validate(tags: &Tags, max: usize, what: &str) -> S3Result<()> {
    if tags.len() > max {
        return Err(invalid_tag(format!(
            "{what} tags cannot be greater than {max}"
        )));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid_tag(
                "The TagKey you have provided is invalid: it must be 1 to 128 characters",
            ));
        }
        if v.chars().count() > 256 {
            return Err(invalid_tag(
                "The TagValue you have provided is too long, max 256",
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_tag(
                "System tags cannot be added/updated by requester",
            ));
        }
        if tags[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(invalid_tag(
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(())
}

/// Parses and checks the `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded).
pub(crate) fn from_header(header: Option<&str>) -> S3Result<Tags> {
    let Some(header) = header.filter(|h| !h.is_empty()) else {
        return Ok(Tags::new());
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| invalid_tag("The tag header is not valid UTF-8"))
    };
    let tags = header
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect::<S3Result<Tags>>()?;
    validate(&tags, MAX_OBJECT_TAGS, "Object")?;
    Ok(tags)
}

fn from_dto(set: TagSet) -> S3Result<Tags> {
    set.into_iter()
        .map(|t| match (t.key, t.value) {
            (Some(k), v) => Ok((k, v.unwrap_or_default())),
            (None, _) => Err(invalid_tag("A Tag needs a Key")),
        })
        .collect()
}

/// Tags as S3 lists them: sorted by key.
fn to_dto(mut tags: Tags) -> TagSet {
    tags.sort();
    tags.into_iter()
        .map(|(k, v)| Tag {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

impl Almacen {
    pub(crate) async fn op_put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let input = req.input;
        let tags = from_dto(input.tagging.tag_set)?;
        validate(&tags, MAX_OBJECT_TAGS, "Object")?;
        let info = self
            .engine
            .object_at(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        self.engine
            .set_object_tags(&info, tags)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutObjectTaggingOutput {
            version_id: version_header(&info.version_id),
        }))
    }

    pub(crate) async fn op_get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let input = req.input;
        let info = self
            .engine
            .object_at(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            version_id: version_header(&info.version_id),
            tag_set: to_dto(info.attrs.tags),
        }))
    }

    pub(crate) async fn op_delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let input = req.input;
        let info = self
            .engine
            .object_at(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        self.engine
            .set_object_tags(&info, Tags::new())
            .await
            .map_err(to_s3)?;
        let mut resp = S3Response::new(DeleteObjectTaggingOutput::default());
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }

    pub(crate) async fn op_put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let input = req.input;
        let tags = from_dto(input.tagging.tag_set)?;
        validate(&tags, MAX_BUCKET_TAGS, "Bucket")?;
        self.engine
            .set_bucket_tags(&input.bucket, Some(tags))
            .await
            .map_err(to_s3)?;
        let mut resp = S3Response::new(PutBucketTaggingOutput::default());
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }

    pub(crate) async fn op_get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let config = self
            .engine
            .bucket_config(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        let tags = config
            .tags
            .ok_or_else(|| s3_err(S3ErrorCode::NoSuchTagSet, "The TagSet does not exist"))?;
        Ok(S3Response::new(GetBucketTaggingOutput {
            tag_set: to_dto(tags),
        }))
    }

    pub(crate) async fn op_delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        self.engine
            .set_bucket_tags(&req.input.bucket, None)
            .await
            .map_err(to_s3)?;
        let mut resp = S3Response::new(DeleteBucketTaggingOutput::default());
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parsing_and_limits() {
        let tags = from_header(Some("project=seed%20000&kind=video+clip&empty=")).unwrap();
        assert_eq!(
            tags,
            vec![
                ("project".into(), "seed 000".into()),
                ("kind".into(), "video clip".into()),
                ("empty".into(), String::new()),
            ]
        );
        assert!(from_header(None).unwrap().is_empty());
        let eleven = (0..11)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(from_header(Some(&eleven)).is_err());
        assert!(from_header(Some("a=1&a=2")).is_err());
        assert!(from_header(Some("aws:x=1")).is_err());
        assert!(from_header(Some(&format!("{}=v", "k".repeat(129)))).is_err());
        assert!(from_header(Some(&format!("k={}", "v".repeat(257)))).is_err());
        assert!(from_header(Some(&format!("{}={}", "k".repeat(128), "v".repeat(256)))).is_ok());
    }
}
