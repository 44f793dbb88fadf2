//! ACLs, kept as canned ACLs only: `private`, `public-read`,
//! `public-read-write` (buckets), `authenticated-read`, and the
//! bucket-owner forms for objects. Explicit grant lists are accepted when
//! they say exactly what a canned ACL says (owner FULL_CONTROL, plus
//! AllUsers READ and WRITE); anything else is refused rather than dropped.
//! `crate::auth::Access` turns the public forms into anonymous access.

use almacen_engine::CannedAcl;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::Almacen;
use crate::error::{s3_err, to_s3};

/// The group URI AWS uses for "everyone".
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// Parses an `x-amz-acl` value.
pub(crate) fn canned(value: Option<&str>) -> S3Result<Option<CannedAcl>> {
    match value {
        None => Ok(None),
        Some(v) => CannedAcl::parse(v).map(Some).ok_or_else(|| {
            s3_err(
                S3ErrorCode::InvalidArgument,
                format!("Unknown canned ACL {v}"),
            )
        }),
    }
}

fn unsupported() -> s3s::S3Error {
    s3_err(
        S3ErrorCode::NotImplemented,
        "Only canned ACLs (private, public-read, public-read-write, authenticated-read) are supported; use bucket policies for finer grants",
    )
}

/// The `x-amz-grant-*` headers of an ACL request.
struct GrantHeaders<'a> {
    full_control: Option<&'a str>,
    read: Option<&'a str>,
    write: Option<&'a str>,
    read_acp: Option<&'a str>,
    write_acp: Option<&'a str>,
}

impl GrantHeaders<'_> {
    fn any(&self) -> bool {
        self.full_control.is_some()
            || self.read.is_some()
            || self.write.is_some()
            || self.read_acp.is_some()
            || self.write_acp.is_some()
    }
}

/// The grant headers of a PutBucketAcl or PutObjectAcl input (same fields).
macro_rules! grant_headers {
    ($i:expr) => {
        GrantHeaders {
            full_control: $i.grant_full_control.as_deref(),
            read: $i.grant_read.as_deref(),
            write: $i.grant_write.as_deref(),
            read_acp: $i.grant_read_acp.as_deref(),
            write_acp: $i.grant_write_acp.as_deref(),
        }
    };
}

/// Whether a grantee is everyone (the AllUsers group).
fn grantee_is_all_users(uri: Option<&str>) -> bool {
    uri == Some(ALL_USERS)
}

impl Almacen {
    /// The canned ACL an ACL request amounts to, or an error for grants a
    /// canned ACL cannot express.
    fn requested_acl(
        &self,
        canned_value: Option<&str>,
        body: Option<&AccessControlPolicy>,
        headers: &GrantHeaders<'_>,
    ) -> S3Result<CannedAcl> {
        let exclusive = usize::from(canned_value.is_some())
            + usize::from(body.is_some())
            + usize::from(headers.any());
        if exclusive > 1 {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "Specify an ACL in only one way: x-amz-acl, x-amz-grant-* headers, or a request body",
            ));
        }
        if let Some(c) = canned(canned_value)? {
            return Ok(c);
        }
        let (mut read, mut write) = (false, false);
        if headers.any() {
            if headers.read_acp.is_some() || headers.write_acp.is_some() {
                return Err(unsupported());
            }
            let all = |h: Option<&str>| h.is_some_and(|v| v.contains(ALL_USERS));
            let owner_only = |h: Option<&str>| {
                h.is_none_or(|v| {
                    self.owner
                        .id
                        .as_deref()
                        .is_some_and(|id| v == format!("id={id}") || v == format!("id=\"{id}\""))
                })
            };
            if !owner_only(headers.full_control) {
                return Err(unsupported());
            }
            read = all(headers.read);
            write = all(headers.write);
            if (headers.read.is_some() && !read) || (headers.write.is_some() && !write) {
                return Err(unsupported());
            }
        } else if let Some(body) = body {
            for g in body.grants.as_deref().unwrap_or_default() {
                let perm = g.permission.as_ref().map(Permission::as_str);
                let grantee = g.grantee.as_ref();
                let is_owner = grantee.is_some_and(|ge| ge.id.is_some() && ge.id == self.owner.id);
                let is_all = grantee.is_some_and(|ge| grantee_is_all_users(ge.uri.as_deref()));
                match (perm, is_owner, is_all) {
                    (Some(Permission::FULL_CONTROL), true, _) => {}
                    (Some(Permission::READ), _, true) => read = true,
                    (Some(Permission::WRITE), _, true) => write = true,
                    _ => return Err(unsupported()),
                }
            }
        }
        Ok(match (read, write) {
            (false, false) => CannedAcl::Private,
            (true, false) => CannedAcl::PublicRead,
            (_, true) => CannedAcl::PublicReadWrite,
        })
    }

    /// The grants an ACL amounts to: the owner's FULL_CONTROL, plus
    /// AllUsers READ/WRITE for the public forms.
    fn grants(&self, acl: Option<CannedAcl>) -> Vec<Grant> {
        let mut grants = vec![Grant {
            grantee: Some(Grantee {
                display_name: self.owner.display_name.clone(),
                email_address: None,
                id: self.owner.id.clone(),
                type_: Type::from_static(Type::CANONICAL_USER),
                uri: None,
            }),
            permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
        }];
        let all = |perm: &'static str| Grant {
            grantee: Some(Grantee {
                display_name: None,
                email_address: None,
                id: None,
                type_: Type::from_static(Type::GROUP),
                uri: Some(ALL_USERS.to_owned()),
            }),
            permission: Some(Permission::from_static(perm)),
        };
        let acl = acl.unwrap_or(CannedAcl::Private);
        if acl.public_read() {
            grants.push(all(Permission::READ));
        }
        if acl.public_write() {
            grants.push(all(Permission::WRITE));
        }
        grants
    }

    pub(crate) async fn op_get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let info = self
            .engine
            .object_at(
                &req.input.bucket,
                &req.input.key,
                req.input.version_id.as_deref(),
            )
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetObjectAclOutput {
            grants: Some(self.grants(info.attrs.acl)),
            owner: Some(self.owner.clone()),
            ..Default::default()
        }))
    }

    pub(crate) async fn op_get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        let config = self
            .engine
            .bucket_config(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(GetBucketAclOutput {
            grants: Some(self.grants(config.acl)),
            owner: Some(self.owner.clone()),
        }))
    }

    pub(crate) async fn op_put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let i = req.input;
        let info = self
            .engine
            .object_at(&i.bucket, &i.key, i.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        let acl = self.requested_acl(
            i.acl.as_ref().map(ObjectCannedACL::as_str),
            i.access_control_policy.as_ref(),
            &grant_headers!(i),
        )?;
        self.engine
            .set_object_acl(&info, acl)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    pub(crate) async fn op_put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let i = req.input;
        self.engine.check_bucket(&i.bucket).await.map_err(to_s3)?;
        let acl = self.requested_acl(
            i.acl.as_ref().map(BucketCannedACL::as_str),
            i.access_control_policy.as_ref(),
            &grant_headers!(i),
        )?;
        self.engine
            .set_bucket_acl(&i.bucket, acl)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketAclOutput::default()))
    }
}
