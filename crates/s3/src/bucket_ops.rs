//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use almacen_engine::EngineError;

use crate::convert::ts;
use crate::error::{s3_err, to_s3};
use crate::{Almacen, Caller};

impl Almacen {
    pub(crate) async fn op_list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        // Access puts the caller there for every request; without it, show nothing.
        let Some(caller) = req.extensions.get::<Caller>().cloned() else {
            return Err(s3_err(S3ErrorCode::AccessDenied, "Access Denied"));
        };
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = match input.max_buckets {
            None => usize::MAX,
            Some(n) if !(1..=10_000).contains(&n) => {
                return Err(s3_err(
                    S3ErrorCode::InvalidArgument,
                    "max-buckets must be between 1 and 10000",
                ));
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        // The continuation token is the last bucket name of the previous page.
        let after = input.continuation_token.clone().unwrap_or_default();
        let mut visible = Vec::new();
        let all = caller.identity.as_ref().is_some_and(|id| {
            id.is_root()
                || id.evaluate("s3:ListAllMyBuckets", "arn:aws:s3:::*", &caller.context)
                    == almacen_iam::Decision::Allow
        });
        for b in self.engine.list_buckets().await.map_err(to_s3)? {
            if !(b.name.starts_with(&prefix) && b.name > after) {
                continue;
            }
            if !self.authz.may_see_bucket(&caller, all, &b.name).await {
                continue;
            }
            visible.push(b);
        }
        let mut buckets: Vec<Bucket> = visible
            .into_iter()
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(ts(b.created_ms)),
                bucket_region: Some(b.region),
            })
            .collect();
        let next = (buckets.len() > max).then(|| {
            buckets.truncate(max);
            buckets.last().and_then(|b| b.name.clone())
        });
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(self.owner.clone()),
            continuation_token: next.flatten(),
            prefix: input.prefix,
        }))
    }

    pub(crate) async fn op_create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let input = req.input;
        let region = input
            .create_bucket_configuration
            .and_then(|c| c.location_constraint)
            .map(|l| l.as_str().to_owned())
            .filter(|l| !l.is_empty());
        if let Some(r) = &region
            && r != self.engine.region()
        {
            return Err(s3_err(
                S3ErrorCode::InvalidLocationConstraint,
                format!(
                    "The specified location-constraint {r} is not valid for this server (region {}).",
                    self.engine.region()
                ),
            ));
        }
        let acl = crate::acl_ops::canned(input.acl.as_ref().map(BucketCannedACL::as_str))?;
        let created = if input.object_lock_enabled_for_bucket == Some(true) {
            self.engine
                .create_locked_bucket(&input.bucket, region.as_deref())
                .await
        } else {
            self.engine
                .create_bucket(&input.bucket, region.as_deref())
                .await
        };
        match created {
            Ok(()) => {}
            // AWS keeps a legacy rule for us-east-1: re-creating a bucket you
            // own there answers 200 and changes nothing; every other region
            // answers BucketAlreadyOwnedByYou.
            Err(EngineError::BucketAlreadyOwnedByYou) if self.engine.region() == "us-east-1" => {}
            Err(e) => return Err(to_s3(e)),
        }
        if let Some(acl) = acl
            && acl != almacen_engine::CannedAcl::Private
        {
            self.engine
                .set_bucket_acl(&input.bucket, acl)
                .await
                .map_err(to_s3)?;
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{}", input.bucket)),
        }))
    }

    pub(crate) async fn op_head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let b = self.engine.bucket(&req.input.bucket).await.map_err(to_s3)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(b.region),
            ..Default::default()
        }))
    }

    pub(crate) async fn op_delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.engine
            .delete_bucket(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    pub(crate) async fn op_get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let b = self.engine.bucket(&req.input.bucket).await.map_err(to_s3)?;
        // us-east-1 is reported as an empty LocationConstraint, as AWS does.
        let location = (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: location,
        }))
    }
}

impl Almacen {
    pub(crate) async fn op_put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let input = req.input;
        self.engine
            .check_bucket(&input.bucket)
            .await
            .map_err(to_s3)?;
        if input.policy.len() > 20 * 1024 {
            return Err(s3_err(
                S3ErrorCode::MalformedPolicy,
                "Policies must be 20 KiB or smaller",
            ));
        }
        almacen_iam::Policy::parse_bucket_policy(&input.policy, &input.bucket)
            .map_err(|e| s3_err(S3ErrorCode::MalformedPolicy, e.to_string()))?;
        self.engine
            .set_bucket_policy(&input.bucket, Some(input.policy))
            .await
            .map_err(to_s3)?;
        Ok(S3Response::with_status(
            PutBucketPolicyOutput {},
            http::StatusCode::NO_CONTENT,
        ))
    }

    pub(crate) async fn op_get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let config = self
            .engine
            .bucket_config(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        let policy = config.policy.ok_or_else(|| {
            s3_err(
                S3ErrorCode::NoSuchBucketPolicy,
                "The bucket policy does not exist",
            )
        })?;
        Ok(S3Response::new(GetBucketPolicyOutput {
            policy: Some(policy),
        }))
    }

    pub(crate) async fn op_delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        self.engine
            .set_bucket_policy(&req.input.bucket, None)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::with_status(
            DeleteBucketPolicyOutput {},
            http::StatusCode::NO_CONTENT,
        ))
    }

    pub(crate) async fn op_get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        let config = self
            .engine
            .bucket_config(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        // Public when a policy statement or a canned ACL opens it to everyone.
        let policy_public = config.policy.as_deref().is_some_and(|doc| {
            almacen_iam::Policy::parse_bucket_policy(doc, &req.input.bucket)
                .is_ok_and(|p| p.is_public())
        });
        let public = policy_public
            || config
                .acl
                .is_some_and(almacen_engine::CannedAcl::public_read);
        Ok(S3Response::new(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus {
                is_public: Some(public),
            }),
        }))
    }
}
