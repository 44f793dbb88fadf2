//! Authentication and authorization hooks for s3s.
//!
//! s3s verifies SigV4/SigV2 signatures (header, presigned query, chunked
//! bodies) with the secret this module hands it; this module decides who
//! exists and what they may do. In this version only the root credentials
//! exist and they may do everything; unsigned requests are denied.
//! IAM users and policies plug in here (see the access-control issue).

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

/// Longest validity of a presigned URL: 7 days, as AWS.
const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// The root credentials from the environment.
#[derive(Clone)]
pub struct RootAuth {
    access_key: String,
    secret_key: String,
}

impl RootAuth {
    /// Root credentials; the secret is never logged.
    #[must_use]
    pub fn new(access_key: String, secret_key: String) -> Self {
        Self {
            access_key,
            secret_key,
        }
    }
}

impl std::fmt::Debug for RootAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootAuth")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl S3Auth for RootAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        use subtle::ConstantTimeEq as _;
        if bool::from(access_key.as_bytes().ct_eq(self.access_key.as_bytes())) {
            Ok(SecretKey::from(self.secret_key.clone()))
        } else {
            Err(s3_error!(
                InvalidAccessKeyId,
                "The Access Key Id you provided does not exist in our records."
            ))
        }
    }
}

/// Authorization: authenticated requests pass, anonymous ones are denied.
#[derive(Debug, Clone, Default)]
pub struct RootAccess;

#[async_trait::async_trait]
impl S3Access for RootAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if let Some(q) = cx.uri().query()
            && let Some(expires) = q
                .split('&')
                .find_map(|kv| kv.strip_prefix("X-Amz-Expires="))
        {
            match expires.parse::<u64>() {
                Ok(v) if v <= MAX_PRESIGNED_EXPIRES => {}
                _ => {
                    return Err(s3_error!(
                        AuthorizationQueryParametersError,
                        "X-Amz-Expires must be less than a week (in seconds) that is 604800"
                    ));
                }
            }
        }
        match cx.credentials() {
            Some(_) => Ok(()),
            None => Err(s3_error!(AccessDenied, "Access Denied")),
        }
    }
}
