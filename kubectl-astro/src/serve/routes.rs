//! The routes of `kubectl astro serve`, the access log, and [`status_of`]: the one place an
//! engine [`ErrorKind`] becomes an HTTP status.
//!
//! Every `/api/v1` route checks, in this order: the bearer token (401), the content type
//! (415), the body size (413), the body (400, naming the field), the caller's role in the
//! request's account (403); then deploy and undeploy take the agent's lock in this process,
//! and the engine its Lease in the cluster (409 past `--lock-wait`, the two waits together).
//! The `GET` routes have no body: the account and agent come from the path or the query,
//! checked as names (400) before the role (403).

use std::sync::Arc;
use std::time::{Duration, Instant};

use astro_deploy::api::{self, DeployRequest, DeployResponseStatus, UndeployRequest};
use astro_deploy::catalog::Build;
use astro_deploy::input::{MAX_DOCUMENT_BYTES, parse_document};
use astro_deploy::resolve::resolve;
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use kubectl_astro::{
    DeployOptions, ErrorKind, HistoryOptions, Interrupt, ListOptions, LockOptions, Plan,
    StatusOptions, TriggerOptions, UndeployOptions,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::auth::{Caller, Role, Unauthenticated, bearer};
use super::listen::Running;
use super::locks::Held;
use super::review::Identity;
use super::{App, catalog};
use crate::cli::exit::Failure;
use crate::cli::output::err_line;
use crate::cli::{inputs, validate};

/// The OpenAPI document of [`ROUTES`], served at `GET /api/v1/openapi.yaml`.
pub const OPENAPI: &str = include_str!("openapi.yaml");

/// A route: its method, its path, and its handler for that method.
type Route = (
    Method,
    &'static str,
    fn(MethodFilter) -> MethodRouter<Arc<App>>,
);

/// Every route of the server, and nothing else: [`router`] serves exactly these, and
/// [`OPENAPI`] documents exactly these (a test compares them).
pub const ROUTES: &[Route] = &[
    (Method::POST, "/api/v1/deploy", |m| on(m, deploy)),
    (Method::POST, "/api/v1/deploy/validate", |m| on(m, validate)),
    (Method::POST, "/api/v1/undeploy", |m| on(m, undeploy)),
    (Method::GET, "/api/v1/deployments", |m| on(m, deployments)),
    (Method::GET, "/api/v1/agents/{account}/{name}", |m| {
        on(m, catalog::agent)
    }),
    (
        Method::POST,
        "/api/v1/agents/{account}/{name}/register",
        |m| on(m, catalog::register),
    ),
    (
        Method::POST,
        "/api/v1/agents/{account}/{name}/publish",
        |m| on(m, catalog::publish),
    ),
    (
        Method::GET,
        "/api/v1/agents/{account}/{name}/deployment",
        |m| on(m, agent_status),
    ),
    (
        Method::GET,
        "/api/v1/agents/{account}/{name}/deployment/history",
        |m| on(m, agent_history),
    ),
    (
        Method::POST,
        "/api/v1/deployments/{namespace}/ingestion/{ingestion}/trigger",
        |m| on(m, trigger),
    ),
    (Method::GET, "/api/v1/openapi.yaml", |m| on(m, openapi)),
    (Method::GET, "/healthz", |m| on(m, healthz)),
    (Method::GET, "/readyz", |m| on(m, readyz)),
    (Method::GET, "/metrics", |m| on(m, metrics)),
];

/// The server's routes over `app`, with the access log around them.
pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new();
    for (method, path, handler) in ROUTES {
        // Every method of ROUTES is a standard one, which MethodFilter knows (tested).
        if let Ok(filter) = MethodFilter::try_from(method.clone()) {
            router = router.route(path, handler(filter));
        }
    }
    router
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(app.clone())
        .layer(middleware::from_fn_with_state(app.clone(), deadline))
        .layer(middleware::from_fn_with_state(app, access_log))
}

/// The path of the deploy route, which keeps its own deadline (it interrupts the deploy).
const DEPLOY: &str = "/api/v1/deploy";

