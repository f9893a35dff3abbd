//! What a deploy or a diff sends: the resolved deployment and its manifests, rendered for a
//! cluster.

use astro_deploy::api::DeployRequest;
use astro_deploy::catalog::{Build, BuildRecord};
use astro_deploy::render::{Manifest, Templates, render};
use astro_deploy::resolve::{MissingPasswords, ResolveOptions, ResolvedDeployment, resolve};

use crate::error::Error;
use crate::history::RecordedRequest;

/// A deployment ready to apply: what resolve decided and the manifests, in apply order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Plan {
    /// Names, namespace, labels, endpoints and store passwords of the deployment.
    pub resolved: ResolvedDeployment,
    /// The objects to apply, Namespace first.
    pub manifests: Vec<Manifest>,
    /// The request, without credential values (for the deployment's history).
    pub request: RecordedRequest,
    /// The build record deployed (for the deployment's history).
    pub build: BuildRecord,
}

impl Plan {
    /// Resolves `request` against `build` and renders it with `templates`. Store passwords
    /// the options do not supply are left out of their Secrets (a dry run's placeholder is
    /// never sent): the deploy generates each one the first time, under its own field manager.
    pub fn new(
        request: &DeployRequest,
        build: &Build,
        options: &ResolveOptions,
        templates: &Templates,
    ) -> Result<Plan, Error> {
        let options = ResolveOptions {
            missing_passwords: MissingPasswords::GeneratedByCluster,
            ..options.clone()
        };
        let resolved = resolve(request, build, &options)?;
        let manifests = render(&resolved, templates)?;
        Ok(Plan {
            resolved,
            manifests,
            request: RecordedRequest::of(request),
            build: build.record.clone(),
        })
    }
}
