//! Multipart uploads. Each part is its own blob and its own metadata row;
//! completing an upload writes no object bytes: the object row simply names
//! the part blobs in order.

use almacen_blob::{Algorithm, Checksums, Staged, StagedData};
use almacen_meta::{PartRow, UploadListQuery, UploadRow, WriteOp};
use md5::Digest as _;

use crate::{
    ChecksumType, Engine, EngineError, MIN_PART_SIZE, ObjectAttrs, ObjectInfo, PutCondition,
    UploadAttrs, now_ms, validate_key,
};

/// S3's limit on part numbers.
pub const MAX_PARTS: u32 = 10_000;

/// A multipart upload.
#[derive(Debug, Clone)]
pub struct UploadInfo {
    /// Bucket.
    pub bucket: String,
    /// Key of the object it creates.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// Initiation time, ms since the epoch.
    pub initiated_ms: i64,
    /// Headers and checksum settings for the final object.
    pub attrs: UploadAttrs,
}

impl UploadInfo {
    fn from_row(row: UploadRow) -> Result<Self, EngineError> {
        Ok(Self {
            attrs: UploadAttrs::decode(&row.attrs)?,
            bucket: row.bucket,
            key: row.key,
            upload_id: row.upload_id,
            initiated_ms: row.initiated_ms,
        })
    }
}

/// An uploaded part.
#[derive(Debug, Clone)]
pub struct PartInfo {
    /// Part number.
    pub number: u32,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Upload time, ms since the epoch.
    pub mtime_ms: i64,
    /// Checksums computed over the part.
    pub checksums: Checksums,
    blob: String,
}

impl PartInfo {
    fn from_row(row: PartRow) -> Self {
        Self {
            number: row.part_number,
            size: row.size,
            etag: row.etag,
            mtime_ms: row.mtime_ms,
            checksums: serde_json::from_slice(&row.attrs).unwrap_or_default(),
            blob: row.blob,
        }
    }
}

/// A part as named in CompleteMultipartUpload.
#[derive(Debug, Clone)]
pub struct CompletePart {
    /// Part number.
    pub number: u32,
    /// ETag as sent (quotes allowed).
    pub etag: String,
    /// Checksums the client sent for the part, if any.
    pub checksums: Checksums,
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"')
}

