//! Browser POST uploads (PostObject), taken apart in the front so that the
//! file's bytes stream to staging like a PutObject body.
//!
//! s3s reads a whole POST file into memory before anything decides whether
//! the caller may upload at all (anonymous forms included). So the front
//! reads the form fields itself (they come before the file and are small,
//! at most [`MAX_FIELDS_BYTES`]), verifies the form's signature (V4 or V2,
//! compared in constant time) and its policy (expiry, conditions, that
//! every field is covered), and hands s3s the same form with the
//! signature fields removed and an *empty* file. The verified signer
//! travels in [`PostSigner`], the file's stream in [`PostFile`]:
//! [`crate::Access`] authorizes the upload before the stream is touched,
//! and the PutObject operation reads the file from [`PostFile`].
//!
//! A form the front did not take apart is refused by [`crate::Access`],
//! so no POST upload can bypass this.

use std::sync::{Arc, Mutex};

use almacen_iam::{IamStore, Identity};
use bytes::Bytes;
use futures::StreamExt as _;
use http::{HeaderValue, Request};
use s3s::post_policy::{PostPolicy, PostPolicyCondition};
use s3s::{Body, S3Error, S3ErrorCode};
use subtle::ConstantTimeEq as _;

use crate::signature_rules::SignatureRules;

/// Most bytes of form fields before the file (AWS allows 20 KB of policy;
/// the fields together are kept small so the head never costs memory).
pub const MAX_FIELDS_BYTES: usize = 256 * 1024;

/// The signer of a POST form whose signature the front verified.
#[derive(Clone, Debug)]
pub struct PostSigner(pub Identity);

/// The file of a POST upload, not yet read, and the size range its policy
/// allows (the engine's object size limit when it names none).
#[derive(Clone)]
pub struct PostFile {
    stream: Arc<Mutex<Option<almacen_engine::ByteStream>>>,
    /// Smallest size allowed (`content-length-range`).
    pub min: u64,
    /// Largest size allowed (`content-length-range`).
    pub max: Option<u64>,
}

impl std::fmt::Debug for PostFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostFile")
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl PostFile {
    /// The file's bytes; `None` once taken.
    #[must_use]
    pub fn take(&self) -> Option<almacen_engine::ByteStream> {
        self.stream.lock().ok()?.take()
    }
}

fn err(code: S3ErrorCode, msg: impl Into<String>) -> S3Error {
    S3Error::with_message(code, msg.into())
}

fn policy_failed(what: impl std::fmt::Display) -> S3Error {
    err(
        S3ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {what}"),
    )
}

/// Whether `req` is a browser form upload (as s3s recognizes one: POST
/// with a `multipart/form-data` body). Any Content-Type that mentions it
/// counts, so that s3s never sees a form this module did not take apart.
#[must_use]
pub fn is_form(req: &Request<Body>) -> bool {
    req.method() == http::Method::POST
        && req
            .headers()
            .get_all(http::header::CONTENT_TYPE)
            .iter()
            .any(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .to_ascii_lowercase()
                    .contains("multipart/form-data")
            })
}

/// One text field of the form, as sent.
struct Field {
    name: String,
    value: String,
}

/// The fields before the file, and the file part.
struct Form {
    fields: Vec<Field>,
    file_name: Option<String>,
    file_type: Option<String>,
    file: multer::Field<'static>,
}

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    }
}