/// Every route but deploy within `--request-deadline`: past it, 504 (the work a handler
/// spawned, an undeploy's namespace deletion, still ends on its own).
async fn deadline(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>();
    if route.is_some_and(|r| r.as_str() == DEPLOY) {
        return next.run(request).await;
    }
    match tokio::time::timeout(app.request_deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => past_deadline(app.request_deadline, "").into_response(),
    }
}

/// 504: the request ran past `--request-deadline`; `what` says what became of it.
fn past_deadline(timeout: Duration, what: &str) -> Problem {
    Problem::new(
        StatusCode::GATEWAY_TIMEOUT,
        "timeout",
        format!(
            "the request ran past its deadline (--request-deadline {} ms){what}",
            timeout.as_millis()
        ),
    )
}

/// 503: the server is stopping and its grace period passed; `what` says what became of the
/// request.
fn shutting_down(what: &str) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting down",
        format!("the server is shutting down and its --shutdown-grace passed{what}"),
    )
}

/// The HTTP status of an engine failure: the only place an [`ErrorKind`] becomes one.
///
/// Invalid input and the engine's refusals (a prune over budget, a namespace it did not
/// create) are the caller's to fix: 400. The cluster rejecting *the server's* credentials or
/// permissions is not the caller's doing, so it is a 500 like any other cluster failure (a
/// 401/403 here means the caller's token). So is an invalid cluster settings ConfigMap
/// (`astro-system/astro-settings`): the server's operator's to fix, not the caller's.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::Refused => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict | ErrorKind::Busy => StatusCode::CONFLICT,
        ErrorKind::Interrupted => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::InvalidSettings => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A request that ends in an `Error {error, details}` answer.
#[derive(Debug)]
pub struct Problem {
    pub(super) status: StatusCode,
    pub(super) body: api::Error,
}

impl Problem {
    /// A problem with `status`, `error` and `details`.
    pub(super) fn new(status: StatusCode, error: &str, details: impl Into<String>) -> Problem {
        Problem {
            status,
            body: api::Error {
                error: error.to_string(),
                details: details.into(),
            },
        }
    }
}

impl From<Failure> for Problem {
    fn from(f: Failure) -> Problem {
        Problem {
            status: status_of(f.kind),
            body: f.body,
        }
    }
}

