//! One decoded admin call and what it takes to be allowed, and the JSON
//! bodies the calls accept.

use almacen_iam::{Context, Decision, IamError, Identity, Kind, Status};
use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Deserialize;

use super::{Reply, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SecretBody {
    pub(super) secret_key: String,
    /// Change the secret of an existing user.
    #[serde(default)]
    pub(super) update: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusBody {
    pub(super) status: Status,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MembersBody {
    #[serde(default)]
    pub(super) add: Vec<String>,
    #[serde(default)]
    pub(super) remove: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AttachmentBody {
    pub(super) attach: bool,
    pub(super) policies: Vec<String>,
    pub(super) user: Option<String>,
    pub(super) group: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceAccountBody {
    pub(super) parent: Option<String>,
    pub(super) access_key: Option<String>,
    pub(super) secret_key: Option<String>,
    pub(super) policy: Option<serde_json::Value>,
    pub(super) expires_ms: Option<i64>,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
}

/// One decoded admin call.
pub(super) struct Call<'a> {
    pub(super) method: &'a Method,
    pub(super) segments: Vec<String>,
    pub(super) query: Option<&'a str>,
    pub(super) body: Bytes,
    pub(super) identity: Identity,
    /// The request's condition keys.
    pub(super) context: Context,
}

impl Call<'_> {
    /// Requires root or an identity policy allowing `action` with the
    /// request's condition keys.
    pub(super) fn require(&self, action: &str) -> Result<()> {
        let allowed = self.identity.is_root()
            || self
                .identity
                .evaluate(action, "arn:aws:s3:::*", &self.context)
                == Decision::Allow;
        if allowed {
            Ok(())
        } else {
            Err(Reply::error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!("Access Denied: {action} is not allowed"),
            ))
        }
    }

    /// Like [`Call::require`], but a user may always act on its own
    /// service accounts.
    pub(super) fn require_for_service_account(&self, action: &str, parent: &str) -> Result<()> {
        if self.identity.kind == Kind::User && self.identity.user == parent {
            return Ok(());
        }
        self.require(action)
    }

    pub(super) fn query(&self, name: &str) -> Option<String> {
        crate::query::Query::parse(self.query?)
            .get(name)
            .map(str::to_owned)
    }

    /// Requires the right to create a key acting as `parent`: a user for
    /// itself; root alone under root; for another user also the rights to
    /// create users and attach policies (with which the caller could give
    /// itself that user's rights anyway).
    pub(super) fn require_key_creation(&self, parent: &str, root_access_key: &str) -> Result<()> {
        if self.identity.is_root() {
            return Ok(());
        }
        if parent == root_access_key {
            return Err(IamError::Forbidden(
                "only the root user may create access keys that act as root".into(),
            )
            .into());
        }
        if self.identity.kind == Kind::User && self.identity.user == parent {
            return Ok(());
        }
        self.require("admin:CreateServiceAccount")?;
        self.require("admin:CreateUser")?;
        self.require("admin:AttachUserOrGroupPolicy")
    }
}
