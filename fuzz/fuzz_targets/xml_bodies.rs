//! The XML request bodies S3 clients send (complete-multipart, delete
//! batch, lifecycle, CORS, tagging, versioning, notification, object lock,
//! encryption), through the same deserializer the server uses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3s::dto;
use s3s::xml::{Deserialize, Deserializer};

fn parse<'a, T: Deserialize<'a>>(data: &'a [u8]) {
    let mut d = Deserializer::new(data);
    if T::deserialize(&mut d).is_ok() {
        let _ = d.expect_eof();
    }
}

fuzz_target!(|data: &[u8]| {
    parse::<dto::CompletedMultipartUpload>(data);
    parse::<dto::Delete>(data);
    parse::<dto::BucketLifecycleConfiguration>(data);
    parse::<dto::CORSConfiguration>(data);
    parse::<dto::Tagging>(data);
    parse::<dto::VersioningConfiguration>(data);
    parse::<dto::NotificationConfiguration>(data);
    parse::<dto::ObjectLockConfiguration>(data);
    parse::<dto::ServerSideEncryptionConfiguration>(data);
});
