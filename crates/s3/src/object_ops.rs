//! Object operations: PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject.

use almacen_engine::{
    ChecksumType, EngineError, MAX_PUT_SIZE, ObjectAttrs, ObjectInfo, PutCondition, validate_key,
};
use futures::TryStreamExt as _;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::conditions::{Conditions, Verdict};
use crate::convert::{
    Expected, content_headers, etag, metadata_out, parse_http_date, set_checksums, ts,
};
use crate::error::{s3_err, to_s3, upload_err};
use crate::{Almacen, Caller};

/// What a read returns besides the bytes: the range and status headers.
pub(crate) struct ReadPlan {
    pub start: u64,
    pub len: u64,
    pub content_range: Option<String>,
    pub parts_count: Option<i32>,
    /// Whether whole-object checksums apply (not for ranges and parts).
    pub whole: bool,
}

/// Refuses server-side encryption requests until encryption at rest exists:
/// storing the object unencrypted while the client asked for encryption
/// would be a silent lie about where its data stands.
/// The encryption a write asks for: SSE-S3 or SSE-KMS by
/// `x-amz-server-side-encryption`, or SSE-C by the customer-key headers.
pub(crate) struct SseRequest {
    algorithm: Option<String>,
    kms_key_id: Option<String>,
    customer: Option<CustomerKey>,
}

impl Almacen {
    /// Reads and checks a write's encryption headers.
    pub(crate) fn sse_request(
        &self,
        algorithm: Option<&ServerSideEncryption>,
        kms_key_id: Option<&String>,
        customer_algorithm: Option<&String>,
        customer_key: Option<&String>,
        customer_key_md5: Option<&String>,
    ) -> S3Result<SseRequest> {
        let algorithm = algorithm.map(|a| a.as_str().to_owned());
        match algorithm.as_deref() {
            None | Some("AES256" | "aws:kms") => {}
            Some(other) => {
                return Err(s3_err(
                    S3ErrorCode::InvalidArgument,
                    format!("The encryption method specified is not supported: {other}"),
                ));
            }
        }
        if kms_key_id.is_some() && algorithm.as_deref() != Some("aws:kms") {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                "Server Side Encryption with KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
            ));
        }
        let customer = self.customer_key(customer_algorithm, customer_key, customer_key_md5)?;
        if customer.is_some() && algorithm.is_some() {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
            ));
        }
        Ok(SseRequest {
            algorithm,
            kms_key_id: kms_key_id.cloned(),
            customer,
        })
    }

    /// The SSE-C key of a request, if it sends one.
    pub(crate) fn customer_key(
        &self,
        algorithm: Option<&String>,
        key: Option<&String>,
        md5: Option<&String>,
    ) -> S3Result<Option<CustomerKey>> {
        CustomerKey::from_headers(algorithm, key, md5, self.sse_c_insecure)
    }
}

/// An SSE-C key from the request's three headers, checked as S3 checks it.
#[derive(Clone)]
pub(crate) struct CustomerKey {
    key: [u8; 32],
    md5: String,
}

impl CustomerKey {
    /// The base64 MD5 of the key.
    pub(crate) fn md5(&self) -> &str {
        &self.md5
    }

    /// The key's bytes.
    pub(crate) fn raw(&self) -> &[u8; 32] {
        &self.key
    }

    /// The key from `algorithm`, `key` and `key-MD5` headers (all or none).
    pub(crate) fn from_headers(
        algorithm: Option<&String>,
        key: Option<&String>,
        md5: Option<&String>,
        insecure_allowed: bool,
    ) -> S3Result<Option<Self>> {
        use base64::Engine as _;
        use md5::Digest as _;
        let invalid = |m: &str| s3_err(S3ErrorCode::InvalidArgument, m);
        let (algorithm, key, md5) = match (algorithm, key, md5) {
            (None, None, None) => return Ok(None),
            (Some(a), Some(k), Some(m)) => (a, k, m),
            (None, ..) => {
                return Err(invalid(
                    "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
                ));
            }
            _ => {
                return Err(invalid(
                    "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
                ));
            }
        };
        if algorithm != "AES256" {
            return Err(invalid(
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
            ));
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(key)
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| invalid("The secret key was invalid for the specified algorithm."))?;
        let digest = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&raw));
        if &digest != md5 {
            return Err(invalid(
                "The calculated MD5 hash of the key did not match the hash that was provided.",
            ));
        }
        if !insecure_allowed {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
            ));
        }
        let mut k = [0u8; 32];
        k.copy_from_slice(&raw);
        Ok(Some(Self {
            key: k,
            md5: digest,
        }))
    }
}

