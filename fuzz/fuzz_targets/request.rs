//! Any bytes as a DeployRequest (JSON or YAML): no panic, no hang; what is read came from the
//! input.
#![no_main]

use astro_deploy::api::DeployRequest;
use astro_deploy::input::parse_document;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(req) = parse_document::<DeployRequest>("request", text) {
        for k in req.user_credentials.keys() {
            if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                assert!(text.contains(k.as_str()), "credential {k} not in the input");
            }
        }
    }
});
