//! Policy documents: parsing, validation and evaluation.

use serde_json::Value;

use crate::condition::{Condition, Context};
use crate::glob;

/// Why a policy document was refused, worded for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(msg.into()))
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants the actions.
    Allow,
    /// Refuses the actions, whatever else allows them.
    Deny,
}

/// Who a bucket-policy statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    Any,
    /// User names, access keys or IAM ARNs ending in `user/NAME`.
    Aws(Vec<String>),
}

impl Principal {
    fn matches(&self, who: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Aws(list) => list
                .iter()
                .any(|p| p == "*" || p == who || p.rsplit_once('/').is_some_and(|(_, n)| n == who)),
        }
    }
}

/// One statement.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Optional id.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// Principal (bucket policies only).
    pub principal: Option<Principal>,
    actions: Vec<String>,
    not_action: bool,
    resources: Vec<String>,
    not_resource: bool,
    conditions: Vec<Condition>,
}

/// A parsed, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

/// What a request is, as policies see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `s3:GetObject`, ...
    pub action: &'a str,
    /// `arn:aws:s3:::bucket/key`, `arn:aws:s3:::bucket` or `*`.
    pub resource: &'a str,
    /// Who asks: `*` for anonymous callers, else the user name.
    pub principal: &'a str,
    /// Condition keys.
    pub context: &'a Context,
}

/// The outcome of evaluating one policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows it and none denies it.
    Allow,
    /// A statement explicitly denies it.
    Deny,
    /// No statement applies.
    NotApplicable,
}

/// The S3 actions a policy may name without a wildcard.
const KNOWN_ACTIONS: &[&str] = &[
    "s3:AbortMultipartUpload",
    "s3:BypassGovernanceRetention",
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:DeleteBucketWebsite",
    "s3:DeleteObject",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersion",
    "s3:DeleteObjectVersionTagging",
    "s3:GetBucketAcl",
    "s3:GetBucketCORS",
    "s3:GetBucketLocation",
    "s3:GetBucketLogging",
    "s3:GetBucketNotification",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:GetBucketWebsite",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:GetObjectAttributes",
    "s3:GetObjectLegalHold",
    "s3:GetObjectRetention",
    "s3:GetObjectTagging",
    "s3:GetObjectVersion",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionAttributes",
    "s3:GetObjectVersionTagging",
    "s3:GetReplicationConfiguration",
    "s3:ListAllMyBuckets",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:ListBucketVersions",
    "s3:ListenBucketNotification",
    "s3:ListenNotification",
    "s3:ListMultipartUploadParts",
    "s3:PutBucketAcl",
    "s3:PutBucketCORS",
    "s3:PutBucketLogging",
    "s3:PutBucketNotification",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:PutBucketWebsite",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectLegalHold",
    "s3:PutObjectRetention",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionAcl",
    "s3:PutObjectVersionTagging",
    "s3:PutReplicationConfiguration",
    "s3:RestoreObject",
    "s3:GetBucketQuota",
    "s3:PutBucketQuota",
];

/// A string or an array of strings, as IAM allows for most fields.
fn strings(v: &Value, field: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| PolicyError(format!("{field} must hold strings")))
            })
            .collect(),
        _ => err(format!("{field} must be a string or an array of strings")),
    }
}

fn parse_principal(v: &Value) -> Result<Principal, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principal::Any),
        Value::Object(m) => {
            let Some(aws) = m.get("AWS") else {
                return err("Principal must be \"*\" or {\"AWS\": ...}");
            };
            let list = strings(aws, "Principal.AWS")?;
            if list.iter().any(|p| p == "*") {
                Ok(Principal::Any)
            } else {
                Ok(Principal::Aws(list))
            }
        }
        _ => err("Principal must be \"*\" or {\"AWS\": ...}"),
    }
}

/// The administrative actions (MinIO's names) an identity policy may grant;
/// the admin API checks them against resource `arn:aws:s3:::*`.
pub const ADMIN_ACTIONS: &[&str] = &[
    "admin:AddUserToGroup",
    "admin:AttachUserOrGroupPolicy",
    "admin:BandwidthMonitor",
    "admin:ConfigUpdate",
    "admin:ConsoleLog",
    "admin:CreatePolicy",
    "admin:CreateServiceAccount",
    "admin:CreateUser",
    "admin:DeletePolicy",
    "admin:DeleteUser",
    "admin:DisableGroup",
    "admin:DisableUser",
    "admin:EnableGroup",
    "admin:EnableUser",
    "admin:GetBucketQuota",
    "admin:GetBucketUploadRules",
    "admin:GetGroup",
    "admin:GetPolicy",
    "admin:GetUser",
    "admin:Heal",
    "admin:ListGroups",
    "admin:ListServiceAccounts",
    "admin:ListUserPolicies",
    "admin:ListUsers",
    "admin:OBDInfo",
    "admin:Profiling",
    "admin:Prometheus",
    "admin:RemoveServiceAccount",
    "admin:RemoveUserFromGroup",
    "admin:ServerInfo",
    "admin:ServerTrace",
    "admin:SetBucketQuota",
    "admin:SetBucketUploadRules",
    "admin:TopLocksInfo",
    "admin:UpdateServiceAccount",
];