/// The SSE-C response headers of an object: algorithm and key MD5.
pub(crate) fn ssec_out(
    attrs: Option<&almacen_engine::SseAttrs>,
) -> (Option<String>, Option<String>) {
    match attrs.and_then(|a| a.customer_key_md5.clone()) {
        Some(md5) => (Some("AES256".to_owned()), Some(md5)),
        None => (None, None),
    }
}

/// The SSE-KMS key id of an object's responses.
pub(crate) fn kms_key_out(attrs: Option<&almacen_engine::SseAttrs>) -> Option<String> {
    attrs
        .filter(|a| a.algorithm == "aws:kms")
        .map(|a| a.key_id.clone())
}

/// Reads take no `x-amz-server-side-encryption` headers (the server
/// knows how the object is encrypted); AWS refuses them with 400.
fn refuse_sse_on_read(headers: &http::HeaderMap) -> S3Result<()> {
    for h in [
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
    ] {
        if headers.contains_key(h) {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                format!("The {h} header is not supported for this operation."),
            ));
        }
    }
    Ok(())
}

/// The `x-amz-server-side-encryption` value of an object's responses.
pub(crate) fn sse_out(attrs: Option<&almacen_engine::SseAttrs>) -> Option<ServerSideEncryption> {
    attrs
        .filter(|a| !a.is_customer_key())
        .map(|a| ServerSideEncryption::from(a.algorithm.clone()))
}

impl Almacen {
    /// The encryption a new object `bucket/key` gets: what the request asks
    /// for, else the bucket's default (from `config`, which the caller has
    /// read anyway); a new object key sealed under the master key or, for
    /// SSE-C, under the customer's key.
    pub(crate) fn sse_for_write(
        &self,
        bucket: &str,
        key: &str,
        req: &SseRequest,
        config: &almacen_engine::BucketConfig,
    ) -> S3Result<Option<(almacen_engine::ObjectKey, almacen_engine::SseAttrs)>> {
        if let Some(c) = &req.customer {
            return Ok(Some(self.engine.new_sse_c(bucket, key, &c.key, &c.md5)));
        }
        let Some(algorithm) = req.algorithm.as_deref().or(config.encryption.as_deref()) else {
            return Ok(None);
        };
        self.engine
            .new_sse(bucket, key, algorithm, req.kms_key_id.as_deref())
            .map(Some)
            .map_err(to_s3)
    }

    /// The object key a read of `info` needs from the request: SSE-C
    /// objects need the customer's key (400 without it, 403 with another);
    /// other objects refuse SSE-C parameters. `None`: the engine knows.
    pub(crate) fn key_for_read(
        &self,
        info: &ObjectInfo,
        customer: Option<CustomerKey>,
    ) -> S3Result<Option<almacen_engine::ObjectKey>> {
        let stored = info.attrs.sse.as_ref().filter(|a| a.is_customer_key());
        match (stored, customer) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "The encryption parameters are not applicable to this object.",
            )),
            (Some(_), None) => Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
            )),
            (Some(sse), Some(c)) => {
                if sse.customer_key_md5.as_deref() != Some(c.md5.as_str()) {
                    return Err(s3_err(S3ErrorCode::AccessDenied, "Access Denied"));
                }
                self.engine
                    .object_key_c(sse, &info.bucket, &info.key, &c.key)
                    .map(Some)
                    .map_err(|_| s3_err(S3ErrorCode::AccessDenied, "Access Denied"))
            }
        }
    }
}

/// Evaluates the read conditions of a GET or HEAD: 412 or 304 as RFC 9110 says.
pub(crate) fn check_read_conditions(info: &ObjectInfo, conditions: Conditions<'_>) -> S3Result<()> {
    match conditions.evaluate(info) {
        Verdict::Proceed => Ok(()),
        Verdict::PreconditionFailed => Err(precondition_failed()),
        Verdict::NotModified => Err(not_modified(info)),
    }
}

fn precondition_failed() -> S3Error {
    s3_err(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    )
}

fn not_modified(info: &ObjectInfo) -> S3Error {
    let mut e = S3Error::new(S3ErrorCode::NotModified);
    let mut h = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", info.etag)) {
        h.insert(http::header::ETAG, v);
    }
    e.set_headers(h);
    e
}

