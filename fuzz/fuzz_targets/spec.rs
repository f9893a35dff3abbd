//! Any bytes as an astropods.yml: parse + validate never panic nor hang.
#![no_main]

use astro_deploy::spec::{parse_spec, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = parse_spec(text) {
        let _ = validate::validate(&spec);
    }
});
