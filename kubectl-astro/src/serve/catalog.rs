//! The build catalog routes, as the platform has them: an agent's builds
//! (`GET /api/v1/agents/{account}/{name}`), `register` and `publish` — what `kubectl astro
//! build push|publish` do, on the catalog the server deploys from.
//!
//! Reads come from `--catalog DIR` when it is given, else from the in-cluster catalog.
//! Writes go to the in-cluster catalog only: a directory catalog is read-only here (409).
//! Builds are immutable (a changed build under a known `build_id` is a 409; the same one
//! again is a retry and changes nothing), and so are published versions.

use std::sync::Arc;

use astro_deploy::catalog::{Build, BuildRecord};
use astro_deploy::error::{Error as SpecError, FieldError};
use astro_deploy::spec::{self, validate};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kubectl_astro::catalog as cluster_catalog;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::App;
use super::auth::Role;
use super::locks::Held;
use super::routes::{
    Logged, Problem, agent_key, answer, authenticate, authorize, body_text, json, parse,
    viewer_of_agent,
};
use crate::cli::exit::Failure;
use crate::cli::inputs;
use crate::cli::output::err_line;

/// The body of `POST …/register` (the platform's `RegisterAgentRequest`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgentRequest {
    /// The build's id: 1 to 63 letters, digits, `-`, `.` or `_`.
    pub build_id: String,
    /// The OCI registry the build's images were pushed to.
    pub registry: String,
    /// The build's `astropods.yml`, as YAML text.
    pub spec_content: String,
    /// The build's README (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readme: Option<String>,
}

/// The body of `POST …/publish`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishAgentRequest {
    /// The build to publish.
    pub build_id: String,
    /// Its semantic version (`MAJOR.MINOR.PATCH`).
    pub version: String,
}

/// `GET /api/v1/agents/{account}/{name}`: `AgentResponse {account, name, registry,
/// versions}`, every build of the agent newest first; 404 when it has none. Viewer of the
/// account.
pub async fn agent(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((account, name)): Path<(String, String)>,
) -> Response {
    let mut logged = Logged::default();
    let result = async {
        viewer_of_agent(&app, &headers, &account, &name, &mut logged).await?;
        // Each build with its README (a directory catalog has none).
        let mut versions: Vec<(BuildRecord, Option<String>)> = match &app.catalog {
            Some(dir) => inputs::catalog_records(dir, &account, &name)?
                .into_iter()
                .map(|r| (r, None))
                .collect(),
            None => {
                let listing =
                    cluster_catalog::list(&app.cluster, Some(&account), Some(&name)).await?;
                for p in &listing.problems {
                    err_line(format_args!("warning: build catalog: {p}"));
                }
                listing
                    .records
                    .iter()
                    .map(|r| (r.clone(), listing.readme(r).map(str::to_string)))
                    .collect()
            }
        };
        if versions.is_empty() {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "agent not found",
                format!("no build of agent '{name}' in account '{account}'"),
            ));
        }
        versions.sort_by(|(a, _), (b, _)| {
            let at = |r: &BuildRecord| chrono::DateTime::parse_from_rfc3339(&r.registered_at).ok();
            (at(b), &b.build_id).cmp(&(at(a), &a.build_id))
        });
        let registry = versions[0].0.registry.clone();
        let versions: Vec<_> = versions
            .iter()
            .map(|(r, readme)| {
                json!({
                    "build_id": r.build_id,
                    "version": r.version,
                    "spec": r.spec,
                    "readme": readme,
                    "published_at": r.published_at,
                    "registered_at": r.registered_at,
                    "image": r.image,
                    "validation_warnings": spec_warnings(&r.spec, "spec."),
                })
            })
            .collect();
        Ok(json(
            StatusCode::OK,
            &json!({"account": account, "name": name, "registry": registry, "versions": versions}),
        ))
    }
    .await;
    answer(logged, result)
}

/// `POST /api/v1/agents/{account}/{name}/register`: a `RegisterAgentRequest` → the build's
/// record in the in-cluster catalog → 201 `{message, account, name, build_id,
/// validation_warnings}`. Admin of the account.
pub async fn register(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((account, name)): Path<(String, String)>,
    body: Body,
) -> Response {
    let mut logged = Logged::default();
    let result = async {
        let caller = authenticate(&app, &headers, &mut logged).await?;
        let text = body_text(&headers, body, app.read_timeout).await?;
        let req: RegisterAgentRequest = parse(&text)?;
        logged.account = Some(account.clone());
        inputs::check_agent(&account, &name)?;
        authorize(&caller, &account, Role::Admin)?;
        writable(&app)?;
        let build = build_of(&account, &name, &req)?;
        let _held = hold_catalog(&app, &account, &name).await?;
        let done = cluster_catalog::register(&app.cluster, &build, req.readme.as_deref()).await?;
        let id = &build.record.build_id;
        let message = match done {
            cluster_catalog::Registered::Created => {
                format!("build {id} of {account}/{name} registered")
            }
            _ => format!(
                "build {id} of {account}/{name} was already registered with this registry, spec \
                 and readme: nothing changed"
            ),
        };
        Ok(json(
            StatusCode::CREATED,
            &json!({
                "message": message,
                "account": account,
                "name": name,
                "build_id": id,
                "validation_warnings": spec_warnings(&build.record.spec, "spec_content."),
            }),
        ))
    }
    .await;
    answer(logged, result)
}

