//! Arbitrary bytes as `CreateTaskRequest.options`: the first byte picks the type URL (none, the
//! two runc ones, or the rest of the input up to a NUL), the rest is the protobuf value.
//! `options::decode` must never panic, only return errors, and must be deterministic.
#![no_main]

#[path = "../../src/options.rs"]
#[allow(dead_code)]
mod options;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (url, value): (String, &[u8]) = match sel % 4 {
        0 => (String::new(), rest),
        1 => (options::RUNC_OPTIONS_URLS[0].into(), rest),
        2 => (options::RUNC_OPTIONS_URLS[1].into(), rest),
        _ => {
            let n = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let url = String::from_utf8_lossy(&rest[..n]).into_owned();
            (url, rest.get(n + 1..).unwrap_or(&[]))
        }
    };
    let a = options::decode(&url, value);
    let b = options::decode(&url, value);
    match (a, b) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.0, b.0),
        _ => panic!("decode is not deterministic"),
    }
});