impl From<kubectl_astro::Error> for Problem {
    fn from(e: kubectl_astro::Error) -> Problem {
        Failure::from(e).into()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = json(self.status, &self.body);
        // The body was not read to its end, so the connection cannot carry another request:
        // say so, or a client may send its next request down a closing connection.
        if self.status == StatusCode::PAYLOAD_TOO_LARGE
            || self.status == StatusCode::REQUEST_TIMEOUT
        {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `value` as a JSON answer with `status`.
pub(super) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// What the access log line tells of a request beyond its method, route and status: set by
/// the handlers as a response extension.
#[derive(Debug, Clone, Default)]
pub(super) struct Logged {
    /// The token's name (never the token).
    pub(super) caller: Option<String>,
    /// The request's account, once read.
    pub(super) account: Option<String>,
}

/// The header that names a request in the access log and in its answer.
const REQUEST_ID: &str = "x-request-id";

/// The request id of `headers`' `x-request-id` when it is a plain one (1 to 128 letters,
/// digits, `-`, `_`, `.`, `:`), else a new one: 16 random bytes in hex. Nothing a client
/// sends can forge or break a log line.
fn request_id(headers: &HeaderMap) -> String {
    let plain = |id: &&str| {
        (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    };
    if let Some(id) = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(plain)
    {
        return id.to_string();
    }
    let mut bytes = [0u8; 16];
    // Without randomness, a time-based id still tells requests apart in the log.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes one line per request on stderr: method, route, status, caller, account, duration,
/// request id, and counts it in the metrics; answers the request id in `x-request-id`. No
/// other header, no body or token is ever part of it; the route is the matched pattern, not
/// the path the client sent.
async fn access_log(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "-".to_string(), |m| m.as_str().to_string());
    let id = request_id(request.headers());
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let logged = response
        .extensions()
        .get::<Logged>()
        .cloned()
        .unwrap_or_default();
    // Only names that passed the naming rules are printed: nothing a client sent can forge
    // a log line.
    let account = logged
        .account
        .filter(|a| astro_deploy::naming::check_account(a).is_ok())
        .unwrap_or_else(|| "-".into());
    err_line(format_args!(
        "access: {method} {route} status={} caller={} account={account} duration_ms={} request_id={id}",
        response.status().as_u16(),
        logged.caller.as_deref().unwrap_or("-"),
        started.elapsed().as_millis()
    ));
    // A method no route has is counted as `other`: a client cannot add label values.
    let known = ROUTES.iter().any(|(m, _, _)| *m == method);
    let method = if known { method.as_str() } else { "other" };
    app.metrics
        .request(method, &route, response.status().as_u16());
    response
}

/// The answer of a handler, with what the access log needs.
pub(super) fn answer(logged: Logged, result: Result<Response, Problem>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    response.extensions_mut().insert(logged);
    response
}

/// The caller of a request, from its bearer token (401 otherwise): a token of the tokens
/// file, else — with `--token-review` — the Kubernetes identity the cluster says it is (503
/// when the cluster cannot say, 500 when the server may not ask).
pub(super) async fn authenticate(
    app: &App,
    headers: &HeaderMap,
    logged: &mut Logged,
) -> Result<Arc<Caller>, Problem> {
    let header = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let unauthorized = |why: Unauthenticated| {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", why.details())
    };
    let caller = match app.tokens.caller(header) {
        Ok(caller) => caller,
        Err(Unauthenticated::Unknown) => {
            let (Some(reviewer), Some(token)) = (&app.reviewer, header.and_then(bearer)) else {
                return Err(unauthorized(Unauthenticated::Unknown));
            };
            match reviewer.review(token).await {
                Ok(Identity::User { user, groups }) => {
                    Arc::new(app.tokens.current().kubernetes_caller(&user, &groups))
                }
                Ok(Identity::Rejected) => return Err(unauthorized(Unauthenticated::Unknown)),
                Err(failed) => {
                    let status = if failed.transient {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::INTERNAL_SERVER_ERROR
                    };
                    return Err(Problem::new(
                        status,
                        "token review failed",
                        format!(
                            "the token is not in the tokens file, and the cluster could not \
                             say whose it is: {}",
                            failed.message
                        ),
                    ));
                }
            }
        }
        Err(why) => return Err(unauthorized(why)),
    };
    logged.caller = Some(caller.name.clone());
    Ok(caller)
}

/// 403 unless `caller` holds `needed` in `account`.
pub(super) fn authorize(caller: &Caller, account: &str, needed: Role) -> Result<(), Problem> {
    if caller.may(account, needed) {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("insufficient permissions for account {account}"),
        ))
    }
}

/// The body as text: JSON (415 otherwise) of at most 1 MiB (413 otherwise), UTF-8, sent
/// within `timeout` (408 otherwise).
pub(super) async fn body_text(
    headers: &HeaderMap,
    body: Body,
    timeout: Duration,
) -> Result<String, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request too large",
            format!("the body is larger than the {MAX_DOCUMENT_BYTES}-byte limit"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let declared_too_large = declared.is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64);
    // The body is read (up to the limit) even when it is refused for its type, so the client,
    // still sending it, is not cut off before it reads the answer.
    let read = if declared_too_large {
        None
    } else {
        let read = Limited::new(body, MAX_DOCUMENT_BYTES).collect();
        match tokio::time::timeout(timeout, read).await {
            Ok(read) => Some(read),
            Err(_) => {
                return Err(Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request timeout",
                    format!(
                        "the body was not sent within --read-timeout ({} ms)",
                        timeout.as_millis()
                    ),
                ));
            }
        }
    };
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported media type",
            "Content-Type must be application/json",
        ));
    }
    let Some(read) = read else {
        return Err(too_large());
    };
    let bytes = read
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                too_large()
            } else {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid request",
                    format!("cannot read the body: {e}"),
                )
            }
        })?
        .to_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid request",
            "request: the body is not UTF-8 text",
        )
    })
}