async fn read_form(req: Request<Body>) -> Result<(http::request::Parts, String, Form), S3Error> {
    let (parts, body) = req.into_parts();
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        err(
            S3ErrorCode::MalformedPOSTRequest,
            "The body of your POST request is not well-formed multipart/form-data (no boundary).",
        )
    })?;
    let malformed = |_| {
        err(
            S3ErrorCode::MalformedPOSTRequest,
            "The body of your POST request is not well-formed multipart/form-data.",
        )
    };
    let mut multipart = multer::Multipart::new(body, boundary.clone());
    let mut fields = Vec::new();
    let mut used = 0usize;
    loop {
        let Some(mut field) = multipart.next_field().await.map_err(malformed)? else {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                "POST requires exactly one file upload per request.",
            ));
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name.eq_ignore_ascii_case("file") {
            let file_name = field.file_name().map(str::to_owned);
            let file_type = field.content_type().map(ToString::to_string);
            return Ok((
                parts,
                boundary,
                Form {
                    fields,
                    file_name,
                    file_type,
                    file: field,
                },
            ));
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            used += chunk.len() + name.len();
            if used > MAX_FIELDS_BYTES {
                return Err(err(
                    S3ErrorCode::MaxPostPreDataLengthExceededError,
                    "Your POST request fields preceding the upload file were too large.",
                ));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| {
            err(
                S3ErrorCode::InvalidArgument,
                format!("The form field {name} is not UTF-8."),
            )
        })?;
        if name.is_empty() || name.contains(['"', '\r', '\n']) {
            return Err(err(
                S3ErrorCode::MalformedPOSTRequest,
                "A form field has no usable name.",
            ));
        }
        fields.push(Field { name, value });
    }
}

/// Fields that carry the signature: verified here, not passed to s3s.
const SIGNATURE_FIELDS: &[&str] = &[
    "policy",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-algorithm",
    "x-amz-date",
    "x-amz-security-token",
    "signature",
    "awsaccesskeyid",
];

/// Fields a policy need not name (AWS's list, and s3s's: the server-side
/// encryption fields MinIO allows outside the policy).
fn exempt_from_policy(name: &str) -> bool {
    matches!(
        name,
        "x-amz-signature" | "signature" | "awsaccesskeyid" | "file" | "submit" | "policy"
    ) || name.starts_with("x-amz-server-side-encryption")
        || name.starts_with("x-ignore-")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit as _, Mac as _};
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key");
    m.update(data);
    m.finalize().into_bytes().into()
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    use hmac::{KeyInit as _, Mac as _};
    let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes any key");
    m.update(data);
    m.finalize().into_bytes().into()
}