fn check_action(a: &str, bucket_policy: bool) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    let (service, name) = a.split_once(':').unwrap_or(("", a));
    let known: &[&str] = match service.to_ascii_lowercase().as_str() {
        "s3" => KNOWN_ACTIONS,
        // Administrative and KMS actions belong in identity policies (MinIO's
        // consoleAdmin grants `admin:*` and `kms:*`); a bucket policy cannot grant them.
        "admin" if !bucket_policy => ADMIN_ACTIONS,
        "kms" if !bucket_policy => &[],
        _ if bucket_policy => {
            return err(format!(
                "Unknown action {a}: bucket policy actions must start with s3:"
            ));
        }
        _ => {
            return err(format!(
                "Unknown action {a}: actions must start with s3:, admin: or kms:"
            ));
        }
    };
    if name.contains('*')
        || name.contains('?')
        || service.eq_ignore_ascii_case("kms")
        || known.iter().any(|k| k.eq_ignore_ascii_case(a))
    {
        Ok(())
    } else {
        err(format!("Unknown action {a}"))
    }
}

fn check_resource(r: &str, bucket: Option<&str>) -> Result<(), PolicyError> {
    if r == "*" {
        return Ok(());
    }
    let Some(rest) = r.strip_prefix("arn:aws:s3:::") else {
        return err(format!(
            "Policy has invalid resource {r}: resources must start with arn:aws:s3:::"
        ));
    };
    if let Some(b) = bucket {
        let named = rest.split('/').next().unwrap_or_default();
        if !glob::matches(named, b, false) {
            return err(format!(
                "Policy has invalid resource {r}: a bucket policy may only name bucket {b}"
            ));
        }
    }
    Ok(())
}

