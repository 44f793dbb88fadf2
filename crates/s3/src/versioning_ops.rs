//! Put/GetBucketVersioning. What versioning does to writes, reads and
//! listings lives in the engine (`almacen_engine::VersioningStatus`).

use almacen_engine::VersioningStatus;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::Almacen;
use crate::error::{s3_err, to_s3};

impl Almacen {
    pub(crate) async fn op_put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let input = req.input;
        let config = input.versioning_configuration;
        if config
            .mfa_delete
            .as_ref()
            .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
        {
            return Err(s3_err(
                S3ErrorCode::NotImplemented,
                "MFA Delete is not supported",
            ));
        }
        let status = match config.status.as_ref().map(BucketVersioningStatus::as_str) {
            Some("Enabled") => VersioningStatus::Enabled,
            Some("Suspended") => VersioningStatus::Suspended,
            _ => {
                return Err(s3_err(
                    S3ErrorCode::MalformedXML,
                    "The XML you provided was not well-formed or did not validate against our published schema",
                ));
            }
        };
        self.engine
            .set_bucket_versioning(&input.bucket, status)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    pub(crate) async fn op_get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let status = self
            .engine
            .versioning(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetBucketVersioningOutput {
            status: status.map(|s| {
                BucketVersioningStatus::from(
                    match s {
                        VersioningStatus::Enabled => "Enabled",
                        VersioningStatus::Suspended => "Suspended",
                    }
                    .to_owned(),
                )
            }),
            ..Default::default()
        }))
    }
}
