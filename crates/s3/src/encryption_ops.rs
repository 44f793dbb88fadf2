//! Put/Get/DeleteBucketEncryption: a bucket's default encryption, SSE-S3
//! (`AES256`) or SSE-KMS (`aws:kms` with the configured key); new objects
//! of a bucket with the default are encrypted as if they asked for it.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::Almacen;
use crate::error::{malformed_xml, s3_err, to_s3};

impl Almacen {
    pub(crate) async fn op_put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let input = req.input;
        let rules = input.server_side_encryption_configuration.rules;
        let [rule] = rules.as_slice() else {
            return Err(malformed_xml());
        };
        let by_default = rule
            .apply_server_side_encryption_by_default
            .as_ref()
            .ok_or_else(malformed_xml)?;
        let algorithm = by_default.sse_algorithm.as_str();
        if !matches!(algorithm, "AES256" | "aws:kms") {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                format!("The encryption method specified is not supported: {algorithm}"),
            ));
        }
        self.engine
            .set_bucket_encryption(
                &input.bucket,
                Some(algorithm.to_owned()),
                by_default.kms_master_key_id.as_deref(),
            )
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketEncryptionOutput::default()))
    }

    pub(crate) async fn op_get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let config = self
            .engine
            .bucket_config(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        let algorithm = config.encryption.ok_or_else(|| {
            s3_err(
                S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError,
                "The server side encryption configuration was not found",
            )
        })?;
        Ok(S3Response::new(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
                rules: vec![ServerSideEncryptionRule {
                    apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                        kms_master_key_id: None,
                        sse_algorithm: ServerSideEncryption::from(algorithm),
                    }),
                    bucket_key_enabled: None,
                }],
            }),
        }))
    }

    pub(crate) async fn op_delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        self.engine
            .set_bucket_encryption(&req.input.bucket, None, None)
            .await
            .map_err(to_s3)?;
        let mut resp = S3Response::new(DeleteBucketEncryptionOutput::default());
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }
}