/// Works out which bytes a GET/HEAD with `Range` or `partNumber` returns.
pub(crate) fn plan_read(
    info: &ObjectInfo,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> S3Result<ReadPlan> {
    if range.is_some() && part_number.is_some() {
        return Err(s3_err(
            S3ErrorCode::InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter",
        ));
    }
    if let Some(n) = part_number {
        let idx = usize::try_from(n).ok().filter(|n| *n >= 1);
        let Some((start, len)) = idx.and_then(|i| info.part_range(i)) else {
            return Err(s3_err(
                S3ErrorCode::InvalidPart,
                "The requested partnumber is not satisfiable",
            ));
        };
        let count = info.parts_count().unwrap_or(1);
        return Ok(ReadPlan {
            start,
            len,
            content_range: (info.parts_count().is_some()).then(|| {
                format!(
                    "bytes {start}-{}/{}",
                    (start + len).saturating_sub(1),
                    info.size
                )
            }),
            parts_count: i32::try_from(count).ok(),
            whole: info.parts_count().is_none(),
        });
    }
    if let Some(r) = range {
        let r = r
            .check(info.size)
            .map_err(|_| to_s3(EngineError::InvalidRange { size: info.size }))?;
        let len = r.end - r.start;
        return Ok(ReadPlan {
            start: r.start,
            len,
            content_range: Some(format!(
                "bytes {}-{}/{}",
                r.start,
                r.end.saturating_sub(1),
                info.size
            )),
            parts_count: None,
            whole: false,
        });
    }
    Ok(ReadPlan {
        start: 0,
        len: info.size,
        content_range: None,
        parts_count: None,
        whole: true,
    })
}

/// The checksum of one part of a multipart object, for `partNumber` reads.
fn part_checksum(info: &ObjectInfo, part_number: Option<i32>) -> Option<almacen_engine::Checksums> {
    let a = info.attrs.checksum_algorithm?;
    let n = usize::try_from(part_number?).ok()?.checked_sub(1)?;
    let sum = info.attrs.part_checksums.get(n).filter(|s| !s.is_empty())?;
    let mut c = almacen_engine::Checksums::default();
    c.set(a, Some(sum.clone()));
    Some(c)
}

/// The checksum algorithm whose value GET/HEAD return in checksum mode.
fn shown_algorithm(info: &ObjectInfo) -> almacen_engine::Algorithm {
    info.attrs
        .checksum_algorithm
        .unwrap_or(almacen_engine::Algorithm::Crc64Nvme)
}

fn checksum_type_out(info: &ObjectInfo) -> ChecksumType {
    info.attrs.checksum_type.unwrap_or(ChecksumType::FullObject)
}

fn dto_checksum_type(t: ChecksumType) -> s3s::dto::ChecksumType {
    s3s::dto::ChecksumType::from(t.name().to_owned())
}

/// The `x-amz-version-id` a response carries: the version, unless it is the
/// "null" version of a bucket that was never versioned (S3 sends none then).
pub(crate) fn version_header(version_id: &str) -> Option<String> {
    (version_id != almacen_engine::NULL_VERSION).then(|| version_id.to_owned())
}

/// Parses the If-Match / If-None-Match conditions of a write; with both,
/// both must hold.
pub(crate) fn write_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<Option<PutCondition>> {
    let matching = if_match.map(|c| match c {
        ETagCondition::Any => PutCondition::IfMatch("*".into()),
        ETagCondition::ETag(e) => PutCondition::IfMatch(e.value().to_owned()),
    });
    let none_matching = if_none_match.map(|c| match c {
        ETagCondition::Any => PutCondition::IfNoneMatchAny,
        ETagCondition::ETag(e) => PutCondition::IfNoneMatch(e.value().to_owned()),
    });
    Ok(match (matching, none_matching) {
        (Some(a), Some(b)) => Some(PutCondition::All(vec![a, b])),
        (a, b) => a.or(b),
    })
}

impl Almacen {
    pub(crate) async fn op_put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let mut input = req.input;
        validate_key(&input.key).map_err(to_s3)?;
        // A browser POST: s3s saw an empty file, the front holds the real one.
        let post_file = req.extensions.get::<crate::post_form::PostFile>().cloned();
        if let Some(f) = &post_file {
            let stream = f.take().ok_or_else(|| {
                s3_err(S3ErrorCode::InternalError, "the POST file was already read")
            })?;
            input.body = Some(StreamingBlob::wrap(sync_wrapper::SyncStream::new(stream)));
            input.content_length = None;
        }
        let condition = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
        let sse_req = self.sse_request(
            input.server_side_encryption.as_ref(),
            input.ssekms_key_id.as_ref(),
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        )?;
        let expected = Expected::from_request(
            &req.headers,
            input
                .checksum_algorithm
                .as_ref()
                .map(ChecksumAlgorithm::as_str),
            [
                input.checksum_crc32.as_ref(),
                input.checksum_crc32c.as_ref(),
                input.checksum_crc64nvme.as_ref(),
                input.checksum_sha1.as_ref(),
                input.checksum_sha256.as_ref(),
            ],
            input.content_md5.as_deref(),
        )?;
        let headers = content_headers(
            input.content_type,
            input.content_encoding,
            input.content_disposition,
            input.content_language,
            input.cache_control,
            input.expires.as_ref(),
            input.metadata,
        );
        headers.check_size().map_err(to_s3)?;
        if let Some(len) = input.content_length
            && u64::try_from(len).unwrap_or(0) > MAX_PUT_SIZE
        {
            return Err(to_s3(EngineError::EntityTooLarge));
        }
        // Upload rules: refuse by the declared type and length before any
        // byte is read; the bytes themselves are checked before the commit.
        let config = self
            .engine
            .bucket_config(&input.bucket)
            .await
            .map_err(to_s3)?;
        let rule = config
            .upload_rules
            .as_deref()
            .and_then(|r| almacen_engine::rule_for(r, &input.key));
        if let Some(rule) = rule {
            almacen_engine::check_declared(
                rule,
                headers.content_type.as_deref(),
                input.content_length.and_then(|l| u64::try_from(l).ok()),
            )
            .map_err(to_s3)?;
        }
        if let Some(len) = input.content_length.and_then(|l| u64::try_from(l).ok()) {
            self.engine
                .check_quota(&input.bucket, &input.key, len)
                .await
                .map_err(to_s3)?;
        }
        let limit = rule
            .and_then(|r| r.max_size)
            .map_or(MAX_PUT_SIZE, |m| m.min(MAX_PUT_SIZE))
            .min(post_file.as_ref().and_then(|f| f.max).unwrap_or(u64::MAX));
        let sse = self.sse_for_write(&input.bucket, &input.key, &sse_req, &config)?;
        let staged = self
            .stage_upload(
                input.body,
                input.content_length,
                &expected,
                &req.headers,
                req.trailing_headers.as_ref(),
                limit,
                sse.as_ref().map(|(k, _)| k),
            )
            .await?;
        if let Some(f) = &post_file
            && staged.size < f.min
        {
            return Err(s3_err(
                S3ErrorCode::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            ));
        }
        let (retention, legal_hold) = crate::object_lock_ops::from_headers(
            input.object_lock_mode.as_ref(),
            input.object_lock_retain_until_date.as_ref(),
            input.object_lock_legal_hold_status.as_ref(),
        )?;
        let attrs = ObjectAttrs {
            headers,
            checksum_algorithm: expected.primary,
            acl: crate::acl_ops::canned(input.acl.as_ref().map(ObjectCannedACL::as_str))?,
            tags: crate::tagging_ops::from_header(input.tagging.as_deref())?,
            retention,
            legal_hold,
            sse: sse.map(|(_, a)| a),
            ..Default::default()
        };
        let info = self
            .engine
            .commit_object(&input.bucket, &input.key, staged, attrs, condition)
            .await
            .map_err(to_s3)?;
        let mut out = PutObjectOutput {
            e_tag: Some(etag(&info.etag)),
            size: i64::try_from(info.size).ok(),
            expiration: self.expiration_of(&input.bucket, &info).await,
            version_id: version_header(&info.version_id),
            server_side_encryption: sse_out(info.attrs.sse.as_ref()),
            ssekms_key_id: kms_key_out(info.attrs.sse.as_ref()),
            sse_customer_algorithm: ssec_out(info.attrs.sse.as_ref()).0,
            sse_customer_key_md5: ssec_out(info.attrs.sse.as_ref()).1,
            ..Default::default()
        };
        if let Some(a) = expected.primary {
            set_checksums!(out, &info.attrs.checksums, Some(a));
            out.checksum_type = Some(dto_checksum_type(ChecksumType::FullObject));
        }
        Ok(S3Response::new(out))
    }

    pub(crate) async fn op_get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        refuse_sse_on_read(&req.headers)?;
        let input = req.input;
        let info = self
            .engine
            .object_at(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        let customer = self.customer_key(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        )?;
        let read_key = self.key_for_read(&info, customer)?;
        check_read_conditions(
            &info,
            Conditions {
                if_match: input.if_match.as_ref(),
                if_unmodified_since: input.if_unmodified_since.as_ref(),
                if_none_match: input.if_none_match.as_ref(),
                if_modified_since: input.if_modified_since.as_ref(),
            },
        )?;
        let plan = plan_read(&info, input.range.as_ref(), input.part_number)?;
        let lock = crate::object_lock_ops::headers_of(&info);
        let body = self
            .engine
            .open_read(&info, plan.start, plan.len, read_key)
            .await
            .map_err(to_s3)?;
        let h = &info.attrs.headers;
        let mut out = GetObjectOutput {
            body: Some(StreamingBlob::wrap(sync_wrapper::SyncStream::new(body))),
            accept_ranges: Some("bytes".into()),
            content_length: i64::try_from(plan.len).ok(),
            content_range: plan.content_range.clone(),
            parts_count: plan.parts_count,
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(ts(info.mtime_ms)),
            content_type: h.content_type.clone(),
            content_encoding: h.content_encoding.clone(),
            content_disposition: h.content_disposition.clone(),
            content_language: h.content_language.clone(),
            cache_control: h.cache_control.clone(),
            expires: h.expires.as_deref().and_then(parse_http_date),
            metadata: metadata_out(h),
            tag_count: (!info.attrs.tags.is_empty())
                .then(|| i32::try_from(info.attrs.tags.len()).unwrap_or(i32::MAX)),
            expiration: self.expiration_of(&input.bucket, &info).await,
            version_id: version_header(&info.version_id),
            object_lock_mode: lock.0,
            object_lock_retain_until_date: lock.1,
            object_lock_legal_hold_status: lock.2,
            server_side_encryption: sse_out(info.attrs.sse.as_ref()),
            ssekms_key_id: kms_key_out(info.attrs.sse.as_ref()),
            sse_customer_algorithm: ssec_out(info.attrs.sse.as_ref()).0,
            sse_customer_key_md5: ssec_out(info.attrs.sse.as_ref()).1,
            ..Default::default()
        };
        if input
            .checksum_mode
            .as_ref()
            .is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
        {
            if plan.whole {
                set_checksums!(out, &info.attrs.checksums, Some(shown_algorithm(&info)));
                out.checksum_type = Some(dto_checksum_type(checksum_type_out(&info)));
            } else if let Some(sums) = part_checksum(&info, input.part_number) {
                set_checksums!(out, &sums, info.attrs.checksum_algorithm);
                out.checksum_type = Some(dto_checksum_type(checksum_type_out(&info)));
            }
        }
        Ok(S3Response::new(out))
    }

    pub(crate) async fn op_head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        refuse_sse_on_read(&req.headers)?;
        let input = req.input;
        let info = self
            .engine
            .object_at(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        let customer = self.customer_key(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        )?;
        // HEAD needs the right key too, though it reads no bytes.
        self.key_for_read(&info, customer)?;
        check_read_conditions(
            &info,
            Conditions {
                if_match: input.if_match.as_ref(),
                if_unmodified_since: input.if_unmodified_since.as_ref(),
                if_none_match: input.if_none_match.as_ref(),
                if_modified_since: input.if_modified_since.as_ref(),
            },
        )?;
        let plan = plan_read(&info, input.range.as_ref(), input.part_number)?;
        let lock = crate::object_lock_ops::headers_of(&info);
        let h = &info.attrs.headers;
        let mut out = HeadObjectOutput {
            accept_ranges: Some("bytes".into()),
            content_length: i64::try_from(plan.len).ok(),
            content_range: plan.content_range.clone(),
            parts_count: plan.parts_count,
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(ts(info.mtime_ms)),
            content_type: h.content_type.clone(),
            content_encoding: h.content_encoding.clone(),
            content_disposition: h.content_disposition.clone(),
            content_language: h.content_language.clone(),
            cache_control: h.cache_control.clone(),
            expires: h.expires.as_deref().and_then(parse_http_date),
            metadata: metadata_out(h),
            object_lock_mode: lock.0,
            object_lock_retain_until_date: lock.1,
            object_lock_legal_hold_status: lock.2,
            server_side_encryption: sse_out(info.attrs.sse.as_ref()),
            ssekms_key_id: kms_key_out(info.attrs.sse.as_ref()),
            sse_customer_algorithm: ssec_out(info.attrs.sse.as_ref()).0,
            sse_customer_key_md5: ssec_out(info.attrs.sse.as_ref()).1,
            version_id: version_header(&info.version_id),
            expiration: self.expiration_of(&input.bucket, &info).await,
            ..Default::default()
        };
        if input
            .checksum_mode
            .as_ref()
            .is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
        {
            if plan.whole {
                set_checksums!(out, &info.attrs.checksums, Some(shown_algorithm(&info)));
                out.checksum_type = Some(dto_checksum_type(checksum_type_out(&info)));
            } else if let Some(sums) = part_checksum(&info, input.part_number) {
                set_checksums!(out, &sums, info.attrs.checksum_algorithm);
                out.checksum_type = Some(dto_checksum_type(checksum_type_out(&info)));
            }
        }
        let mut resp = S3Response::new(out);
        // HeadObjectOutput has no tag count; S3 sends it on HEAD as on GET.
        if !info.attrs.tags.is_empty() {
            resp.headers.insert(
                "x-amz-tagging-count",
                http::HeaderValue::from(info.attrs.tags.len()),
            );
        }
        // Response overrides apply to HEAD too.
        for (name, v) in [
            (http::header::CONTENT_TYPE, input.response_content_type),
            (
                http::header::CONTENT_LANGUAGE,
                input.response_content_language,
            ),
            (http::header::CACHE_CONTROL, input.response_cache_control),
            (
                http::header::CONTENT_DISPOSITION,
                input.response_content_disposition,
            ),
            (
                http::header::CONTENT_ENCODING,
                input.response_content_encoding,
            ),
        ] {
            if let Some(v) = v.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
                resp.headers.insert(name, v);
            }
        }
        Ok(resp)
    }

    pub(crate) async fn op_delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        if let Some(cond) = input.if_match.as_ref() {
            let info = self
                .engine
                .object_at(&input.bucket, &input.key, input.version_id.as_deref())
                .await
                .map_err(to_s3)?;
            if let ETagCondition::ETag(e) = cond
                && e.value() != info.etag
            {
                return Err(to_s3(EngineError::PreconditionFailed));
            }
        }
        let outcome = match input.version_id.as_deref() {
            Some(v) => {
                self.engine
                    .delete_version(
                        &input.bucket,
                        &input.key,
                        v,
                        input.bypass_governance_retention.unwrap_or(false),
                    )
                    .await
            }
            None => self.engine.delete_object(&input.bucket, &input.key).await,
        }
        .map_err(to_s3)?;
        let mut resp = S3Response::new(DeleteObjectOutput {
            delete_marker: outcome.delete_marker.then_some(true),
            version_id: outcome.version_id,
            ..Default::default()
        });
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }

    pub(crate) async fn op_delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        let objects = input.delete.objects;
        if objects.len() > 1000 {
            return Err(s3_err(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let caller = req.extensions.get::<Caller>().cloned();
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        let mut keys = Vec::new();
        for o in objects {
            // Every key is checked here, with the version action when the
            // entry names a version (Access checked only the bucket); a
            // denied key is reported, the others proceed.
            let action = if o.version_id.is_some() {
                "s3:DeleteObjectVersion"
            } else {
                "s3:DeleteObject"
            };
            let allowed = match &caller {
                Some(c) => {
                    self.authz
                        .check(c, action, &input.bucket, Some(&o.key))
                        .await
                }
                None => Err(s3_err(S3ErrorCode::AccessDenied, "Access Denied")),
            };
            if let Err(e) = validate_key(&o.key).map_err(to_s3).and(allowed) {
                errors.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    key: Some(o.key),
                    message: e.message().map(str::to_owned),
                    version_id: o.version_id,
                });
                continue;
            }
            if let Some(v) = o.version_id.as_deref()
                && let Err(e) = almacen_engine::validate_version_id(v).map_err(to_s3)
            {
                errors.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    key: Some(o.key),
                    message: e.message().map(str::to_owned),
                    version_id: o.version_id,
                });
                continue;
            }
            keys.push((o.key, o.version_id));
        }
        let outcomes = self
            .engine
            .delete_objects(
                &input.bucket,
                &keys,
                input.bypass_governance_retention.unwrap_or(false),
            )
            .await
            .map_err(to_s3)?;
        for ((key, asked), outcome) in keys.into_iter().zip(outcomes) {
            let outcome = match outcome {
                Ok(o) => o,
                Err(e) => {
                    let e = to_s3(e);
                    errors.push(Error {
                        code: Some(e.code().as_str().to_owned()),
                        key: Some(key),
                        message: e.message().map(str::to_owned),
                        version_id: asked,
                    });
                    continue;
                }
            };
            if !quiet {
                // A delete that made a marker names it; one that removed a
                // version names that version (and whether it was a marker).
                let made_marker = asked.is_none() && outcome.delete_marker;
                deleted.push(DeletedObject {
                    key: Some(key),
                    version_id: asked,
                    delete_marker: outcome.delete_marker.then_some(true),
                    delete_marker_version_id: if made_marker {
                        outcome.version_id
                    } else {
                        None
                    },
                });
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    /// Resolves `x-amz-copy-source` and checks the copy-source conditions.
    pub(crate) async fn copy_source(
        &self,
        source: &CopySource,
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
        if_modified_since: Option<&Timestamp>,
        if_unmodified_since: Option<&Timestamp>,
    ) -> S3Result<ObjectInfo> {
        let CopySource::Bucket {
            bucket,
            key,
            version_id,
        } = source
        else {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                "Copy from access points is not supported",
            ));
        };
        let info = self
            .engine
            .object_at(bucket, key, version_id.as_deref())
            .await
            .map_err(to_s3)?;
        let conditions = Conditions {
            if_match,
            if_unmodified_since,
            if_none_match,
            if_modified_since,
        };
        // Copies answer every failed condition with 412, never 304.
        if conditions.evaluate(&info) != Verdict::Proceed {
            return Err(precondition_failed());
        }
        Ok(info)
    }

    pub(crate) async fn op_copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        validate_key(&input.key).map_err(to_s3)?;
        let sse_req = self.sse_request(
            input.server_side_encryption.as_ref(),
            input.ssekms_key_id.as_ref(),
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        )?;
        let source_customer = self.customer_key(
            input.copy_source_sse_customer_algorithm.as_ref(),
            input.copy_source_sse_customer_key.as_ref(),
            input.copy_source_sse_customer_key_md5.as_ref(),
        )?;
        let src = self
            .copy_source(
                &input.copy_source,
                input.copy_source_if_match.as_ref(),
                input.copy_source_if_none_match.as_ref(),
                input.copy_source_if_modified_since.as_ref(),
                input.copy_source_if_unmodified_since.as_ref(),
            )
            .await?;
        let replace = match input
            .metadata_directive
            .as_ref()
            .map(MetadataDirective::as_str)
        {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(other) => {
                return Err(s3_err(
                    S3ErrorCode::InvalidArgument,
                    format!("Unknown metadata directive {other}"),
                ));
            }
        };
        // Copying a named older version onto its own key restores it; copying
        // the current version onto itself must change something.
        let names_version = matches!(
            &input.copy_source,
            CopySource::Bucket {
                version_id: Some(_),
                ..
            }
        );
        let same = src.bucket == input.bucket && src.key == input.key && !names_version;
        if same && !replace && input.checksum_algorithm.is_none() && input.storage_class.is_none() {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let headers = if replace {
            let h = content_headers(
                input.content_type,
                input.content_encoding,
                input.content_disposition,
                input.content_language,
                input.cache_control,
                input.expires.as_ref(),
                input.metadata,
            );
            h.check_size().map_err(to_s3)?;
            h
        } else {
            src.attrs.headers.clone()
        };
        let algorithm = crate::convert::algorithm(
            input
                .checksum_algorithm
                .as_ref()
                .map(ChecksumAlgorithm::as_str),
        )?
        .or(src.attrs.checksum_algorithm);
        let mut extra = almacen_engine::ChecksumSet::default();
        if let Some(a) = algorithm {
            extra.insert(a);
        }
        // Tags are copied unless the directive says REPLACE (then the header's).
        let tags = match input
            .tagging_directive
            .as_ref()
            .map(TaggingDirective::as_str)
        {
            None | Some("COPY") => src.attrs.tags.clone(),
            Some("REPLACE") => crate::tagging_ops::from_header(input.tagging.as_deref())?,
            Some(other) => {
                return Err(s3_err(
                    S3ErrorCode::InvalidArgument,
                    format!("Unknown tagging directive {other}"),
                ));
            }
        };
        // A copy does not copy the source's ACL: it gets the one requested.
        let (retention, legal_hold) = crate::object_lock_ops::from_headers(
            input.object_lock_mode.as_ref(),
            input.object_lock_retain_until_date.as_ref(),
            input.object_lock_legal_hold_status.as_ref(),
        )?;
        let config = self
            .engine
            .bucket_config(&input.bucket)
            .await
            .map_err(to_s3)?;
        let sse = self.sse_for_write(&input.bucket, &input.key, &sse_req, &config)?;
        let (seal, sse) = match sse {
            Some((k, a)) => (Some(k), Some(a)),
            None => (None, None),
        };
        let src_key = self.key_for_read(&src, source_customer)?;
        let attrs = ObjectAttrs {
            sse,
            headers,
            checksum_algorithm: algorithm,
            acl: crate::acl_ops::canned(input.acl.as_ref().map(ObjectCannedACL::as_str))?,
            tags,
            retention,
            legal_hold,
            ..Default::default()
        };
        let info = self
            .engine
            .copy_object(
                &src,
                &input.bucket,
                &input.key,
                attrs,
                extra,
                None,
                seal.as_ref(),
                src_key,
            )
            .await
            .map_err(to_s3)?;
        let mut result = CopyObjectResult {
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(ts(info.mtime_ms)),
            ..Default::default()
        };
        if let Some(a) = algorithm {
            set_checksums!(result, &info.attrs.checksums, Some(a));
            result.checksum_type = Some(dto_checksum_type(ChecksumType::FullObject));
        }
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(result),
            copy_source_version_id: version_header(&src.version_id),
            version_id: version_header(&info.version_id),
            server_side_encryption: sse_out(info.attrs.sse.as_ref()),
            ssekms_key_id: kms_key_out(info.attrs.sse.as_ref()),
            sse_customer_algorithm: ssec_out(info.attrs.sse.as_ref()).0,
            sse_customer_key_md5: ssec_out(info.attrs.sse.as_ref()).1,
            ..Default::default()
        }))
    }
}

