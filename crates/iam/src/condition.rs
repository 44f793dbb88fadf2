//! Condition blocks: `"Condition": {"StringLike": {"s3:prefix": ["a/*"]}}`.
//!
//! Semantics as AWS documents them: every operator of a block must hold,
//! every key of an operator must hold, and a key holds when any of the
//! policy's values matches any of the request's values. A key missing from
//! the request fails positive operators, satisfies negated ones, and
//! satisfies any operator with the `IfExists` suffix.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::glob;

/// The condition keys of a request: `aws:SourceIp`, `s3:prefix`, ...
/// Names compare case-insensitively, so they are stored lower-case.
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
}

impl Context {
    /// An empty context.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a key to one value.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.values
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }

    /// Sets a key to several values (tag keys, ...), for `ForAnyValue:` and
    /// `ForAllValues:`.
    pub fn set_all(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.values.insert(key.to_ascii_lowercase(), values);
        self
    }

    /// The values of a key, if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

impl Op {
    fn parse(name: &str) -> Option<Self> {
        use Op::*;
        Some(match name {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "ArnEquals" => ArnEquals,
            "ArnLike" => ArnLike,
            "ArnNotEquals" => ArnNotEquals,
            "ArnNotLike" => ArnNotLike,
            "Null" => Null,
            _ => return None,
        })
    }

    /// Negated operators hold when the key is missing.
    fn negated(self) -> bool {
        use Op::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }
}

/// How a multi-valued key is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    /// Plain: any request value matching any policy value.
    Single,
    /// `ForAnyValue:`: at least one request value matches.
    ForAny,
    /// `ForAllValues:`: every request value matches (vacuously true when none).
    ForAll,
}

/// One `operator: {key: values}` entry, one key of it.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    pub op: Op,
    pub set: SetOp,
    pub if_exists: bool,
    pub key: String,
    pub values: Vec<String>,
}

impl Condition {
    /// Parses an operator name (`ForAnyValue:StringLikeIfExists`, ...).
    pub(crate) fn parse_operator(name: &str) -> Option<(Op, SetOp, bool)> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetOp::ForAny, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetOp::ForAll, r)
        } else {
            (SetOp::Single, name)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(r) if r != "Null" => (r, true),
            _ => (rest, false),
        };
        Op::parse(rest).map(|op| (op, set, if_exists))
    }

    /// Whether this condition holds for `ctx`.
    pub(crate) fn holds(&self, ctx: &Context) -> bool {
        if self.values.iter().any(|v| v.contains("${")) {
            // Policy variables: compare against the request's values.
            let mut resolved = self.clone();
            resolved.values = self
                .values
                .iter()
                .filter_map(|v| crate::policy::substitute(v, ctx).map(std::borrow::Cow::into_owned))
                .collect();
            if resolved.values.iter().any(|v| v.contains("${")) {
                return false;
            }
            return resolved.holds(ctx);
        }
        let present = ctx.get(&self.key).filter(|v| !v.is_empty());
        if self.op == Op::Null {
            let want_null = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return want_null == present.is_none();
        }
        let Some(actual) = present else {
            return self.if_exists || self.op.negated() || self.set == SetOp::ForAll;
        };
        match self.set {
            SetOp::ForAll => actual.iter().all(|a| self.one(a)),
            SetOp::Single | SetOp::ForAny => {
                if self.op.negated() {
                    // "Not equal to any of the values".
                    actual.iter().all(|a| self.one(a))
                } else {
                    actual.iter().any(|a| self.one(a))
                }
            }
        }
    }

    /// Whether one request value satisfies the operator against the policy's values.
    fn one(&self, actual: &str) -> bool {
        use Op::*;
        let any = |f: &dyn Fn(&str) -> bool| self.values.iter().any(|v| f(v));
        match self.op {
            StringEquals | ArnEquals => any(&|v| v == actual),
            StringNotEquals | ArnNotEquals => !any(&|v| v == actual),
            StringEqualsIgnoreCase => any(&|v| v.eq_ignore_ascii_case(actual)),
            StringNotEqualsIgnoreCase => !any(&|v| v.eq_ignore_ascii_case(actual)),
            StringLike | ArnLike => any(&|v| glob::matches(v, actual, false)),
            StringNotLike | ArnNotLike => !any(&|v| glob::matches(v, actual, false)),
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => {
                let Ok(a) = actual.parse::<f64>() else {
                    return false;
                };
                let r = any(&|v| {
                    v.parse::<f64>().is_ok_and(|v| match self.op {
                        NumericEquals | NumericNotEquals => (a - v).abs() < f64::EPSILON,
                        NumericLessThan => a < v,
                        NumericLessThanEquals => a <= v,
                        NumericGreaterThan => a > v,
                        _ => a >= v,
                    })
                });
                if self.op == NumericNotEquals { !r } else { r }
            }
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => {
                let Some(a) = parse_date(actual) else {
                    return false;
                };
                let r = any(&|v| {
                    parse_date(v).is_some_and(|v| match self.op {
                        DateEquals | DateNotEquals => a == v,
                        DateLessThan => a < v,
                        DateLessThanEquals => a <= v,
                        DateGreaterThan => a > v,
                        _ => a >= v,
                    })
                });
                if self.op == DateNotEquals { !r } else { r }
            }
            Bool => any(&|v| v.eq_ignore_ascii_case(actual)),
            IpAddress | NotIpAddress => {
                let Ok(ip) = actual.parse::<IpAddr>() else {
                    return false;
                };
                let inside = any(&|v| ip_in(v, ip));
                if self.op == IpAddress {
                    inside
                } else {
                    !inside
                }
            }
            Null => false,
        }
    }
}

