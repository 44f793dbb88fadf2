//! Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts, ListMultipartUploads.

use almacen_engine::{
    Algorithm, ChecksumSet, Checksums, CompletePart, UploadAttrs, UploadListQuery, validate_key,
};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::Almacen;
use crate::convert::{Expected, algorithm, content_headers, etag, set_checksums, ts, url_encode};
use crate::error::{s3_err, to_s3};
use crate::object_ops::write_condition;

/// Largest part: 5 GiB.
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

fn checksum_type(
    t: Option<&s3s::dto::ChecksumType>,
) -> S3Result<Option<almacen_engine::ChecksumType>> {
    match t.map(s3s::dto::ChecksumType::as_str) {
        None => Ok(None),
        Some("COMPOSITE") => Ok(Some(almacen_engine::ChecksumType::Composite)),
        Some("FULL_OBJECT") => Ok(Some(almacen_engine::ChecksumType::FullObject)),
        Some(other) => Err(s3_err(
            S3ErrorCode::InvalidRequest,
            format!("Invalid checksum type {other}"),
        )),
    }
}

fn dto_type(t: almacen_engine::ChecksumType) -> s3s::dto::ChecksumType {
    s3s::dto::ChecksumType::from(t.name().to_owned())
}

fn upload_set(a: Option<Algorithm>) -> ChecksumSet {
    let mut s = ChecksumSet::default();
    if let Some(a) = a {
        s.insert(a);
    }
    s
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against the source size.
fn copy_range(range: Option<&str>, size: u64) -> S3Result<(u64, u64)> {
    let Some(r) = range else { return Ok((0, size)) };
    let bad = || {
        s3_err(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let spec = r.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let first: u64 = a.parse().map_err(|_| bad())?;
    let last: u64 = b.parse().map_err(|_| bad())?;
    if first > last {
        return Err(bad());
    }
    if last >= size {
        return Err(s3_err(
            S3ErrorCode::InvalidRange,
            format!("Range specified is not valid for source object of size: {size}"),
        ));
    }
    Ok((first, last - first + 1))
}

impl Almacen {
    /// The key that seals an upload's parts: the master-sealed key (SSE-S3)
    /// or, for SSE-C uploads, the key opened with the customer's key, which
    /// every UploadPart must send again.
    fn upload_key(
        &self,
        upload: &almacen_engine::UploadInfo,
        bucket: &str,
        key: &str,
        customer: Option<crate::object_ops::CustomerKey>,
    ) -> S3Result<Option<almacen_engine::ObjectKey>> {
        let Some(sse) = &upload.attrs.sse else {
            if customer.is_some() {
                return Err(s3_err(
                    S3ErrorCode::InvalidRequest,
                    "The encryption parameters are not applicable to this upload.",
                ));
            }
            return Ok(None);
        };
        if sse.is_customer_key() {
            let Some(c) = customer else {
                return Err(s3_err(
                    S3ErrorCode::InvalidRequest,
                    "The upload was started with SSE-C: every part must send the same customer key.",
                ));
            };
            if sse.customer_key_md5.as_deref() != Some(c.md5()) {
                return Err(s3_err(
                    S3ErrorCode::InvalidArgument,
                    "The customer key does not match the upload's.",
                ));
            }
            return self
                .engine
                .object_key_c(sse, bucket, key, c.raw())
                .map(Some)
                .map_err(to_s3);
        }
        self.engine
            .object_key(sse, bucket, key)
            .map(Some)
            .map_err(to_s3)
    }

    /// The CompleteMultipartUpload answer for a completed object, the same
    /// for the first completion and for a repeated one.
    fn completed(
        &self,
        headers: &http::HeaderMap,
        info: &almacen_engine::ObjectInfo,
    ) -> CompleteMultipartUploadOutput {
        let mut out = CompleteMultipartUploadOutput {
            bucket: Some(info.bucket.clone()),
            key: Some(info.key.clone()),
            e_tag: Some(etag(&info.etag)),
            location: Some(self.object_url(headers, &info.bucket, &info.key)),
            version_id: crate::object_ops::version_header(&info.version_id),
            server_side_encryption: crate::object_ops::sse_out(info.attrs.sse.as_ref()),
            ssekms_key_id: crate::object_ops::kms_key_out(info.attrs.sse.as_ref()),
            ..Default::default()
        };
        if let Some(a) = info.attrs.checksum_algorithm {
            set_checksums!(out, &info.attrs.checksums, Some(a));
            out.checksum_type = info.attrs.checksum_type.map(dto_type);
        }
        out
    }

    pub(crate) async fn op_create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        validate_key(&input.key).map_err(to_s3)?;
        let sse_req = self.sse_request(
            input.server_side_encryption.as_ref(),
            input.ssekms_key_id.as_ref(),
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        )?;
        let alg = algorithm(
            input
                .checksum_algorithm
                .as_ref()
                .map(ChecksumAlgorithm::as_str),
        )?;
        let ctype = checksum_type(input.checksum_type.as_ref())?;
        if ctype == Some(almacen_engine::ChecksumType::FullObject)
            && alg.is_some_and(|a| !a.combinable())
        {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "The FULL_OBJECT checksum type cannot be used with the SHA1 or SHA256 checksum algorithm.",
            ));
        }
        if ctype == Some(almacen_engine::ChecksumType::Composite)
            && alg == Some(Algorithm::Crc64Nvme)
        {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm.",
            ));
        }
        let (retention, legal_hold) = crate::object_lock_ops::from_headers(
            input.object_lock_mode.as_ref(),
            input.object_lock_retain_until_date.as_ref(),
            input.object_lock_legal_hold_status.as_ref(),
        )?;
        // One read of the bucket's configuration: default encryption and upload rule.
        let config = self
            .engine
            .bucket_config(&input.bucket)
            .await
            .map_err(to_s3)?;
        let sse = self
            .sse_for_write(&input.bucket, &input.key, &sse_req, &config)?
            .map(|(_, a)| a);
        let attrs = UploadAttrs {
            sse,
            headers: content_headers(
                input.content_type,
                input.content_encoding,
                input.content_disposition,
                input.content_language,
                input.cache_control,
                input.expires.as_ref(),
                input.metadata,
            ),
            checksum_algorithm: alg,
            checksum_type: ctype,
            acl: crate::acl_ops::canned(input.acl.as_ref().map(ObjectCannedACL::as_str))?,
            tags: crate::tagging_ops::from_header(input.tagging.as_deref())?,
            retention,
            legal_hold,
        };
        if let Some(rule) = config
            .upload_rules
            .as_deref()
            .and_then(|r| almacen_engine::rule_for(r, &input.key))
        {
            almacen_engine::check_declared(rule, attrs.headers.content_type.as_deref(), None)
                .map_err(to_s3)?;
        }
        let sse_header = crate::object_ops::sse_out(attrs.sse.as_ref());
        let kms_header = crate::object_ops::kms_key_out(attrs.sse.as_ref());
        let ssec_header = crate::object_ops::ssec_out(attrs.sse.as_ref());
        let upload_id = self
            .engine
            .create_upload(&input.bucket, &input.key, attrs)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            checksum_algorithm: input.checksum_algorithm,
            checksum_type: input.checksum_type,
            server_side_encryption: sse_header,
            ssekms_key_id: kms_header,
            sse_customer_algorithm: ssec_header.0,
            sse_customer_key_md5: ssec_header.1,
            ..Default::default()
        }))
    }

    async fn upload_for(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> S3Result<almacen_engine::UploadInfo> {
        let up = self.engine.upload(bucket, upload_id).await.map_err(to_s3)?;
        if up.key != key {
            return Err(to_s3(almacen_engine::EngineError::NoSuchUpload));
        }
        Ok(up)
    }

    pub(crate) async fn op_upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        let customer = self.customer_key(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        )?;
        let upload = self
            .upload_for(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let mut expected = Expected::from_request(
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
        if let Some(a) = upload.attrs.checksum_algorithm {
            expected.set.insert(a);
        }
        let part_number = u32::try_from(input.part_number).unwrap_or(0);
        if !(1..=10_000).contains(&part_number) {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            ));
        }
        let seal = self.upload_key(&upload, &input.bucket, &input.key, customer)?;
        let staged = self
            .stage_upload(
                input.body,
                input.content_length,
                &expected,
                &req.headers,
                req.trailing_headers.as_ref(),
                MAX_PART_SIZE,
                seal.as_ref(),
            )
            .await?;
        let part = self
            .engine
            .commit_part(&input.bucket, &input.upload_id, part_number, staged)
            .await
            .map_err(to_s3)?;
        let mut out = UploadPartOutput {
            e_tag: Some(etag(&part.etag)),
            server_side_encryption: crate::object_ops::sse_out(upload.attrs.sse.as_ref()),
            ssekms_key_id: crate::object_ops::kms_key_out(upload.attrs.sse.as_ref()),
            sse_customer_algorithm: crate::object_ops::ssec_out(upload.attrs.sse.as_ref()).0,
            sse_customer_key_md5: crate::object_ops::ssec_out(upload.attrs.sse.as_ref()).1,
            ..Default::default()
        };
        if let Some(a) = expected.primary.or(upload.attrs.checksum_algorithm) {
            set_checksums!(out, &part.checksums, Some(a));
        }
        Ok(S3Response::new(out))
    }

    pub(crate) async fn op_upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        let upload = self
            .upload_for(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let part_number = u32::try_from(input.part_number).unwrap_or(0);
        let src = self
            .copy_source(
                &input.copy_source,
                input.copy_source_if_match.as_ref(),
                input.copy_source_if_none_match.as_ref(),
                input.copy_source_if_modified_since.as_ref(),
                input.copy_source_if_unmodified_since.as_ref(),
            )
            .await?;
        let (start, len) = copy_range(input.copy_source_range.as_deref(), src.size)?;
        let src_key = self.key_for_read(
            &src,
            self.customer_key(
                input.copy_source_sse_customer_algorithm.as_ref(),
                input.copy_source_sse_customer_key.as_ref(),
                input.copy_source_sse_customer_key_md5.as_ref(),
            )?,
        )?;
        let body = self.engine.read_with(&src, start, len, src_key);
        let customer = self.customer_key(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        )?;
        let seal = self.upload_key(&upload, &input.bucket, &input.key, customer)?;
        let staged = self
            .engine
            .stage_sealed(
                body,
                upload_set(upload.attrs.checksum_algorithm),
                MAX_PART_SIZE,
                seal.as_ref(),
            )
            .await
            .map_err(to_s3)?;
        let part = self
            .engine
            .commit_part(&input.bucket, &input.upload_id, part_number, staged)
            .await
            .map_err(to_s3)?;
        let mut result = CopyPartResult {
            e_tag: Some(etag(&part.etag)),
            last_modified: Some(ts(part.mtime_ms)),
            ..Default::default()
        };
        if let Some(a) = upload.attrs.checksum_algorithm {
            set_checksums!(result, &part.checksums, Some(a));
        }
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(result),
            server_side_encryption: crate::object_ops::sse_out(upload.attrs.sse.as_ref()),
            ssekms_key_id: crate::object_ops::kms_key_out(upload.attrs.sse.as_ref()),
            sse_customer_algorithm: crate::object_ops::ssec_out(upload.attrs.sse.as_ref()).0,
            sse_customer_key_md5: crate::object_ops::ssec_out(upload.attrs.sse.as_ref()).1,
            ..Default::default()
        }))
    }

    pub(crate) async fn op_complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let condition = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
        let upload = match self
            .upload_for(&input.bucket, &input.key, &input.upload_id)
            .await
        {
            Ok(u) => u,
            Err(e) => {
                // Completing an upload that already completed answers as the first time did.
                if let Ok(info) = self.engine.object(&input.bucket, &input.key).await
                    && info.attrs.upload_id.as_deref() == Some(input.upload_id.as_str())
                {
                    return Ok(S3Response::new(self.completed(&req.headers, &info)));
                }
                return Err(e);
            }
        };
        let parts: Vec<CompletePart> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let checksums = Checksums {
                    crc32: p.checksum_crc32,
                    crc32c: p.checksum_crc32c,
                    crc64nvme: p.checksum_crc64nvme,
                    sha1: p.checksum_sha1,
                    sha256: p.checksum_sha256,
                };
                CompletePart {
                    number: p
                        .part_number
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(0),
                    etag: p.e_tag.map(|e| e.value().to_owned()).unwrap_or_default(),
                    checksums,
                }
            })
            .collect();
        let expected_size = input.mpu_object_size.and_then(|s| u64::try_from(s).ok());
        // A whole-object checksum the client sent must match before anything commits.
        let claimed = Checksums {
            crc32: input.checksum_crc32,
            crc32c: input.checksum_crc32c,
            crc64nvme: input.checksum_crc64nvme,
            sha1: input.checksum_sha1,
            sha256: input.checksum_sha256,
        };
        let info = self
            .engine
            .complete_upload(&upload, &parts, condition, expected_size, &claimed)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(self.completed(&req.headers, &info)))
    }

    pub(crate) async fn op_abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.upload_for(&input.bucket, &input.key, &input.upload_id)
            .await?;
        self.engine
            .abort_upload(&input.bucket, &input.upload_id)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(crate) async fn op_list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let upload = self
            .upload_for(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let max = crate::list_ops::page_size(input.max_parts, "max-parts")?;
        let after = u32::try_from(input.part_number_marker.unwrap_or(0)).unwrap_or(0);
        let mut parts = self
            .engine
            .list_parts(&input.upload_id, after, max + 1)
            .await
            .map_err(to_s3)?;
        let truncated = parts.len() > max;
        parts.truncate(max);
        let next = parts.last().map(|p| i32::try_from(p.number).unwrap_or(0));
        let alg = upload.attrs.checksum_algorithm;
        let out_parts = parts
            .iter()
            .map(|p| {
                let mut part = Part {
                    e_tag: Some(etag(&p.etag)),
                    last_modified: Some(ts(p.mtime_ms)),
                    part_number: i32::try_from(p.number).ok(),
                    size: i64::try_from(p.size).ok(),
                    ..Default::default()
                };
                if let Some(a) = alg {
                    set_checksums!(part, &p.checksums, Some(a));
                }
                part
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next,
            max_parts: i32::try_from(max).ok(),
            is_truncated: Some(truncated),
            parts: Some(out_parts),
            owner: Some(self.owner.clone()),
            initiator: Some(Initiator {
                display_name: self.owner.display_name.clone(),
                id: self.owner.id.clone(),
            }),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            checksum_algorithm: alg.map(|a| ChecksumAlgorithm::from(a.name().to_owned())),
            checksum_type: upload.attrs.checksum_type.map(dto_type),
            ..Default::default()
        }))
    }

    pub(crate) async fn op_list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let max = crate::list_ops::page_size(input.max_uploads, "max-uploads")?;
        let url = input
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == "url");
        let enc = |s: &str| if url { url_encode(s) } else { s.to_owned() };
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let (uploads, prefixes, truncated) = self
            .engine
            .list_uploads(
                &input.bucket,
                UploadListQuery {
                    prefix: input.prefix.clone().unwrap_or_default(),
                    key_marker: input.key_marker.clone().filter(|m| !m.is_empty()),
                    upload_id_marker: input.upload_id_marker.clone().filter(|m| !m.is_empty()),
                    delimiter: delimiter.clone(),
                    max,
                },
            )
            .await
            .map_err(to_s3)?;
        let next_key = uploads.last().map(|u| enc(&u.key));
        let next_id = uploads.last().map(|u| u.upload_id.clone());
        let list = uploads
            .into_iter()
            .map(|u| MultipartUpload {
                key: Some(enc(&u.key)),
                upload_id: Some(u.upload_id),
                initiated: Some(ts(u.initiated_ms)),
                owner: Some(self.owner.clone()),
                initiator: Some(Initiator {
                    display_name: self.owner.display_name.clone(),
                    id: self.owner.id.clone(),
                }),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                checksum_algorithm: u
                    .attrs
                    .checksum_algorithm
                    .map(|a| ChecksumAlgorithm::from(a.name().to_owned())),
                checksum_type: u.attrs.checksum_type.map(dto_type),
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: Some(enc(&input.prefix.unwrap_or_default())),
            delimiter: delimiter.as_deref().map(enc),
            key_marker: Some(input.key_marker.as_deref().map(enc).unwrap_or_default()),
            upload_id_marker: Some(input.upload_id_marker.unwrap_or_default()),
            next_key_marker: if truncated { next_key } else { None },
            next_upload_id_marker: if truncated { next_id } else { None },
            max_uploads: i32::try_from(max).ok(),
            is_truncated: Some(truncated),
            uploads: Some(list),
            common_prefixes: Some(
                prefixes
                    .iter()
                    .map(|p| CommonPrefix {
                        prefix: Some(enc(p)),
                    })
                    .collect(),
            ),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}