/// Reads a JSON document of type `T`; the error names the field (the library's reader, as
/// `-f FILE` uses).
pub(super) fn parse<T: DeserializeOwned + Serialize>(text: &str) -> Result<T, Failure> {
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        return Err(Failure::invalid(
            "request: invalid JSON: expected an object of fields",
        ));
    }
    Ok(parse_document::<T>("request", text)?)
}

/// The build `req` deploys: from `--catalog DIR`, else the cluster catalog.
async fn build(app: &App, req: &DeployRequest) -> Result<Build, Failure> {
    match &app.catalog {
        Some(dir) => inputs::catalog_build(dir, req, None),
        None => inputs::build_for_cluster(None, &app.cluster, req, None).await,
    }
}

/// The key of an agent's lock.
pub(super) fn agent_key(account: &str, name: &str) -> String {
    format!("{account}/{name}")
}

/// The agent's lock, or 409 when another deploy or undeploy of it holds the lock past
/// `--lock-wait`; with the options of its Lease, waited for in what is left of `--lock-wait`.
async fn hold_agent(app: &App, account: &str, name: &str) -> Result<(Held, LockOptions), Problem> {
    let started = Instant::now();
    match app
        .locks
        .hold(&agent_key(account, name), app.lock_wait)
        .await
    {
        Some(held) => {
            let left = app.lock_wait.saturating_sub(started.elapsed());
            Ok((held, LockOptions::default().wait(left)))
        }
        None => Err(busy(account, name, app.lock_wait)),
    }
}

/// 409: another deploy or undeploy of the agent held its lock past `--lock-wait`.
fn busy(account: &str, name: &str, waited: Duration) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "busy",
        format!(
            "another deploy or undeploy of {account}/{name} is still running after {} ms; try again later",
            waited.as_millis()
        ),
    )
}

/// `POST /api/v1/deploy`: a `DeployRequest` → the engine's deploy → `DeployResponse` (200
/// success, 207 partial). Past `--request-deadline`, or once the shutdown grace has passed,
/// the deploy is interrupted and answers its partial result (207), or 504/503 when it had
/// applied nothing yet.
async fn deploy(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let mut logged = Logged::default();
    let result = deploy_request(&app, &headers, body, &mut logged).await;
    answer(logged, result)
}

/// Why a deploy was interrupted.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// `--request-deadline` passed.
    Deadline,
    /// The server is shutting down and `--shutdown-grace` passed.
    Shutdown,
}

impl Stop {
    /// The `Error` answer of a request stopped before its deploy applied anything.
    fn problem(self, app: &App) -> Problem {
        let what = "; nothing was applied";
        match self {
            Stop::Deadline => past_deadline(app.request_deadline, what),
            Stop::Shutdown => shutting_down(what),
        }
    }

    /// The first error of an interrupted deploy's partial result.
    fn error(self, app: &App) -> String {
        let why = match self {
            Stop::Deadline => format!(
                "the request ran past its deadline (--request-deadline {} ms)",
                app.request_deadline.as_millis()
            ),
            Stop::Shutdown => "the server is shutting down and its --shutdown-grace passed".into(),
        };
        format!(
            "interrupted: {why}: the objects listed as failed were not applied and nothing was \
             pruned; deploy again to converge"
        )
    }
}