fn parse_statement(v: &Value, n: usize, bucket: Option<&str>) -> Result<Statement, PolicyError> {
    let Value::Object(m) = v else {
        return err(format!("Statement {n} must be an object"));
    };
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return err(format!("Statement {n}: unknown field {k}"));
        }
    }
    let effect = match m.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            return err(format!(
                "Statement {n}: Effect must be Allow or Deny, not {other}"
            ));
        }
        None => return err(format!("Statement {n}: missing Effect")),
    };
    let principal = m.get("Principal").map(parse_principal).transpose()?;
    if bucket.is_some() && principal.is_none() {
        return err(format!(
            "Statement {n}: a bucket policy statement needs a Principal"
        ));
    }
    let (actions, not_action) = match (m.get("Action"), m.get("NotAction")) {
        (Some(a), None) => (strings(a, "Action")?, false),
        (None, Some(a)) => (strings(a, "NotAction")?, true),
        _ => {
            return err(format!(
                "Statement {n}: needs exactly one of Action and NotAction"
            ));
        }
    };
    for a in &actions {
        check_action(a, bucket.is_some())?;
    }
    let (resources, not_resource) = match (m.get("Resource"), m.get("NotResource")) {
        (Some(r), None) => (strings(r, "Resource")?, false),
        (None, Some(r)) => (strings(r, "NotResource")?, true),
        _ => {
            return err(format!(
                "Statement {n}: needs exactly one of Resource and NotResource"
            ));
        }
    };
    for r in &resources {
        check_resource(r, bucket)?;
    }
    let mut conditions = Vec::new();
    if let Some(c) = m.get("Condition") {
        let Value::Object(ops) = c else {
            return err(format!("Statement {n}: Condition must be an object"));
        };
        for (op_name, keys) in ops {
            let (op, set, if_exists) = Condition::parse_operator(op_name).ok_or_else(|| {
                PolicyError(format!(
                    "Statement {n}: unknown condition operator {op_name}"
                ))
            })?;
            let Value::Object(keys) = keys else {
                return err(format!(
                    "Statement {n}: {op_name} must map condition keys to values"
                ));
            };
            for (key, values) in keys {
                let values = match values {
                    Value::Bool(b) => vec![b.to_string()],
                    Value::Number(x) => vec![x.to_string()],
                    Value::Array(a) => a
                        .iter()
                        .map(|x| match x {
                            Value::String(s) => Ok(s.clone()),
                            Value::Bool(b) => Ok(b.to_string()),
                            Value::Number(x) => Ok(x.to_string()),
                            _ => err(format!(
                                "Statement {n}: {op_name}.{key} holds a value that is not a string"
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                    other => strings(other, key)?,
                };
                conditions.push(Condition {
                    op,
                    set,
                    if_exists,
                    key: key.clone(),
                    values,
                });
            }
        }
    }
    Ok(Statement {
        sid: m.get("Sid").and_then(Value::as_str).map(str::to_owned),
        effect,
        principal,
        actions,
        not_action,
        resources,
        not_resource,
        conditions,
    })
}

impl Policy {
    /// Parses an identity policy (attached to users and groups).
    ///
    /// # Errors
    /// Invalid JSON (with line and column), unknown fields, actions,
    /// operators, resources outside S3.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        Self::parse_inner(json, None)
    }

    /// Parses a bucket policy for `bucket`: every statement needs a
    /// Principal, and resources may only name that bucket.
    ///
    /// # Errors
    /// As [`Policy::parse`].
    pub fn parse_bucket_policy(json: &str, bucket: &str) -> Result<Self, PolicyError> {
        Self::parse_inner(json, Some(bucket))
    }

    fn parse_inner(json: &str, bucket: Option<&str>) -> Result<Self, PolicyError> {
        let v: Value = serde_json::from_str(json).map_err(|e| {
            PolicyError(format!(
                "invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(m) = &v else {
            return err("a policy must be a JSON object");
        };
        for k in m.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return err(format!("unknown top-level field {k}"));
            }
        }
        if let Some(ver) = m.get("Version")
            && !matches!(ver.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return err("Version must be 2012-10-17 or 2008-10-17");
        }
        let statements = match m.get("Statement") {
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, s)| parse_statement(s, i + 1, bucket))
                .collect::<Result<Vec<_>, _>>()?,
            Some(s @ Value::Object(_)) => vec![parse_statement(s, 1, bucket)?],
            _ => return err("missing Statement"),
        };
        if statements.is_empty() {
            return err("a policy needs at least one statement");
        }
        Ok(Self { statements })
    }

    /// Evaluates `req`: Deny if any applicable statement denies, Allow if
    /// one allows, else NotApplicable (which callers treat as a deny).
    #[must_use]
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            if !s.applies(req) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::Deny,
                Effect::Allow => allowed = true,
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotApplicable
        }
    }

    /// Whether some condition names a key starting with `prefix` (case
    /// ignored), so that callers fetch costly keys (existing object tags)
    /// only for policies that use them.
    #[must_use]
    pub fn uses_condition_key(&self, prefix: &str) -> bool {
        let prefix = prefix.to_ascii_lowercase();
        self.statements.iter().any(|s| {
            s.conditions
                .iter()
                .any(|c| c.key.to_ascii_lowercase().starts_with(&prefix))
        })
    }

    /// Whether some statement allows anonymous callers anything (for
    /// GetBucketPolicyStatus).
    #[must_use]
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            s.effect == Effect::Allow
                && s.principal == Some(Principal::Any)
                && s.conditions.is_empty()
        })
    }
}

/// `text` with its policy variables (`${aws:username}`, `${aws:SourceIp}`,
/// any condition key) replaced by the request's values, as AWS does in
/// Resource and condition values; `None` when a variable has no value (the
/// pattern then matches nothing). `${*}`, `${?}` and `${$}` are those characters.
pub(crate) fn substitute<'a>(text: &'a str, ctx: &Context) -> Option<std::borrow::Cow<'a, str>> {
    if !text.contains("${") {
        return Some(std::borrow::Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}')?;
        let name = &after[..end];
        let value = match name {
            "*" | "?" | "$" => name,
            _ => ctx.get(name)?.first()?.as_str(),
        };
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(std::borrow::Cow::Owned(out))
}

