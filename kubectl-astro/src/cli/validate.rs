//! `kubectl astro validate`: the platform's `POST /deploy/validate`, offline.

use astro_deploy::api::ValidateResponse;
use astro_deploy::catalog::Build;
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
    let response = answer(outcome)?;
    print_json(&response)?;
    Ok(if response.valid {
        code::SUCCESS
    } else {
        code::INVALID
    })
}

/// The answer to a validation whose `outcome` is the build the request would deploy, or why
/// not: `valid: true`, or `valid: false` with one line per problem for invalid input. Any
/// other failure (no such build, a cluster that does not answer) is not an answer about the
/// request: it stays an `Err`. `validate` and the server's `POST /api/v1/deploy/validate`
/// both answer with it.
pub fn answer(outcome: Result<Build, Failure>) -> Result<ValidateResponse, Failure> {
    match outcome {
        Ok(build) => Ok(ValidateResponse {
            valid: true,
            build_id: Some(build.record.build_id.clone()),
            name: Some(build.record.name.clone()),
            validation_errors: None,
        }),
        Err(f) if f.code == code::INVALID => Ok(ValidateResponse {
            valid: false,
            build_id: None,
            name: None,
            validation_errors: Some(f.errors.clone()),
        }),
        Err(f) => Err(f),
    }
}
