//! Put/Get/DeleteBucketCors: the bucket's CORS rules, validated as S3 does.
//! Browsers' preflights and the headers on actual requests are answered by
//! [`crate::cors`].

use almacen_engine::CorsRule;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::Almacen;
use crate::error::{s3_err, to_s3};

/// The methods a CORS rule may allow.
const METHODS: &[&str] = &["GET", "PUT", "HEAD", "POST", "DELETE"];
/// S3's limit on rules per bucket.
const MAX_RULES: usize = 100;

fn invalid(msg: String) -> s3s::S3Error {
    s3_err(S3ErrorCode::InvalidRequest, msg)
}

/// Checks one DTO rule and turns it into the stored form.
fn rule_from_dto(r: CORSRule) -> S3Result<CorsRule> {
    for m in &r.allowed_methods {
        if !METHODS.contains(&m.as_str()) {
            return Err(invalid(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
    }
    for o in &r.allowed_origins {
        if o.matches('*').count() > 1 {
            return Err(invalid(format!(
                "AllowedOrigin \"{o}\" can not have more than one wildcard."
            )));
        }
    }
    let allowed_headers = r.allowed_headers.unwrap_or_default();
    for h in &allowed_headers {
        if h.matches('*').count() > 1 {
            return Err(invalid(format!(
                "AllowedHeader \"{h}\" can not have more than one wildcard."
            )));
        }
    }
    if r.allowed_methods.is_empty() || r.allowed_origins.is_empty() {
        return Err(s3_err(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    if r.id.as_ref().is_some_and(|id| id.len() > 255) {
        return Err(s3_err(
            S3ErrorCode::InvalidArgument,
            "The ID of a CORS rule can be up to 255 characters long",
        ));
    }
    Ok(CorsRule {
        id: r.id,
        allowed_origins: r.allowed_origins,
        allowed_methods: r.allowed_methods,
        allowed_headers,
        expose_headers: r.expose_headers.unwrap_or_default(),
        max_age_seconds: r.max_age_seconds,
    })
}

fn rule_to_dto(r: CorsRule) -> CORSRule {
    CORSRule {
        id: r.id,
        allowed_origins: r.allowed_origins,
        allowed_methods: r.allowed_methods,
        allowed_headers: (!r.allowed_headers.is_empty()).then_some(r.allowed_headers),
        expose_headers: (!r.expose_headers.is_empty()).then_some(r.expose_headers),
        max_age_seconds: r.max_age_seconds,
    }
}

impl Almacen {
    pub(crate) async fn op_put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let input = req.input;
        let rules = input.cors_configuration.cors_rules;
        if rules.is_empty() || rules.len() > MAX_RULES {
            return Err(s3_err(
                S3ErrorCode::MalformedXML,
                "A CORS configuration holds 1 to 100 rules",
            ));
        }
        let rules = rules
            .into_iter()
            .map(rule_from_dto)
            .collect::<S3Result<Vec<_>>>()?;
        self.engine
            .set_bucket_cors(&input.bucket, Some(rules))
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    pub(crate) async fn op_get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let config = self
            .engine
            .bucket_config(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        let rules = config.cors.ok_or_else(|| {
            s3_err(
                S3ErrorCode::NoSuchCORSConfiguration,
                "The CORS configuration does not exist",
            )
        })?;
        Ok(S3Response::new(GetBucketCorsOutput {
            cors_rules: Some(rules.into_iter().map(rule_to_dto).collect()),
        }))
    }

    pub(crate) async fn op_delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        self.engine
            .set_bucket_cors(&req.input.bucket, None)
            .await
            .map_err(to_s3)?;
        let mut resp = S3Response::new(DeleteBucketCorsOutput::default());
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }
}
