//! Header values the server parses itself or through s3s: Range, HTTP
//! dates, the aws-chunked / SigV4 content hash, and the request hygiene
//! that rewrites Range and conditional dates.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = s3s::dto::Range::parse(text);
    let Ok(value) = http::HeaderValue::from_str(text) else {
        return;
    };
    let req = http::Request::builder()
        .method("GET")
        .uri("/bucket/key")
        .header("range", value.clone())
        .header("if-modified-since", value.clone())
        .header("x-amz-copy-source-if-unmodified-since", value.clone())
        .header("x-amz-storage-class", value)
        .body(s3s::Body::empty())
        .expect("request");
    let mut req = req;
    let _ = almacen_s3::hygiene::sanitize(&mut req);
});