/// `POST /api/v1/agents/{account}/{name}/publish`: `{build_id, version}` → the build gets
/// the version → 201 `{message, account, name, build_id, version}`. Admin of the account.
pub async fn publish(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((account, name)): Path<(String, String)>,
    body: Body,
) -> Response {
    let mut logged = Logged::default();
    let result = async {
        let caller = authenticate(&app, &headers, &mut logged).await?;
        let text = body_text(&headers, body, app.read_timeout).await?;
        let req: PublishAgentRequest = parse(&text)?;
        logged.account = Some(account.clone());
        inputs::check_agent(&account, &name)?;
        let version = semver::Version::parse(&req.version).map_err(|e| {
            Failure::invalid(format!(
                "request: version: '{}' is not a semantic version MAJOR.MINOR.PATCH such as \
                 1.0.0: {e}",
                astro_deploy::input::printable(&req.version)
            ))
        })?;
        authorize(&caller, &account, Role::Admin)?;
        writable(&app)?;
        let _held = hold_catalog(&app, &account, &name).await?;
        let published =
            cluster_catalog::publish(&app.cluster, &account, &name, &req.build_id, &version)
                .await?;
        let id = &published.record.build_id;
        let message = if published.changed {
            format!("build {id} of {account}/{name} published as {version}")
        } else {
            format!(
                "build {id} of {account}/{name} was already published as {version}: nothing \
                 changed"
            )
        };
        Ok(json(
            StatusCode::CREATED,
            &json!({
                "message": message,
                "account": account,
                "name": name,
                "build_id": id,
                "version": version.to_string(),
            }),
        ))
    }
    .await;
    answer(logged, result)
}

/// 409 when the server reads its builds from `--catalog DIR`, which it does not write.
fn writable(app: &App) -> Result<(), Problem> {
    match &app.catalog {
        None => Ok(()),
        Some(_) => Err(Problem::new(
            StatusCode::CONFLICT,
            "read-only catalog",
            "this server reads its builds from a directory (--catalog), which it never \
             writes; register and publish on a server started without --catalog, which uses \
             the in-cluster catalog",
        )),
    }
}

/// The build a register request describes: its spec read from `spec_content` (errors name
/// `spec_content.<path>`), the image `{registry}/{name}:{build_id}` (the convention of the
/// build's other images), registered now, unpublished.
fn build_of(account: &str, name: &str, req: &RegisterAgentRequest) -> Result<Build, Failure> {
    if req.registry.trim().is_empty() {
        return Err(Failure::invalid(
            "request: registry: must be the OCI registry the build's images were pushed to, \
             such as registry.example.com/team",
        ));
    }
    let value =
        astro_deploy::input::parse_value("request", &req.spec_content).map_err(in_spec_content)?;
    let spec = spec::spec_from_value(value.clone()).map_err(in_spec_content)?;
    let (_, agent) = astro_deploy::naming::split_org(&spec.name);
    if agent != name {
        return Err(Failure::invalid(format!(
            "request: spec_content.name: names agent '{}' but the path is for '{name}'",
            astro_deploy::input::printable(agent)
        )));
    }
    let registry = req.registry.trim_end_matches('/');
    let record = BuildRecord {
        account: account.to_string(),
        name: name.to_string(),
        build_id: req.build_id.clone(),
        image: format!("{registry}/{name}:{}", req.build_id),
        registry: req.registry.clone(),
        registered_at: cluster_catalog::now(),
        version: None,
        published_at: None,
        spec: value,
    };
    record
        .into_build()
        .map_err(|e| Failure::from(as_request(e)))
}

/// A spec error as an error of the request's `spec_content` field.
fn in_spec_content(e: SpecError) -> Failure {
    Failure::from(as_request(spec::prefix_fields(e, "spec_content.")))
}

/// A library error about a part of the request, said of the request.
fn as_request(e: SpecError) -> SpecError {
    match e {
        SpecError::Parse { error, .. } => SpecError::Parse {
            what: "request".into(),
            error,
        },
        SpecError::Invalid { errors, .. } => SpecError::Invalid {
            what: "request".into(),
            errors,
        },
        other => other,
    }
}

/// The warnings of a build's spec, each naming its field under `prefix`; a spec that does
/// not validate (a directory catalog's record edited by hand) lists its errors instead.
fn spec_warnings(value: &serde_json::Value, prefix: &str) -> Vec<String> {
    let problems = match spec::spec_from_value(value.clone()) {
        Ok(spec) => validate::validate(&spec).warnings,
        Err(e) => e.field_errors(),
    };
    problems
        .into_iter()
        .map(|p| {
            let field = if p.field.is_empty() {
                prefix.trim_end_matches('.').to_string()
            } else {
                format!("{prefix}{}", p.field)
            };
            FieldError::new(field, p.message).to_string()
        })
        .collect()
}

/// The lock of the agent's catalog entries in this server: one register or publish of an
/// agent at a time, so a check and its write are not split by another's.
async fn hold_catalog(app: &App, account: &str, name: &str) -> Result<Held, Problem> {
    let key = format!("catalog:{}", agent_key(account, name));
    app.locks.hold(&key, app.lock_wait).await.ok_or_else(|| {
        Problem::new(
            StatusCode::CONFLICT,
            "busy",
            format!(
                "another register or publish of {account}/{name} is still running after {} ms; \
                 try again later",
                app.lock_wait.as_millis()
            ),
        )
    })
}
