//! Which IAM action and resource each S3 operation is, as AWS defines them,
//! so that policies written for AWS mean the same here.

/// The IAM action an s3s operation name is checked as.
#[must_use]
pub fn action(op: &str) -> &'static str {
    match op {
        "ListBuckets" => "s3:ListAllMyBuckets",
        "CreateBucket" => "s3:CreateBucket",
        "DeleteBucket" => "s3:DeleteBucket",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "s3:ListBucket",
        "ListObjectVersions" => "s3:ListBucketVersions",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "GetBucketLocation" => "s3:GetBucketLocation",
        "GetObject" | "HeadObject" => "s3:GetObject",
        "GetObjectAttributes" => "s3:GetObjectAttributes",
        "PutObject"
        | "PostObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => "s3:PutObject",
        "AbortMultipartUpload" => "s3:AbortMultipartUpload",
        "ListParts" => "s3:ListMultipartUploadParts",
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObject",
        "GetObjectAcl" => "s3:GetObjectAcl",
        "PutObjectAcl" => "s3:PutObjectAcl",
        "GetBucketAcl" => "s3:GetBucketAcl",
        "PutBucketAcl" => "s3:PutBucketAcl",
        "GetBucketPolicy" => "s3:GetBucketPolicy",
        "PutBucketPolicy" => "s3:PutBucketPolicy",
        "DeleteBucketPolicy" => "s3:DeleteBucketPolicy",
        "GetBucketPolicyStatus" => "s3:GetBucketPolicyStatus",
        // Anything else has no grant a policy could give yet: it never matches
        // an Allow, so anonymous callers are denied it.
        _ => "s3:Unmapped",
    }
}

/// The resource ARN of a request: the object, or the bucket, or `*`.
#[must_use]
pub fn resource(op: &str, bucket: Option<&str>, key: Option<&str>) -> String {
    match (bucket, key) {
        // DeleteObjects names its keys in the body: it needs the grant on every key.
        (Some(b), _) if op == "DeleteObjects" => format!("arn:aws:s3:::{b}/*"),
        (Some(b), Some(k)) => format!("arn:aws:s3:::{b}/{k}"),
        (Some(b), None) => format!("arn:aws:s3:::{b}"),
        (None, _) => "*".to_owned(),
    }
}

/// Actions a bucket READ grant (public-read bucket ACL) allows.
#[must_use]
pub fn is_bucket_read(action: &str) -> bool {
    matches!(
        action,
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads"
    )
}

/// Actions a bucket WRITE grant (public-read-write bucket ACL) allows:
/// creating, overwriting and deleting objects.
#[must_use]
pub fn is_bucket_write(action: &str) -> bool {
    matches!(
        action,
        "s3:PutObject"
            | "s3:DeleteObject"
            | "s3:AbortMultipartUpload"
            | "s3:ListMultipartUploadParts"
    )
}
