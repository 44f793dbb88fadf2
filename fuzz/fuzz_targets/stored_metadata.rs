//! The on-disk metadata encodings (object, upload and bucket attributes in
//! meta.db): a damaged row decodes to an error, never a panic, and what
//! decodes re-encodes to something that decodes to the same value.
#![no_main]

use almacen_engine::{BucketConfig, ObjectAttrs, UploadAttrs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = ObjectAttrs::decode(data) {
        let again = ObjectAttrs::decode(&a.encode()).expect("re-encoded attributes decode");
        assert_eq!(again.headers, a.headers);
    }
    if let Ok(u) = UploadAttrs::decode(data) {
        assert_eq!(UploadAttrs::decode(&u.encode()).expect("re-encoded upload decodes"), u);
    }
    if let Ok(c) = serde_json::from_slice::<BucketConfig>(data) {
        let bytes = serde_json::to_vec(&c).expect("encode");
        assert_eq!(serde_json::from_slice::<BucketConfig>(&bytes).expect("decode"), c);
    }
});
