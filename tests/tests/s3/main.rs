//! End-to-end tests of the S3 API through aws-sdk-s3 against the real
//! binary, grouped by feature. The SDK runs with its default checksum
//! behaviour, so every upload here is an aws-chunked body with a CRC32 trailer.

mod access;
mod buckets;
mod encryption;
mod multipart;
mod objects;
mod restart;
mod tls;
