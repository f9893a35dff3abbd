//! `kubectl astro validate`: the platform's `POST /deploy/validate`, offline.

use astro_deploy::api::ValidateResponse;
use astro_deploy::resolve::{ResolveOptions, resolve};

use super::args::RequestArgs;
use super::exit::{Failure, code};
use super::{inputs, print_json};

/// Prints `{"valid": true, "build_id", "name"}` or `{"valid": false, "validation_errors"}`.
pub fn run(args: &RequestArgs) -> Result<i32, Failure> {
    let outcome = inputs::request(args).and_then(|req| {
        let build = inputs::build(args, &req)?;
        resolve(&req, &build, &ResolveOptions::default())?;
        Ok(build)
    });
    let (response, exit) = match outcome {
        Ok(build) => (
            ValidateResponse {
                valid: true,
                build_id: Some(build.record.build_id.clone()),
                name: Some(build.record.name.clone()),
                validation_errors: None,
            },
            code::SUCCESS,
        ),
        Err(f) if f.code == code::INVALID => (
            ValidateResponse {
                valid: false,
                build_id: None,
                name: None,
                validation_errors: Some(f.errors.clone()),
            },
            code::INVALID,
        ),
        Err(f) => return Err(f),
    };
    print_json(&response)?;
    Ok(exit)
}