async fn deploy_request(
    app: &Arc<App>,
    headers: &HeaderMap,
    body: Body,
    logged: &mut Logged,
) -> Result<Response, Problem> {
    let deadline = tokio::time::Instant::now() + app.request_deadline;
    let caller = authenticate(app, headers, logged).await?;
    let text = body_text(headers, body, app.read_timeout).await?;
    let req: DeployRequest = parse(&text)?;
    logged.account = Some(req.account.clone());
    inputs::check_names(&req)?;
    authorize(&caller, &req.account, Role::Deployer)?;
    let (held, lock) = tokio::select! {
        held = hold_agent(app, &req.account, &req.name) => held?,
        () = tokio::time::sleep_until(deadline) => return Err(Stop::Deadline.problem(app)),
        () = app.stopping.triggered() => return Err(Stop::Shutdown.problem(app)),
    };
    // The deploy runs in a task of its own, holding the agent's lock: a client that hangs up
    // does not cut it short between two requests to the cluster. Stopping it goes through
    // its interrupt, so it always answers what it applied.
    let interrupt = Interrupt::new();
    let running = app.tasks.start();
    let mut task = tokio::spawn(locked_deploy(
        app.clone(),
        req,
        (held, running),
        lock,
        interrupt.clone(),
    ));
    let stop = tokio::select! {
        joined = &mut task => Ok(joined),
        () = tokio::time::sleep_until(deadline) => Err(Stop::Deadline),
        () = app.stopping.triggered() => Err(Stop::Shutdown),
    };
    let (joined, stop) = match stop {
        Ok(joined) => (joined, None),
        Err(stop) => {
            interrupt.trigger();
            (task.await, Some(stop))
        }
    };
    let deployed = joined.map_err(|e| {
        Problem::from(kubectl_astro::Error::Failed(format!(
            "the deploy task failed: {e}"
        )))
    })?;
    let mut deployed = match (deployed, stop) {
        (Err(p), Some(stop)) if p.status == status_of(ErrorKind::Interrupted) => {
            return Err(stop.problem(app));
        }
        (deployed, _) => deployed?,
    };
    if let Some(stop) = stop
        && deployed.interrupted
    {
        deployed.response.errors.insert(0, stop.error(app));
    }
    let status = match deployed.response.status {
        DeployResponseStatus::Success => StatusCode::OK,
        DeployResponseStatus::Partial => StatusCode::MULTI_STATUS,
    };
    Ok(json(status, &deployed.response))
}

/// The deploy of `req` while `_held` holds its agent's lock and counts as running: the
/// build, the plan and the engine's deploy with `deploy`'s defaults, taking the agent's Lease
/// as `lock` says and stopping when `interrupt` is triggered.
async fn locked_deploy(
    app: Arc<App>,
    req: DeployRequest,
    _held: (Held, Running),
    lock: LockOptions,
    interrupt: Interrupt,
) -> Result<kubectl_astro::Deployed, Problem> {
    let options = app.resolve_options().await?;
    let build = build(&app, &req).await?;
    let plan = Plan::new(&req, &build, &options, &app.templates)?;
    for w in &plan.resolved.warnings {
        err_line(format_args!(
            "warning: {}/{}: spec: {w}",
            req.account, req.name
        ));
    }
    let options = DeployOptions::default()
        .lock(lock)
        .interrupt(interrupt.clone());
    let started = Instant::now();
    let deploy = kubectl_astro::deploy(&app.cluster, &plan, &options);
    tokio::pin!(deploy);
    // Interrupted at shutdown here too: its client may have hung up.
    let deployed = tokio::select! {
        deployed = &mut deploy => deployed,
        () = app.stopping.triggered() => {
            interrupt.trigger();
            deploy.await
        }
    };
    let response = deployed.as_ref().ok().map(|d| &d.response);
    app.metrics.deploy(started.elapsed(), response);
    Ok(deployed?)
}

/// `POST /api/v1/deploy/validate`: `{valid: true, build_id, name}`, or 400 `{valid: false,
/// validation_errors}` — the answer of `kubectl astro validate`.
async fn validate(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let mut logged = Logged::default();
    let result = validate_request(&app, &headers, body, &mut logged).await;
    answer(logged, result)
}

