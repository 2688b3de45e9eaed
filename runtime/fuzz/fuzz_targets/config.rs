//! Arbitrary bytes as config.json: `parse_config` then `validate` (what `hull create` runs on a
//! bundle's config before anything is created) must never panic, only return errors; a config
//! that validates must survive a serialize/parse round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = hull::spec::parse_config(data) else {
        return;
    };
    let _ = hull::spec::namespace_types(&spec);
    if hull::spec::validate(&spec).is_err() {
        return;
    }
    let again = serde_json::to_vec(&spec).expect("a parsed Spec serializes");
    let spec2 = hull::spec::parse_config(&again).expect("a serialized Spec parses again");
    hull::spec::validate(&spec2).expect("a valid Spec is still valid after a round trip");
});