impl Engine {
    /// Starts a multipart upload; returns its id.
    ///
    /// # Errors
    /// `NoSuchBucket`, invalid key, metadata too large.
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        attrs: UploadAttrs,
    ) -> Result<String, EngineError> {
        validate_key(key)?;
        attrs.headers.check_size()?;
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        self.commit(vec![WriteOp::CreateUpload(UploadRow {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.clone(),
            initiated_ms: now_ms(),
            attrs: attrs.encode(),
        })])
        .await?;
        Ok(upload_id)
    }

    /// Looks an upload up.
    ///
    /// # Errors
    /// `NoSuchBucket`, `NoSuchUpload`.
    pub async fn upload(&self, bucket: &str, upload_id: &str) -> Result<UploadInfo, EngineError> {
        match self.meta.get_upload(bucket, upload_id).await? {
            Some(row) => UploadInfo::from_row(row),
            None => {
                self.check_bucket(bucket).await?;
                Err(EngineError::NoSuchUpload)
            }
        }
    }

    /// Stores a staged part, replacing an earlier part with the same number.
    ///
    /// # Errors
    /// `NoSuchUpload` (also when the upload ended meanwhile), invalid part number.
    pub async fn commit_part(
        &self,
        bucket: &str,
        upload_id: &str,
        number: u32,
        mut staged: Staged,
    ) -> Result<PartInfo, EngineError> {
        if !(1..=MAX_PARTS).contains(&number) {
            return Err(EngineError::InvalidArgument(format!(
                "Part number must be an integer between 1 and {MAX_PARTS}, inclusive"
            )));
        }
        // Parts are always files: completion names blobs, never inline bytes.
        if let StagedData::Inline(bytes) = &staged.data {
            // Written as they are: sealed bytes stay sealed; the plaintext
            // size and digests stay those of the part.
            let bytes = bytes.clone();
            let digests = staged.digests.clone();
            let plain_size = staged.size;
            staged = self.blobs.stage_bytes(bytes, staged.sealed).await?;
            staged.digests = digests;
            staged.size = plain_size;
        }
        let blob = self
            .blobs
            .publish(&mut staged)
            .await?
            .ok_or_else(|| EngineError::Internal("part was not staged to a file".into()))?;
        let row = PartRow {
            upload_id: upload_id.to_owned(),
            part_number: number,
            size: staged.size,
            etag: hex::encode(staged.digests.md5),
            mtime_ms: now_ms(),
            blob,
            attrs: serde_json::to_vec(&staged.digests.checksums).unwrap_or_default(),
        };
        let info = PartInfo::from_row(row.clone());
        let blob_id = row.blob.clone();
        self.commit_with_blob(
            vec![WriteOp::PutPart {
                bucket: bucket.to_owned(),
                row,
            }],
            Some(&blob_id),
        )
        .await?;
        Ok(info)
    }

    /// Parts numbered above `after`, at most `max`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<Vec<PartInfo>, EngineError> {
        Ok(self
            .meta
            .list_parts(upload_id, after, max)
            .await?
            .into_iter()
            .map(PartInfo::from_row)
            .collect())
    }

    /// Completes an upload: checks the named parts, computes the multipart
    /// ETag (`md5(concat(part md5s))-N`) and checksum, and commits the object.
    ///
    /// # Errors
    /// `NoSuchUpload`, `InvalidPart`, `InvalidPartOrder`, `EntityTooSmall`,
    /// `MalformedXml` (no parts), `PreconditionFailed`.
    pub async fn complete_upload(
        &self,
        upload: &UploadInfo,
        parts: &[CompletePart],
        condition: Option<PutCondition>,
        expected_size: Option<u64>,
        claimed: &Checksums,
    ) -> Result<ObjectInfo, EngineError> {
        if parts.is_empty() {
            return Err(EngineError::MalformedXml(
                "The XML you provided was not well-formed or did not validate against our published schema".into(),
            ));
        }
        if parts.windows(2).any(|w| w[0].number > w[1].number) {
            return Err(EngineError::InvalidPartOrder);
        }
        // A part number named twice (a part re-sent while the list was being
        // built): the last entry counts, as on AWS.
        let parts: Vec<&CompletePart> = parts
            .iter()
            .enumerate()
            .filter(|(i, p)| parts.get(i + 1).is_none_or(|next| next.number != p.number))
            .map(|(_, p)| p)
            .collect();
        let stored = self
            .list_parts(&upload.upload_id, 0, MAX_PARTS as usize)
            .await?;
        let mut chosen: Vec<&PartInfo> = Vec::with_capacity(parts.len());
        for p in &parts {
            let found = stored
                .iter()
                .find(|s| s.number == p.number)
                .filter(|s| s.etag == unquote(&p.etag));
            let Some(found) = found else {
                return Err(EngineError::InvalidPart(
                    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.".into(),
                ));
            };
            for (a, v) in p.checksums.iter() {
                if found.checksums.get(a).is_some_and(|mine| mine != v) {
                    return Err(EngineError::InvalidPart(format!(
                        "The {} checksum of part {} does not match the uploaded part",
                        a.name(),
                        p.number
                    )));
                }
            }
            chosen.push(found);
        }
        if chosen[..chosen.len() - 1]
            .iter()
            .any(|p| p.size < MIN_PART_SIZE)
        {
            return Err(EngineError::EntityTooSmall);
        }
        let size: u64 = chosen.iter().map(|p| p.size).sum();
        if let Some(expected) = expected_size
            && expected != size
        {
            return Err(EngineError::InvalidRequest(format!(
                "The provided 'x-amz-mp-object-size' header value {expected} does not match what was computed: {size}"
            )));
        }
        let config = self.bucket_config(&upload.bucket).await?;
        if let Some(rule) = config
            .upload_rules
            .as_deref()
            .and_then(|r| crate::rule_for(r, &upload.key))
        {
            // The first bytes of the object are the first bytes of its first
            // part: read as plaintext (SSE-S3 parts are sealed on disk). For
            // SSE-C only the client holds the key, so only the declared type
            // and the size can be checked.
            let first = chosen[0];
            let head_len = first.size.min(almacen_blob::HEAD_LEN as u64);
            let segment = vec![almacen_blob::Segment {
                blob: first.blob.clone(),
                size: first.size,
            }];
            let stream = match &upload.attrs.sse {
                None => Some(almacen_blob::read_segments(
                    &self.blobs,
                    segment,
                    0,
                    head_len,
                )),
                Some(sse) if !sse.is_customer_key() => {
                    let key = self.object_key(sse, &upload.bucket, &upload.key)?;
                    Some(almacen_blob::read_sealed_segments(
                        &self.blobs,
                        key,
                        segment,
                        0,
                        head_len,
                    ))
                }
                Some(_) => None,
            };
            match stream {
                Some(mut stream) => {
                    let mut head = Vec::new();
                    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
                        head.extend_from_slice(
                            &chunk.map_err(|e| EngineError::Internal(e.to_string()))?,
                        );
                    }
                    crate::upload_rules::check_upload(
                        rule,
                        upload.attrs.headers.content_type.as_deref(),
                        size,
                        &head,
                    )?;
                }
                None => crate::upload_rules::check_declared(
                    rule,
                    upload.attrs.headers.content_type.as_deref(),
                    Some(size),
                )?,
            }
        }
        let mut md5 = md5::Md5::new();
        for p in &chosen {
            md5.update(hex::decode(&p.etag).unwrap_or_default());
        }
        let n = chosen.len();
        let etag = format!("{}-{n}", hex::encode(md5.finalize()));

        let algorithm = upload
            .attrs
            .checksum_algorithm
            .unwrap_or(Algorithm::Crc64Nvme);
        let ctype = upload
            .attrs
            .checksum_type
            .unwrap_or(if algorithm == Algorithm::Crc64Nvme {
                ChecksumType::FullObject
            } else {
                ChecksumType::Composite
            });
        let mut checksums = Checksums::default();
        let raw: Option<Vec<Vec<u8>>> = chosen
            .iter()
            .map(|p| p.checksums.get_raw(algorithm))
            .collect();
        if let Some(raw) = raw {
            match ctype {
                ChecksumType::Composite => {
                    let joined: Vec<u8> = raw.concat();
                    let digest = algorithm.digest(&joined);
                    let b64 = {
                        let mut c = Checksums::default();
                        c.set_raw(algorithm, &digest);
                        c.get(algorithm).unwrap_or_default().to_owned()
                    };
                    checksums.set(algorithm, Some(format!("{b64}-{n}")));
                }
                ChecksumType::FullObject => {
                    let mut acc = raw[0].clone();
                    for (r, p) in raw.iter().zip(&chosen).skip(1) {
                        acc = algorithm.combine(&acc, r, p.size).ok_or_else(|| {
                            EngineError::InvalidRequest(format!(
                                "The {} checksum algorithm cannot form a full-object checksum",
                                algorithm.name()
                            ))
                        })?;
                    }
                    checksums.set_raw(algorithm, &acc);
                }
            }
        }
        let strip = |v: &str| v.split('-').next().unwrap_or_default().to_owned();
        for (a, v) in claimed.iter() {
            if checksums.get(a).is_some_and(|mine| strip(mine) != strip(v)) {
                return Err(EngineError::BadDigest(format!(
                    "The {} you specified did not match the calculated checksum.",
                    a.name()
                )));
            }
        }
        let part_checksums = if upload.attrs.checksum_algorithm.is_some() {
            chosen
                .iter()
                .map(|p| p.checksums.get(algorithm).unwrap_or_default().to_owned())
                .collect()
        } else {
            Vec::new()
        };
        let mut retention = upload.attrs.retention;
        Self::apply_lock_defaults(&config, &mut retention, upload.attrs.legal_hold)?;
        let attrs = ObjectAttrs {
            v: 0,
            headers: upload.attrs.headers.clone(),
            checksums,
            checksum_algorithm: upload.attrs.checksum_algorithm,
            checksum_type: Some(ctype),
            part_sizes: chosen.iter().map(|p| p.size).collect(),
            part_checksums,
            upload_id: Some(upload.upload_id.clone()),
            acl: upload.attrs.acl,
            tags: upload.attrs.tags.clone(),
            retention,
            legal_hold: upload.attrs.legal_hold,
            sse: upload.attrs.sse.clone(),
            sealed_meta: None,
        };
        let row = almacen_meta::ObjectRow {
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            version_id: Self::version_id_for(&config),
            delete_marker: false,
            size,
            etag,
            mtime_ms: now_ms(),
            attrs: self.encode_attrs(&upload.bucket, &upload.key, &attrs),
            inline: None,
            blobs: chosen.iter().map(|p| p.blob.clone()).collect(),
        };
        let used = chosen.iter().map(|p| (p.number, p.blob.clone())).collect();
        let info = self.info(row.clone())?;
        let mut ops = vec![WriteOp::CompleteUpload {
            upload_id: upload.upload_id.clone(),
            row,
            used,
            condition: condition.map(Into::into),
        }];
        ops.extend(crate::notify::event_ops(
            &config,
            &self.region,
            "s3:ObjectCreated:CompleteMultipartUpload",
            &crate::notify::EventObject {
                bucket: &upload.bucket,
                key: &upload.key,
                size: info.size,
                etag: &info.etag,
                version_id: &info.version_id,
            },
            self.listening(),
        ));
        self.commit(ops).await?;
        Ok(info)
    }

    /// Aborts an upload and releases its parts.
    ///
    /// # Errors
    /// `NoSuchUpload`.
    pub async fn abort_upload(&self, bucket: &str, upload_id: &str) -> Result<(), EngineError> {
        self.commit(vec![WriteOp::AbortUpload {
            bucket: bucket.to_owned(),
            upload_id: upload_id.to_owned(),
        }])
        .await
    }

    /// One page of uploads in progress.
    ///
    /// # Errors
    /// `NoSuchBucket`.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        query: UploadListQuery,
    ) -> Result<(Vec<UploadInfo>, Vec<String>, bool), EngineError> {
        self.check_bucket(bucket).await?;
        let page = self.meta.list_uploads(bucket, query).await?;
        let uploads = page
            .uploads
            .into_iter()
            .map(UploadInfo::from_row)
            .collect::<Result<_, _>>()?;
        Ok((uploads, page.common_prefixes, page.truncated))
    }
}