impl Statement {
    fn applies(&self, req: &Request<'_>) -> bool {
        if let Some(p) = &self.principal
            && !p.matches(req.principal)
        {
            return false;
        }
        let action_hit = self
            .actions
            .iter()
            .any(|a| glob::matches(a, req.action, true));
        if action_hit == self.not_action {
            return false;
        }
        let resource_hit = self.resources.iter().any(|r| {
            substitute(r, req.context).is_some_and(|r| glob::matches(&r, req.resource, false))
        });
        if resource_hit == self.not_resource {
            return false;
        }
        self.conditions.iter().all(|c| c.holds(req.context))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC_READ: &str = r#"{
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
            "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::uploads/*"]
        }]
    }"#;

    fn ask(p: &Policy, action: &str, resource: &str, who: &str, ctx: &Context) -> Decision {
        p.evaluate(&Request {
            action,
            resource,
            principal: who,
            context: ctx,
        })
    }

    #[test]
    fn public_read_allows_get_and_nothing_else() {
        let p = Policy::parse_bucket_policy(PUBLIC_READ, "uploads").unwrap();
        let ctx = Context::new();
        assert_eq!(
            ask(&p, "s3:GetObject", "arn:aws:s3:::uploads/a.jpg", "*", &ctx),
            Decision::Allow
        );
        assert_eq!(
            ask(&p, "s3:PutObject", "arn:aws:s3:::uploads/a.jpg", "*", &ctx),
            Decision::NotApplicable
        );
        assert_eq!(
            ask(&p, "s3:ListBucket", "arn:aws:s3:::uploads", "*", &ctx),
            Decision::NotApplicable
        );
        assert!(p.is_public());
    }

    #[test]
    fn explicit_deny_wins_and_conditions_apply() {
        let json = r#"{"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
        ]}"#;
        let p = Policy::parse_bucket_policy(json, "b").unwrap();
        let mut inside = Context::new();
        inside.set("aws:SourceIp", "10.1.2.3");
        let mut outside = Context::new();
        outside.set("aws:SourceIp", "192.0.2.1");
        assert_eq!(
            ask(&p, "s3:GetObject", "arn:aws:s3:::b/x", "*", &inside),
            Decision::Allow
        );
        assert_eq!(
            ask(&p, "s3:GetObject", "arn:aws:s3:::b/secret/x", "*", &inside),
            Decision::Deny
        );
        assert_eq!(
            ask(&p, "s3:GetObject", "arn:aws:s3:::b/x", "*", &outside),
            Decision::Deny
        );
    }

    #[test]
    fn tenant_prefix_isolation() {
        let json = r#"{"Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::uploads/products/tenant_1/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::uploads",
             "Condition": {"StringLike": {"s3:prefix": ["products/tenant_1/*"]}}}
        ]}"#;
        let p = Policy::parse(json).unwrap();
        let mut ctx = Context::new();
        assert_eq!(
            ask(
                &p,
                "s3:GetObject",
                "arn:aws:s3:::uploads/products/tenant_1/a.jpg",
                "u1",
                &ctx
            ),
            Decision::Allow
        );
        assert_eq!(
            ask(
                &p,
                "s3:GetObject",
                "arn:aws:s3:::uploads/products/tenant_2/a.jpg",
                "u1",
                &ctx
            ),
            Decision::NotApplicable
        );
        ctx.set("s3:prefix", "products/tenant_1/");
        assert_eq!(
            ask(&p, "s3:ListBucket", "arn:aws:s3:::uploads", "u1", &ctx),
            Decision::Allow
        );
        ctx.set("s3:prefix", "products/tenant_2/");
        assert_eq!(
            ask(&p, "s3:ListBucket", "arn:aws:s3:::uploads", "u1", &ctx),
            Decision::NotApplicable
        );
    }

    #[test]
    fn policy_variables_in_resources_and_conditions() {
        let p = Policy::parse(
            r#"{"Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::home",
                 "Condition": {"StringLike": {"s3:prefix": "${aws:username}/*"}}}]}"#,
        )
        .unwrap();
        let mut ctx = Context::new();
        ctx.set("aws:username", "alice");
        assert_eq!(
            ask(
                &p,
                "s3:GetObject",
                "arn:aws:s3:::home/alice/a",
                "alice",
                &ctx
            ),
            Decision::Allow
        );
        assert_eq!(
            ask(&p, "s3:GetObject", "arn:aws:s3:::home/bob/a", "alice", &ctx),
            Decision::NotApplicable
        );
        ctx.set("s3:prefix", "alice/photos/");
        assert_eq!(
            ask(&p, "s3:ListBucket", "arn:aws:s3:::home", "alice", &ctx),
            Decision::Allow
        );
        ctx.set("s3:prefix", "bob/");
        assert_eq!(
            ask(&p, "s3:ListBucket", "arn:aws:s3:::home", "alice", &ctx),
            Decision::NotApplicable
        );
        // No value for the variable: nothing matches.
        let anon = Context::new();
        assert_eq!(
            ask(&p, "s3:GetObject", "arn:aws:s3:::home/alice/a", "*", &anon),
            Decision::NotApplicable
        );
    }

    #[test]
    fn clear_errors() {
        let e = Policy::parse("{\n  \"Statement\": [\n  }").unwrap_err();
        assert!(e.0.contains("line 3"), "{e}");
        let e = Policy::parse(
            r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}}"#,
        )
        .unwrap_err();
        assert!(e.0.contains("Unknown action s3:GetObjekt"), "{e}");
        let e = Policy::parse_bucket_policy(r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}}"#, "b").unwrap_err();
        assert!(e.0.contains("Principal"), "{e}");
        let e = Policy::parse_bucket_policy(PUBLIC_READ, "other").unwrap_err();
        assert!(e.0.contains("invalid resource"), "{e}");
        let e = Policy::parse(r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringSorta": {"a": "b"}}}}"#).unwrap_err();
        assert!(e.0.contains("unknown condition operator"), "{e}");
    }
}
