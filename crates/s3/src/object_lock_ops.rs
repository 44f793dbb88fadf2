//! Object lock over S3: Put/GetObjectLockConfiguration, Put/GetObjectRetention,
//! Put/GetObjectLegalHold, and the `x-amz-object-lock-*` headers of uploads
//! and reads. The rules themselves are the engine's (`almacen_engine::check_removable`).

use almacen_engine::{DefaultRetention, LockMode, ObjectInfo, ObjectLockConfig, Retention};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::Almacen;
use crate::convert::{ms, ts};
use crate::error::{malformed_xml, s3_err, to_s3};

fn mode_from(s: &str) -> S3Result<LockMode> {
    match s {
        "GOVERNANCE" => Ok(LockMode::Governance),
        "COMPLIANCE" => Ok(LockMode::Compliance),
        _ => Err(malformed_xml()),
    }
}

fn mode_name(m: LockMode) -> &'static str {
    match m {
        LockMode::Governance => "GOVERNANCE",
        LockMode::Compliance => "COMPLIANCE",
    }
}

fn now_ms() -> i64 {
    ms(&Timestamp::from(time::OffsetDateTime::now_utc()))
}

/// The retention and legal hold an upload asks for in its headers.
pub(crate) fn from_headers(
    mode: Option<&ObjectLockMode>,
    until: Option<&ObjectLockRetainUntilDate>,
    hold: Option<&ObjectLockLegalHoldStatus>,
) -> S3Result<(Option<Retention>, bool)> {
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(m), Some(u)) => {
            let until_ms = ms(u);
            if until_ms <= now_ms() {
                return Err(s3_err(
                    S3ErrorCode::InvalidArgument,
                    "The retain until date must be in the future!",
                ));
            }
            Some(Retention {
                mode: mode_from(m.as_str()).map_err(|_| {
                    s3_err(S3ErrorCode::InvalidArgument, "Unknown wormMode directive.")
                })?,
                until_ms,
            })
        }
        _ => {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    };
    let hold = match hold.map(ObjectLockLegalHoldStatus::as_str) {
        None | Some("OFF") => false,
        Some("ON") => true,
        Some(_) => {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                "Legal Hold must be either of 'ON' or 'OFF'",
            ));
        }
    };
    Ok((retention, hold))
}

/// The lock headers of a GET or HEAD answer.
pub(crate) fn headers_of(
    info: &ObjectInfo,
) -> (
    Option<ObjectLockMode>,
    Option<ObjectLockRetainUntilDate>,
    Option<ObjectLockLegalHoldStatus>,
) {
    let r = info.attrs.retention;
    (
        r.map(|r| ObjectLockMode::from(mode_name(r.mode).to_owned())),
        r.map(|r| ts(r.until_ms)),
        info.attrs
            .legal_hold
            .then(|| ObjectLockLegalHoldStatus::from("ON".to_owned())),
    )
}

impl Almacen {
    /// The version a retention or legal-hold call names, in a lock bucket.
    async fn locked_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<ObjectInfo> {
        self.engine.require_lock(bucket).await.map_err(to_s3)?;
        self.engine
            .object_at(bucket, key, version_id)
            .await
            .map_err(to_s3)
    }

    pub(crate) async fn op_put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        let input = req.input;
        let conf = input.object_lock_configuration.ok_or_else(malformed_xml)?;
        if conf
            .object_lock_enabled
            .as_ref()
            .map(ObjectLockEnabled::as_str)
            != Some("Enabled")
        {
            return Err(malformed_xml());
        }
        let default_retention = match conf.rule.and_then(|r| r.default_retention) {
            None => None,
            Some(d) => {
                let mode = mode_from(d.mode.as_ref().map_or("", ObjectLockRetentionMode::as_str))?;
                match (d.days, d.years) {
                    (Some(_), Some(_)) | (None, None) => return Err(malformed_xml()),
                    (Some(n), None) | (None, Some(n)) if n <= 0 => {
                        let mut err = s3_err(
                            S3ErrorCode::Custom("InvalidRetentionPeriod".into()),
                            "Default retention period must be a positive integer value.",
                        );
                        err.set_status_code(http::StatusCode::BAD_REQUEST);
                        return Err(err);
                    }
                    _ => {}
                }
                Some(DefaultRetention {
                    mode,
                    days: d.days,
                    years: d.years,
                })
            }
        };
        self.engine
            .set_object_lock(&input.bucket, ObjectLockConfig { default_retention })
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }

    pub(crate) async fn op_get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        let conf = self
            .engine
            .object_lock(&req.input.bucket)
            .await
            .map_err(to_s3)?
            .ok_or_else(|| {
                s3_err(
                    S3ErrorCode::ObjectLockConfigurationNotFoundError,
                    "Object Lock configuration does not exist for this bucket",
                )
            })?;
        Ok(S3Response::new(GetObjectLockConfigurationOutput {
            object_lock_configuration: Some(ObjectLockConfiguration {
                object_lock_enabled: Some(ObjectLockEnabled::from("Enabled".to_owned())),
                rule: conf.default_retention.map(|d| ObjectLockRule {
                    default_retention: Some(s3s::dto::DefaultRetention {
                        mode: Some(ObjectLockRetentionMode::from(mode_name(d.mode).to_owned())),
                        days: d.days,
                        years: d.years,
                    }),
                }),
            }),
        }))
    }

    pub(crate) async fn op_put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        let input = req.input;
        let retention = match input.retention {
            None => None,
            Some(r) => match (r.mode, r.retain_until_date) {
                (None, None) => None,
                (Some(m), Some(u)) => {
                    let until_ms = ms(&u);
                    if until_ms <= now_ms() {
                        return Err(s3_err(
                            S3ErrorCode::InvalidArgument,
                            "The retain until date must be in the future!",
                        ));
                    }
                    Some(Retention {
                        mode: mode_from(m.as_str())?,
                        until_ms,
                    })
                }
                _ => return Err(malformed_xml()),
            },
        };
        let info = self
            .locked_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await?;
        self.engine
            .set_retention(
                &info,
                retention,
                input.bypass_governance_retention.unwrap_or(false),
            )
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutObjectRetentionOutput::default()))
    }

    pub(crate) async fn op_get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        let input = req.input;
        let info = self
            .locked_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await?;
        let r = info.attrs.retention.ok_or_else(|| {
            s3_err(
                S3ErrorCode::NoSuchObjectLockConfiguration,
                "The specified object does not have a ObjectLock configuration",
            )
        })?;
        Ok(S3Response::new(GetObjectRetentionOutput {
            retention: Some(ObjectLockRetention {
                mode: Some(ObjectLockRetentionMode::from(mode_name(r.mode).to_owned())),
                retain_until_date: Some(ts(r.until_ms)),
            }),
        }))
    }

    pub(crate) async fn op_put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        let input = req.input;
        let on = match input
            .legal_hold
            .and_then(|h| h.status)
            .as_ref()
            .map(ObjectLockLegalHoldStatus::as_str)
        {
            Some("ON") => true,
            Some("OFF") => false,
            _ => return Err(malformed_xml()),
        };
        let info = self
            .locked_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await?;
        self.engine.set_legal_hold(&info, on).await.map_err(to_s3)?;
        Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
    }

    pub(crate) async fn op_get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        let input = req.input;
        let info = self
            .locked_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await?;
        Ok(S3Response::new(GetObjectLegalHoldOutput {
            legal_hold: Some(ObjectLockLegalHold {
                status: Some(ObjectLockLegalHoldStatus::from(
                    if info.attrs.legal_hold { "ON" } else { "OFF" }.to_owned(),
                )),
            }),
        }))
    }
}