impl Almacen {
    pub(crate) async fn op_get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let input = req.input;
        let info = self
            .engine
            .object_at(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        // SSE-C objects answer only to their key, as GET and HEAD do.
        self.key_for_read(
            &info,
            self.customer_key(
                input.sse_customer_algorithm.as_ref(),
                input.sse_customer_key.as_ref(),
                input.sse_customer_key_md5.as_ref(),
            )?,
        )?;
        // The header is a comma-separated list; take it apart whatever s3s split.
        let wants = |name: &str| {
            input
                .object_attributes
                .iter()
                .flat_map(|a| a.as_str().split(','))
                .any(|a| a.trim().eq_ignore_ascii_case(name))
        };
        let mut out = GetObjectAttributesOutput {
            last_modified: Some(ts(info.mtime_ms)),
            ..Default::default()
        };
        if wants(ObjectAttributes::ETAG) {
            out.e_tag = Some(etag(&info.etag));
        }
        if wants(ObjectAttributes::OBJECT_SIZE) {
            out.object_size = i64::try_from(info.size).ok();
        }
        if wants(ObjectAttributes::STORAGE_CLASS) {
            out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
        }
        if wants(ObjectAttributes::CHECKSUM) {
            let mut c = Checksum::default();
            set_checksums!(c, &info.attrs.checksums, Some(shown_algorithm(&info)));
            c.checksum_type = Some(dto_checksum_type(checksum_type_out(&info)));
            out.checksum = Some(c);
        }
        if wants(ObjectAttributes::OBJECT_PARTS) && info.parts_count().is_some() {
            let total = info.attrs.part_sizes.len();
            let max = crate::list_ops::page_size(input.max_parts, "max-parts")?;
            let after = usize::try_from(input.part_number_marker.unwrap_or(0)).unwrap_or(0);
            let alg = info.attrs.checksum_algorithm;
            let parts: Vec<ObjectPart> = info
                .attrs
                .part_sizes
                .iter()
                .enumerate()
                .skip(after)
                .take(max)
                .map(|(i, size)| {
                    let mut p = ObjectPart {
                        part_number: i32::try_from(i + 1).ok(),
                        size: i64::try_from(*size).ok(),
                        ..Default::default()
                    };
                    if let (Some(a), Some(sum)) = (
                        alg,
                        info.attrs.part_checksums.get(i).filter(|s| !s.is_empty()),
                    ) {
                        let mut c = almacen_engine::Checksums::default();
                        c.set(a, Some(sum.clone()));
                        set_checksums!(p, &c, Some(a));
                    }
                    p
                })
                .collect();
            let last = parts.last().and_then(|p| p.part_number);
            let truncated = after + parts.len() < total;
            out.object_parts = Some(GetObjectAttributesParts {
                is_truncated: Some(truncated),
                max_parts: i32::try_from(max).ok(),
                next_part_number_marker: if truncated { last } else { None },
                part_number_marker: input.part_number_marker,
                parts: Some(parts),
                total_parts_count: i32::try_from(total).ok(),
            });
        }
        Ok(S3Response::new(out))
    }
}