async fn validate_request(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    logged: &mut Logged,
) -> Result<Response, Problem> {
    let caller = authenticate(app, headers, logged).await?;
    // A body that cannot be read as text is an invalid request too: its 400 answers
    // `valid: false` like any other.
    let text = match body_text(headers, body, app.read_timeout).await {
        Err(p) if p.status == StatusCode::BAD_REQUEST => Err(Failure::invalid(p.body.details)),
        other => Ok(other?),
    };
    let outcome = match text
        .and_then(|text| parse::<DeployRequest>(&text))
        .and_then(|req| {
            inputs::check_names(&req)?;
            Ok(req)
        }) {
        Ok(req) => {
            logged.account = Some(req.account.clone());
            authorize(&caller, &req.account, Role::Viewer)?;
            // Not part of the outcome: a bad settings ConfigMap is no answer about the
            // request (500, not `valid: false`).
            let options = app.resolve_options().await?;
            match build(app, &req).await {
                Ok(build) => resolve(&req, &build, &options)
                    .map(|_| build)
                    .map_err(Failure::from),
                Err(f) => Err(f),
            }
        }
        Err(f) => Err(f),
    };
    let response = validate::answer(outcome)?;
    let status = if response.valid {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(json(status, &response))
}

/// `POST /api/v1/undeploy`: `{account, name}` → the engine's undeploy → `UndeployResponse`.
async fn undeploy(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let mut logged = Logged::default();
    let result = undeploy_request(&app, &headers, body, &mut logged).await;
    answer(logged, result)
}

async fn undeploy_request(
    app: &Arc<App>,
    headers: &HeaderMap,
    body: Body,
    logged: &mut Logged,
) -> Result<Response, Problem> {
    let caller = authenticate(app, headers, logged).await?;
    let text = body_text(headers, body, app.read_timeout).await?;
    let req: UndeployRequest = parse(&text)?;
    logged.account = Some(req.account.clone());
    inputs::check_agent(&req.account, &req.name)?;
    authorize(&caller, &req.account, Role::Deployer)?;
    let (held, lock) = tokio::select! {
        held = hold_agent(app, &req.account, &req.name) => held?,
        () = app.stopping.triggered() => return Err(shutting_down("; nothing was deleted")),
    };
    // In a task of its own holding the lock, as a deploy: a client that hangs up does not
    // cut it short.
    let app = app.clone();
    let running = app.tasks.start();
    let task = tokio::spawn(async move {
        let _held = (held, running);
        let options = UndeployOptions::default()
            .namespace(app.namespace.clone())
            .lock(lock);
        kubectl_astro::undeploy(&app.cluster, &req.account, &req.name, &options).await
    });
    let response = task.await.map_err(|e| {
        Problem::from(kubectl_astro::Error::Failed(format!(
            "the undeploy task failed: {e}"
        )))
    })??;
    Ok(json(StatusCode::OK, &response))
}

/// The value of parameter `name` in the query string `query`, percent-decoded.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `GET /api/v1/deployments?account=A`: `list`'s `{deployments, count}` — of account `A`
/// (viewer there, 403 otherwise), or without `account` of every account the caller may view.
async fn deployments(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Response {
    let mut logged = Logged::default();
    let result = deployments_request(&app, &headers, &uri, &mut logged).await;
    answer(logged, result)
}

async fn deployments_request(
    app: &App,
    headers: &HeaderMap,
    uri: &Uri,
    logged: &mut Logged,
) -> Result<Response, Problem> {
    let caller = authenticate(app, headers, logged).await?;
    let account = query_param(uri.query(), "account");
    if let Some(account) = &account {
        logged.account = Some(account.clone());
        astro_deploy::naming::check_account(account)
            .map_err(|m| Failure::invalid(format!("account: {m}")))?;
        authorize(&caller, account, Role::Viewer)?;
    }
    let options = ListOptions::default().account(account);
    let deployments: Vec<_> = kubectl_astro::list(&app.cluster, &options)
        .await?
        .into_iter()
        .filter(|d| caller.may(&d.account, Role::Viewer))
        .collect();
    let count = deployments.len();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"deployments": deployments, "count": count}),
    ))
}

/// `GET /api/v1/agents/{account}/{name}/deployment`: the agent's deployment in detail, as
/// `kubectl astro status -o json` prints it; 404 when there is none.
async fn agent_status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((account, name)): Path<(String, String)>,
) -> Response {
    let mut logged = Logged::default();
    let result = async {
        viewer_of_agent(&app, &headers, &account, &name, &mut logged).await?;
        let options = StatusOptions::default().namespace(app.namespace.clone());
        let status = kubectl_astro::status(&app.cluster, &account, &name, &options).await?;
        Ok(json(StatusCode::OK, &status))
    }
    .await;
    answer(logged, result)
}