fn signature_mismatch() -> S3Error {
    err(
        S3ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

fn identity_of(iam: &IamStore, access_key: &str) -> Result<Identity, S3Error> {
    iam.identity(access_key).map_err(|_| {
        err(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    })
}

/// Verifies the form's signature; `None` for an anonymous form.
fn verify_signature(
    form: &Form,
    iam: &IamStore,
    rules: &SignatureRules,
) -> Result<Option<Identity>, S3Error> {
    let missing = |f: &str| {
        err(
            S3ErrorCode::InvalidArgument,
            format!("Bucket POST must contain a field named '{f}'."),
        )
    };
    if let Some(given) = form.get("x-amz-signature") {
        let policy = form.get("policy").ok_or_else(|| missing("policy"))?;
        let algorithm = form
            .get("x-amz-algorithm")
            .ok_or_else(|| missing("x-amz-algorithm"))?;
        if algorithm != "AWS4-HMAC-SHA256" {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                "x-amz-algorithm must be AWS4-HMAC-SHA256",
            ));
        }
        let credential = form
            .get("x-amz-credential")
            .ok_or_else(|| missing("x-amz-credential"))?;
        let amz_date = form
            .get("x-amz-date")
            .ok_or_else(|| missing("x-amz-date"))?;
        // AK/DATE/REGION/SERVICE/aws4_request; the access key may hold slashes.
        let mut scope = credential.rsplitn(5, '/');
        let (Some("aws4_request"), Some(service), Some(region), Some(date), Some(access_key)) = (
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
        ) else {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                "x-amz-credential is not ACCESS_KEY/DATE/REGION/s3/aws4_request",
            ));
        };
        if service != "s3" {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                format!("the credential scope names the service '{service}'; expecting 's3'"),
            ));
        }
        if let Some(expected) = rules.region.as_deref()
            && region != expected
        {
            return Err(err(
                S3ErrorCode::AuthorizationHeaderMalformed,
                format!(
                    "The authorization header is malformed; the region '{region}' is wrong; expecting '{expected}'"
                ),
            ));
        }
        if !amz_date.starts_with(date) || date.len() != 8 {
            return Err(signature_mismatch());
        }
        let identity = identity_of(iam, access_key)?;
        let mut key = hmac_sha256(
            format!("AWS4{}", identity.secret()).as_bytes(),
            date.as_bytes(),
        );
        for part in [region, service, "aws4_request"] {
            key = hmac_sha256(&key, part.as_bytes());
        }
        let expected = hex::encode(hmac_sha256(&key, policy.as_bytes()));
        if !bool::from(expected.as_bytes().ct_eq(given.trim().as_bytes())) {
            return Err(signature_mismatch());
        }
        return Ok(Some(identity));
    }
    if let Some(given) = form.get("signature") {
        if !rules.sigv2 {
            return Err(err(
                S3ErrorCode::AccessDenied,
                "Signature Version 2 is disabled on this server (ALMACEN_SIGV2=off); sign with Signature Version 4",
            ));
        }
        let policy = form.get("policy").ok_or_else(|| missing("policy"))?;
        let access_key = form
            .get("awsaccesskeyid")
            .ok_or_else(|| missing("AWSAccessKeyId"))?;
        let identity = identity_of(iam, access_key)?;
        use base64::Engine as _;
        let expected = base64::engine::general_purpose::STANDARD
            .encode(hmac_sha1(identity.secret().as_bytes(), policy.as_bytes()));
        if !bool::from(expected.as_bytes().ct_eq(given.trim().as_bytes())) {
            return Err(signature_mismatch());
        }
        return Ok(Some(identity));
    }
    // Half a signature is a malformed form, not an anonymous one (S3: 400).
    if form.get("x-amz-credential").is_some() || form.get("x-amz-algorithm").is_some() {
        return Err(missing("x-amz-signature"));
    }
    if form.get("awsaccesskeyid").is_some() {
        return Err(missing("Signature"));
    }
    if form.get("policy").is_some() {
        return Err(missing("AWSAccessKeyId"));
    }
    Ok(None)
}

/// Checks the policy's expiry and conditions against the fields; returns
/// the allowed size range of the file.
fn check_policy(
    form: &Form,
    policy: &PostPolicy,
    bucket: &str,
    signed_v4: bool,
) -> Result<(u64, Option<u64>), S3Error> {
    let expires: time::OffsetDateTime = policy.expiration.clone().into();
    if time::OffsetDateTime::now_utc() >= expires {
        return Err(policy_failed("Policy expired."));
    }
    let value_of = |field: &str| -> Option<String> {
        match field {
            "bucket" => Some(bucket.to_owned()),
            "content-type" => form
                .get("content-type")
                .map(str::to_owned)
                .or_else(|| form.file_type.clone()),
            f => form.get(f).map(str::to_owned),
        }
    };
    if let Some(b) = form.get("bucket")
        && b != bucket
    {
        return Err(policy_failed(format!(
            "Policy Condition failed: [\"eq\", \"$bucket\", \"{b}\"]"
        )));
    }
    let mut range = (0, None);
    for condition in &policy.conditions {
        match condition {
            PostPolicyCondition::Eq { field, value } => {
                if value_of(field).as_deref() != Some(value.as_str()) {
                    return Err(policy_failed(format!(
                        "Policy Condition failed: [\"eq\", \"${field}\", \"{value}\"]"
                    )));
                }
            }
            PostPolicyCondition::StartsWith { field, prefix } => {
                if !value_of(field)
                    .unwrap_or_default()
                    .starts_with(prefix.as_str())
                {
                    return Err(policy_failed(format!(
                        "Policy Condition failed: [\"starts-with\", \"${field}\", \"{prefix}\"]"
                    )));
                }
            }
            PostPolicyCondition::ContentLengthRange { min, max } => range = (*min, Some(*max)),
        }
    }
    // A V4 form's policy must bind the signature's own fields (s3s's rule).
    if signed_v4 {
        for f in ["x-amz-date", "x-amz-credential", "x-amz-algorithm"] {
            let bound = policy.conditions.iter().any(|c| {
                matches!(c, PostPolicyCondition::Eq { field, value }
                    if field == f && form.get(f) == Some(value.as_str()))
            });
            if !bound {
                return Err(policy_failed(format!(
                    "Policy Condition failed: [\"eq\", \"${f}\", ...] is missing"
                )));
            }
        }
    }
    for f in &form.fields {
        let name = f.name.to_ascii_lowercase();
        if exempt_from_policy(&name) {
            continue;
        }
        let named = policy.conditions.iter().any(|c| match c {
            PostPolicyCondition::Eq { field, .. }
            | PostPolicyCondition::StartsWith { field, .. } => *field == name,
            PostPolicyCondition::ContentLengthRange { .. } => false,
        });
        if !named {
            return Err(policy_failed(format!("Extra input fields: {}", f.name)));
        }
    }
    Ok(range)
}

