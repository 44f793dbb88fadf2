//! Access policies in AWS IAM JSON: parsing with validation that reports
//! what is wrong and where, and evaluation with AWS's rules (an explicit
//! Deny wins; otherwise an Allow is needed).
//!
//! This crate knows nothing of HTTP or S3 requests: the S3 front describes a
//! request as a [`Request`] (action, resource ARN, principal, condition
//! keys) and asks a [`Policy`] for a [`Decision`].
#![forbid(unsafe_code)]

mod condition;
mod glob;
mod policy;

pub use condition::Context;
pub use policy::{Decision, Effect, Policy, PolicyError, Principal, Request, Statement};
