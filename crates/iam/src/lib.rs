//! Identities and access policies: users, groups, service accounts and
//! named policies ([`IamStore`]), and policies in AWS IAM JSON: parsing with validation that reports
//! what is wrong and where, and evaluation with AWS's rules (an explicit
//! Deny wins; otherwise an Allow is needed).
//!
//! This crate knows nothing of HTTP or S3 requests: the S3 front describes a
//! request as a [`Request`] (action, resource ARN, principal, condition
//! keys) and asks a [`Policy`] for a [`Decision`].
#![forbid(unsafe_code)]

mod canned;
mod condition;
mod error;
mod glob;
mod policy;
mod seal;
mod store;

pub use canned::{CANNED_POLICIES, canned_policy};
pub use condition::Context;
pub use error::{AuthError, IamError};
pub use policy::{
    ADMIN_ACTIONS, Decision, Effect, Policy, PolicyError, Principal, Request, Statement,
};
pub use seal::Sealer;
pub use store::{
    Credentials, GroupInfo, IamStore, Identity, Kind, NewServiceAccount, PolicyInfo,
    ServiceAccountInfo, Status, Target, UserInfo, combine,
};