/// `GET /api/v1/agents/{account}/{name}/deployment/history`: `{deployments:
/// DeploymentRecord[], count}`, newest first, as `kubectl astro history -o json` prints it;
/// 404 when there is no deployment.
async fn agent_history(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((account, name)): Path<(String, String)>,
) -> Response {
    let mut logged = Logged::default();
    let result = async {
        viewer_of_agent(&app, &headers, &account, &name, &mut logged).await?;
        let options = HistoryOptions::default().namespace(app.namespace.clone());
        let history = kubectl_astro::history(&app.cluster, &account, &name, &options).await?;
        for p in &history.problems {
            err_line(format_args!(
                "warning: {account}/{name}: deployment history: {p}"
            ));
        }
        let records = &history.records;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({"deployments": records, "count": records.len()}),
        ))
    }
    .await;
    answer(logged, result)
}

/// The checks of a `GET` of one agent: the caller (401), the names (400), a viewer role in
/// the account (403).
pub(super) async fn viewer_of_agent(
    app: &App,
    headers: &HeaderMap,
    account: &str,
    name: &str,
    logged: &mut Logged,
) -> Result<(), Problem> {
    let caller = authenticate(app, headers, logged).await?;
    logged.account = Some(account.to_string());
    inputs::check_agent(account, name)?;
    authorize(&caller, account, Role::Viewer)
}

/// `POST /api/v1/deployments/{namespace}/ingestion/{ingestion}/trigger?account=A`: runs the
/// ingestion now, as `kubectl astro trigger` does (no body; deployer of `A`).
async fn trigger(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((namespace, ingestion)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let mut logged = Logged::default();
    let result = async {
        let caller = authenticate(&app, &headers, &mut logged).await?;
        let account = query_param(uri.query(), "account")
            .ok_or_else(|| Failure::invalid("account: the query parameter is required"))?;
        logged.account = Some(account.clone());
        astro_deploy::naming::check_account(&account)
            .map_err(|m| Failure::invalid(format!("account: {m}")))?;
        authorize(&caller, &account, Role::Deployer)?;
        let options = TriggerOptions::default();
        let response =
            kubectl_astro::trigger_in(&app.cluster, &account, &namespace, &ingestion, &options)
                .await?;
        Ok(json(StatusCode::OK, &response))
    }
    .await;
    answer(logged, result)
}

/// `GET /api/v1/openapi.yaml`: [`OPENAPI`], for any valid token.
async fn openapi(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let mut logged = Logged::default();
    let result = authenticate(&app, &headers, &mut logged)
        .await
        .map(|_| ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI).into_response());
    answer(logged, result)
}

/// `GET /metrics`: the Prometheus metrics (OpenMetrics text). No token, as probes.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], app.metrics.text()).into_response()
}

/// `GET /healthz`: 200 while the server runs.
async fn healthz() -> Response {
    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: 200 when the cluster answers `GET /version` within 5 s (one attempt, no
/// retries), 503 otherwise.
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let mut probe = app
        .cluster
        .clone()
        .request_timeout(Some(Duration::from_secs(5)));
    probe.retry.retries = 0;
    let request = http::Request::get("/version").body(hyper::body::Bytes::new());
    let result = match request {
        Ok(r) => probe.call(Ok(r)).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(_) => json(StatusCode::OK, &serde_json::json!({"status": "ready"})),
        Err(e) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &api::Error {
                error: "cluster unreachable".into(),
                details: e,
            },
        ),
    }
}

/// Any other path: 404.
async fn no_route() -> Response {
    Problem::new(StatusCode::NOT_FOUND, "not found", "no such route").into_response()
}

/// A known path with another method: 405.
async fn wrong_method() -> Response {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed",
        "this route takes another method",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(METHOD, path)` of every operation of the OpenAPI document.
    fn documented() -> Vec<(String, String)> {
        let doc = astro_deploy::input::parse_value("openapi.yaml", OPENAPI)
            .unwrap_or_else(|e| panic!("openapi.yaml does not parse: {e}"));
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
        ops.sort();
        ops
    }

    #[test]
    fn the_document_lists_exactly_the_routes() {
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        served.sort();
        assert_eq!(served, documented());
    }

    #[test]
    fn every_route_method_is_served() {
        for (method, path, _) in ROUTES {
            assert!(
                MethodFilter::try_from(method.clone()).is_ok(),
                "{method} {path}"
            );
        }
    }
}
