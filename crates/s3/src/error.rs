//! The one place where engine errors become S3 errors (code, status, message).

use almacen_engine::EngineError;
use http::{HeaderMap, HeaderValue, StatusCode};
use s3s::{S3Error, S3ErrorCode};

/// Maps an engine error to the S3 error AWS returns in the same situation.
pub fn to_s3(e: EngineError) -> S3Error {
    use S3ErrorCode as C;
    let msg = e.to_string();
    let (code, status) = match &e {
        EngineError::NoSuchBucket => (C::NoSuchBucket, None),
        EngineError::BucketAlreadyOwnedByYou => (C::BucketAlreadyOwnedByYou, None),
        EngineError::BucketNotEmpty => (C::BucketNotEmpty, None),
        EngineError::InvalidBucketName(_) => (C::InvalidBucketName, None),
        EngineError::NoSuchKey => (C::NoSuchKey, None),
        EngineError::NoSuchVersion => (C::NoSuchVersion, None),
        EngineError::UploadTooLarge(_) => (C::EntityTooLarge, None),
        EngineError::ObjectLocked(_) => (C::AccessDenied, None),
        // MinIO's answers when SSE is asked of a server without a KMS key,
        // or names a key it does not have.
        EngineError::KmsNotConfigured => (C::NotImplemented, None),
        EngineError::KmsKeyNotFound(_) => (
            C::Custom("KMS.NotFoundException".into()),
            Some(StatusCode::BAD_REQUEST),
        ),
        EngineError::InvalidBucketState(_) => (C::InvalidBucketState, None),
        // MinIO's code for the same refusal, so clients written for it match.
        EngineError::QuotaExceeded => (
            C::Custom("XMinioAdminBucketQuotaExceeded".into()),
            Some(StatusCode::BAD_REQUEST),
        ),
        EngineError::UploadRefused(_) => (
            C::Custom("UploadRuleViolation".into()),
            Some(StatusCode::BAD_REQUEST),
        ),
        EngineError::DeleteMarker { version_id, named } => {
            // GET/HEAD of a key hidden by a delete marker: 404, or 405 when
            // the request named the marker; both say it is a marker.
            let mut err = if *named {
                let mut e = S3Error::with_message(C::MethodNotAllowed, msg);
                e.set_status_code(StatusCode::METHOD_NOT_ALLOWED);
                e
            } else {
                S3Error::with_message(C::NoSuchKey, msg)
            };
            let mut headers = HeaderMap::new();
            headers.insert("x-amz-delete-marker", HeaderValue::from_static("true"));
            if let Ok(v) = HeaderValue::from_str(version_id) {
                headers.insert("x-amz-version-id", v);
            }
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            err.set_headers(headers);
            return err;
        }
        EngineError::KeyTooLong => (C::KeyTooLongError, None),
        EngineError::NoSuchUpload => (C::NoSuchUpload, None),
        EngineError::InvalidPart(_) => (C::InvalidPart, None),
        EngineError::InvalidPartOrder => (C::InvalidPartOrder, None),
        EngineError::EntityTooSmall => (C::EntityTooSmall, None),
        EngineError::EntityTooLarge => (C::EntityTooLarge, None),
        EngineError::PreconditionFailed => (C::PreconditionFailed, None),
        EngineError::ConditionalConflict => (
            C::Custom("ConditionalRequestConflict".into()),
            Some(StatusCode::CONFLICT),
        ),
        EngineError::InvalidRange { size } => {
            let mut err = S3Error::with_message(C::InvalidRange, msg);
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                headers.insert(http::header::CONTENT_RANGE, v);
            }
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            err.set_headers(headers);
            return err;
        }
        EngineError::BadDigest(_) => (C::BadDigest, None),
        EngineError::MetadataTooLarge => (C::MetadataTooLarge, None),
        EngineError::IncompleteBody(_) => (C::IncompleteBody, None),
        EngineError::MalformedXml(_) => (C::MalformedXML, None),
        EngineError::InvalidArgument(_) => (C::InvalidArgument, None),
        EngineError::InvalidRequest(_) => (C::InvalidRequest, None),
        EngineError::DiskFull => (
            C::Custom("XMinioStorageFull".into()),
            Some(StatusCode::INSUFFICIENT_STORAGE),
        ),
        EngineError::CorruptObject => (C::InternalError, None),
        EngineError::Unavailable(detail) => {
            tracing::error!(error = %detail, "metadata database unavailable");
            return S3Error::with_message(
                C::ServiceUnavailable,
                "The metadata database is unavailable. Please try again.",
            );
        }
        EngineError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error");
            return S3Error::with_message(
                C::InternalError,
                "We encountered an internal error. Please try again.",
            );
        }
        _ => (C::InternalError, None),
    };
    let mut err = S3Error::with_message(code, msg);
    if let Some(status) = status {
        err.set_status_code(status);
    }
    err
}

/// S3's MalformedXML, for bodies that parse but break the schema.
pub fn malformed_xml() -> S3Error {
    s3_err(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// Shorthand for an S3 error with a message.
pub fn s3_err(code: S3ErrorCode, msg: impl Into<String>) -> S3Error {
    S3Error::with_message(code, msg.into())
}

/// Maps the error of staging an upload body. s3s reports a failed payload
/// hash or chunk signature as an error of the body stream; those are the
/// client's signature problems, not a short body.
pub fn upload_err(e: EngineError) -> S3Error {
    if let EngineError::IncompleteBody(msg) = &e {
        if msg.contains(crate::slow_body::TOO_SLOW) {
            return S3Error::with_message(
                S3ErrorCode::RequestTimeout,
                "Your socket connection to the server was not read from or written to within the timeout period.",
            );
        }
        if msg.contains("Sha256Mismatch") {
            let mut err = S3Error::with_message(
                S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            );
            err.set_status_code(StatusCode::BAD_REQUEST);
            return err;
        }
        if msg.contains("SignatureMismatch") {
            return S3Error::with_message(
                S3ErrorCode::SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            );
        }
    }
    to_s3(e)
}