impl Almacen {
    /// Stages an upload body and checks it: the length against
    /// Content-Length, the digests against Content-MD5 and x-amz-checksum-*
    /// (headers, or trailers that exist only once the body ended). Shared by
    /// PutObject and UploadPart, so both paths check exactly the same things.
    // Issue 20 folds these into the engine's write plan.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn stage_upload(
        &self,
        body: Option<StreamingBlob>,
        content_length: Option<i64>,
        expected: &Expected,
        headers: &http::HeaderMap,
        trailers: Option<&s3s::TrailingHeaders>,
        limit: u64,
        seal: Option<&almacen_engine::ObjectKey>,
    ) -> S3Result<almacen_engine::Staged> {
        if headers
            .get("content-md5")
            .is_some_and(|v| v.as_bytes().trim_ascii().is_empty())
        {
            return Err(s3_err(
                S3ErrorCode::InvalidDigest,
                "The Content-MD5 you specified was invalid.",
            ));
        }
        if !headers.contains_key(http::header::CONTENT_LENGTH)
            && !headers.contains_key(http::header::TRANSFER_ENCODING)
        {
            return Err(s3_err(
                S3ErrorCode::MissingContentLength,
                "You must provide the Content-Length HTTP header.",
            ));
        }
        let body: almacen_engine::ByteStream = match body {
            Some(b) => Box::pin(b.map_err(std::io::Error::other)),
            None => Box::pin(futures::stream::empty()),
        };
        let staged = self
            .engine
            .stage_sealed(body, expected.set, limit, seal)
            .await
            .map_err(upload_err)?;
        // With aws-chunked bodies Content-Length counts the framing and
        // x-amz-decoded-content-length the object: a stream that ended early
        // (or ran long) must not become an object.
        if let Some(decoded) = headers.get("x-amz-decoded-content-length")
            && decoded
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                != Some(staged.size)
        {
            return Err(s3_err(
                S3ErrorCode::IncompleteBody,
                "You did not provide the number of bytes specified by the x-amz-decoded-content-length header.",
            ));
        }
        if let Some(len) = content_length
            && u64::try_from(len).ok() != Some(staged.size)
            && headers.get("x-amz-decoded-content-length").is_none()
        {
            return Err(s3_err(
                S3ErrorCode::IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            ));
        }
        expected.verify(&staged.digests, trailers)?;
        Ok(staged)
    }
}