/// Takes a browser POST upload to `bucket` apart (see the module
/// documentation): the request s3s then sees holds the form without its
/// signature fields and with an empty file, and carries the signer and
/// the file's stream in its extensions. Nothing of the file is read here.
///
/// # Errors
/// A malformed form, a bad signature or a policy the form breaks: the
/// answer to send instead (the file is never read).
pub async fn take_apart(
    req: Request<Body>,
    bucket: &str,
    iam: &IamStore,
    rules: &SignatureRules,
) -> Result<Request<Body>, S3Error> {
    let (mut parts, boundary, mut form) = read_form(req).await?;
    // Browser forms may name the key `uploads/${filename}`: S3 puts the
    // uploaded file's name there.
    if let (Some(file_name), Some(key)) = (
        form.file_name
            .clone()
            .filter(|f| !f.is_empty() && !f.contains('\0')),
        form.fields
            .iter_mut()
            .find(|f| f.name.eq_ignore_ascii_case("key")),
    ) {
        key.value = key.value.replace("${filename}", &file_name);
    }
    let signer = verify_signature(&form, iam, rules)?;
    let (min, max) = match form.get("policy") {
        Some(p) => {
            let policy = PostPolicy::from_base64(p).map_err(|e| {
                err(
                    S3ErrorCode::InvalidPolicyDocument,
                    format!("Invalid Policy: {e}"),
                )
            })?;
            check_policy(
                &form,
                &policy,
                bucket,
                form.get("x-amz-signature").is_some(),
            )?
        }
        None if signer.is_some() => {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                "Bucket POST must contain a field named 'policy'.",
            ));
        }
        None => (0, None),
    };
    // The form s3s sees: the fields, then the file part with no bytes.
    let Form {
        fields,
        file_type,
        file,
        ..
    } = form;
    let mut head = String::new();
    for f in &fields {
        if SIGNATURE_FIELDS.contains(&f.name.to_ascii_lowercase().as_str()) {
            continue;
        }
        // S3's form field is `acl`; s3s reads the header's name.
        let name = if f.name.eq_ignore_ascii_case("acl") {
            "x-amz-acl"
        } else {
            f.name.as_str()
        };
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
            f.value
        ));
    }
    head.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file\"\r\n"
    ));
    if let Some(t) = file_type.as_deref().filter(|t| !t.contains(['\r', '\n'])) {
        head.push_str(&format!("Content-Type: {t}\r\n"));
    }
    head.push_str(&format!("\r\n\r\n--{boundary}--\r\n"));
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(head.len()));
    let stream: almacen_engine::ByteStream =
        Box::pin(file.map(|r| r.map_err(std::io::Error::other)));
    parts.extensions.insert(PostFile {
        stream: Arc::new(Mutex::new(Some(stream))),
        min,
        max,
    });
    if let Some(id) = signer {
        parts.extensions.insert(PostSigner(id));
    }
    Ok(Request::from_parts(parts, Body::from(Bytes::from(head))))
}
