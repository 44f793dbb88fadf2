//! What can go wrong managing identities; the admin API maps each variant
//! to an HTTP status in one place.

use almacen_meta::MetaError;

use crate::PolicyError;

/// Errors of [`crate::IamStore`] operations, worded for the administrator.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// No user of that name.
    #[error("The specified user does not exist: {0}")]
    NoSuchUser(String),
    /// No group of that name.
    #[error("The specified group does not exist: {0}")]
    NoSuchGroup(String),
    /// No policy of that name.
    #[error("The specified policy does not exist: {0}")]
    NoSuchPolicy(String),
    /// No service account with that access key.
    #[error("The specified service account does not exist: {0}")]
    NoSuchServiceAccount(String),
    /// The name or access key is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// A name, access key or secret breaks the rules.
    #[error("{0}")]
    InvalidArgument(String),
    /// The policy document does not parse or validate.
    #[error("Malformed policy: {0}")]
    MalformedPolicy(#[from] PolicyError),
    /// The policy is attached to users or groups and cannot be removed.
    #[error("The policy {0} is attached to {1}; detach it first")]
    PolicyInUse(String, String),
    /// Built-in policies cannot be changed or removed.
    #[error("{0} is a built-in policy and cannot be changed or removed")]
    BuiltIn(String),
    /// The group still has members.
    #[error("The group {0} still has members; remove them first")]
    GroupNotEmpty(String),
    /// The caller may not do this (e.g. a service account creating another).
    #[error("{0}")]
    Forbidden(String),
    /// The metadata store failed.
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
    /// A stored entry is unreadable.
    #[error("corrupt IAM entry {0}")]
    Corrupt(String),
}

/// Why an access key cannot sign requests. Callers answer all of these with
/// S3's InvalidAccessKeyId and the message, never with more detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Unknown access key, or an expired service account.
    #[error("The Access Key Id you provided does not exist in our records.")]
    Unknown,
    /// The user, its service account, or the parent user is disabled.
    #[error("Your account is disabled; please contact your administrator.")]
    Disabled,
    /// The secret was sealed under another root secret or master key.
    #[error(
        "The Access Key Id you provided cannot be used: its secret is sealed under another key."
    )]
    Unreadable,
}
