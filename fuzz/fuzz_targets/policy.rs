//! IAM and bucket policy JSON: any text parses to a policy or a clear
//! error, never a panic, and a parsed policy can be evaluated.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = almacen_iam::Policy::parse(text);
    if let Ok(p) = almacen_iam::Policy::parse_bucket_policy(text, "fuzz-bucket") {
        let _ = p.is_public();
        let _ = p.uses_condition_key("aws:");
    }
});