/// Dates as RFC 3339 or as epoch seconds, the two forms AWS accepts.
fn parse_date(s: &str) -> Option<i128> {
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(d) = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")) {
        return Some(d.midnight().assume_utc().unix_timestamp_nanos());
    }
    s.parse::<i64>()
        .ok()
        .map(|secs| i128::from(secs) * 1_000_000_000)
}

fn ip_in(cidr: &str, ip: IpAddr) -> bool {
    if let Ok(net) = cidr.parse::<ipnet::IpNet>() {
        return net.contains(&ip);
    }
    cidr.parse::<IpAddr>().is_ok_and(|a| a == ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        let (op, set, if_exists) = Condition::parse_operator(op).unwrap();
        Condition {
            op,
            set,
            if_exists,
            key: key.into(),
            values: values.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn operators() {
        let mut ctx = Context::new();
        ctx.set("aws:SourceIp", "192.168.1.7")
            .set("s3:prefix", "products/tenant_1/x")
            .set("aws:SecureTransport", "false");
        ctx.set("aws:CurrentTime", "2026-11-23T12:00:00Z");
        assert!(cond("IpAddress", "aws:SourceIp", &["192.168.1.0/24"]).holds(&ctx));
        assert!(!cond("NotIpAddress", "aws:SourceIp", &["192.168.1.0/24"]).holds(&ctx));
        assert!(cond("StringLike", "s3:prefix", &["products/tenant_1/*"]).holds(&ctx));
        assert!(!cond("StringLike", "s3:prefix", &["products/tenant_2/*"]).holds(&ctx));
        assert!(cond("Bool", "aws:SecureTransport", &["false"]).holds(&ctx));
        assert!(cond("DateLessThan", "aws:CurrentTime", &["2027-01-01T00:00:00Z"]).holds(&ctx));
        assert!(
            !cond(
                "DateGreaterThan",
                "aws:CurrentTime",
                &["2027-01-01T00:00:00Z"]
            )
            .holds(&ctx)
        );
        // Missing keys.
        assert!(!cond("StringEquals", "s3:delimiter", &["/"]).holds(&ctx));
        assert!(cond("StringEqualsIfExists", "s3:delimiter", &["/"]).holds(&ctx));
        assert!(cond("StringNotEquals", "s3:delimiter", &["/"]).holds(&ctx));
        assert!(cond("Null", "s3:delimiter", &["true"]).holds(&ctx));
        assert!(!cond("Null", "s3:prefix", &["true"]).holds(&ctx));
        assert!(Condition::parse_operator("StringFoo").is_none());
    }
}
