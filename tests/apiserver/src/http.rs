//! HTTP serving and routing: paths and verbs as `k8s.io/apiserver/pkg/endpoints/installer.go`
//! registers them, auth, faults, logging.
//!
//! Protocols as kube-apiserver serves them: plain HTTP is HTTP/1.1 only (Go's server does not
//! do h2c for a client that does not ask for it); TLS offers `h2` and `http/1.1` by ALPN and
//! serves what the client chose, HTTP/1.1 when it chose nothing (`--disable-http2-serving`,
//! [`crate::ServerOptions::disable_http2`], offers `http/1.1` alone).

use crate::api::{self, Ctx, Reply};
use crate::auth::{AuthConfig, Authn, ClientCert};
use crate::discovery;
use crate::faults::{FaultAction, FaultController, LoggedRequest, Target, fault_body};
use crate::query::Query;
use crate::resources::{self, ResourceDef};
use crate::status::ApiError;
use crate::store::State;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// Shared server internals.
pub(crate) struct Inner {
    pub state: Mutex<State>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub faults: FaultController,
    pub auth: AuthConfig,
    pub host: String,
    pub notify: tokio::sync::Notify,
    /// TCP connections accepted so far (the last connection's number).
    pub connections: AtomicU64,
    /// Requests whose handling started so far (the last request's number).
    pub requests: AtomicU64,
    /// The simulated network round trip ([`crate::ServerOptions::rtt`]).
    pub rtt: Duration,
    /// Times the round trips (when `rtt` is not zero).
    pub delay: Option<crate::delay::DelayLine>,
}

/// Streams one HTTP/2 connection may carry at once: Go's default, which kube-apiserver keeps
/// unless `--http2-max-streams-per-connection` is set.
const MAX_CONCURRENT_STREAMS: u32 = 250;

/// Response body type: a full JSON body or a watch stream.
pub(crate) type RespBody = BoxBody<Bytes, std::convert::Infallible>;

fn full(b: Bytes) -> RespBody {
    Full::new(b).boxed()
}

fn empty() -> Response<RespBody> {
    Response::new(full(Bytes::new()))
}

enum Route<'a> {
    Text(&'static str),
    Json(Value, &'static str),
    Resource {
        res: &'static ResourceDef,
        ns: &'a str,
        name: &'a str,
        sub: Option<&'a str>,
    },
    UnknownResource,
    /// `authentication.k8s.io/v1` `tokenreviews` (see [`crate::tokenreview`]).
    TokenReview,
    NotFound,
}

const JSON: &str = "application/json";

fn route<'a>(segs: &[&'a str], accept: &str, host: &str) -> Route<'a> {
    match segs {
        ["version"] => Route::Json(discovery::version(), JSON),
        ["healthz"] | ["readyz"] | ["livez"] => Route::Text("ok"),
        ["api"] => match discovery::wants_aggregated(accept) {
            Some(ct) => Route::Json(discovery::aggregated(true, ct), ct),
            None => Route::Json(discovery::api_versions(host), JSON),
        },
        ["apis"] => match discovery::wants_aggregated(accept) {
            Some(ct) => Route::Json(discovery::aggregated(false, ct), ct),
            None => Route::Json(discovery::api_group_list(), JSON),
        },
        ["apis", g] => match discovery::api_group(g) {
            Some(v) => Route::Json(v, JSON),
            None => Route::NotFound,
        },
        ["openapi", "v3"] => Route::Json(discovery::openapi_root(), JSON),
        ["openapi", "v3", "api", v] => match discovery::openapi_gv("", v) {
            Some(d) => Route::Json(d, JSON),
            None => Route::NotFound,
        },
        ["openapi", "v3", "apis", g, v] => match discovery::openapi_gv(g, v) {
            Some(d) => Route::Json(d, JSON),
            None => Route::NotFound,
        },
        ["apis", "authentication.k8s.io", "v1", "tokenreviews"] => Route::TokenReview,
        ["api", "v1", rest @ ..] => resource_route("", "v1", rest),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource_route<'a>(group: &str, version: &str, rest: &[&'a str]) -> Route<'a> {
    if resources::in_group_version(group, version).is_empty() {
        return Route::NotFound;
    }
    let find = |p: &str| resources::by_plural(group, version, p);
    let r = |res, ns, name, sub| Route::Resource { res, ns, name, sub };
    match rest {
        [] => match discovery::resource_list(group, version) {
            Some(list) => Route::Json(list, JSON),
            None => Route::NotFound,
        },
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|x| x.namespaced) => {
            let Some(res) = find(plural) else {
                return Route::UnknownResource;
            };
            match tail {
                [] => r(res, *ns, "", None),
                [name] => r(res, *ns, *name, None),
                [name, sub] => r(res, *ns, *name, Some(*sub)),
                _ => Route::NotFound,
            }
        }
        [plural, tail @ ..] => {
            let Some(res) = find(plural) else {
                return Route::UnknownResource;
            };
            match (res.namespaced, tail) {
                (_, []) => r(res, "", "", None),
                (false, [name]) => r(res, "", *name, None),
                (false, [name, sub]) => r(res, "", *name, Some(*sub)),
                _ => Route::NotFound,
            }
        }
    }
}

fn verb_of(method: &str, name: &str, ct: &str, query: &Query) -> Option<&'static str> {
    Some(match (method, name.is_empty()) {
        ("GET", true) if query.flag("watch") => "watch",
        ("GET", true) => "list",
        ("GET", false) => "get",
        ("POST", true) => "create",
        ("PUT", false) => "update",
        ("PATCH", false) if ct.starts_with("application/apply-patch") => "apply",
        ("PATCH", false) => "patch",
        ("DELETE", false) => "delete",
        ("DELETE", true) => "deletecollection",
        _ => return None,
    })
}

fn rbac_verb(verb: &str) -> &str {
    if verb == "apply" { "patch" } else { verb }
}

fn json_response(
    code: u16,
    ct: &str,
    body: &Value,
    extra: &[(String, String)],
) -> Response<RespBody> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut b = Response::builder().status(code).header("Content-Type", ct);
    for (k, v) in extra {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(full(Bytes::from(bytes))).unwrap_or_else(|_| empty())
}

fn error_response(e: &ApiError) -> Response<RespBody> {
    json_response(e.code, JSON, &e.body, &e.headers)
}

fn reply_response(r: &Reply) -> Response<RespBody> {
    let headers: Vec<(String, String)> = r
        .warnings
        .iter()
        .map(|w| ("Warning".to_string(), format!("299 - {w:?}")))
        .collect();
    json_response(r.code, JSON, &r.body, &headers)
}

/// Serves connections until the task is aborted. With TLS, the client certificate of each
/// connection is verified once, after the handshake, and its outcome goes with every request
/// of the connection to the authenticator (see `crate::tls`); the protocol is HTTP/2 when the
/// client chose `h2` by ALPN, HTTP/1.1 otherwise.
pub(crate) async fn serve(
    listener: TcpListener,
    inner: Arc<Inner>,
    tls: Option<Arc<crate::tls::Tls>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let id = inner.connections.fetch_add(1, Ordering::SeqCst) + 1;
        let inner = inner.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // The TCP handshake's round trip: the client's first bytes arrive one rtt later.
            round_trip(&inner).await;
            match tls {
                // A failed handshake (a client that does not trust us, or a malformed client
                // certificate) just closes.
                Some(tls) => {
                    if let Ok(stream) = tls.acceptor.accept(stream).await {
                        // The TLS 1.3 handshake's round trip, before the first request.
                        round_trip(&inner).await;
                        let session = stream.get_ref().1;
                        let cert = tls.identify(session.peer_certificates());
                        let h2 = session.alpn_protocol() == Some(b"h2");
                        serve_connection(stream, inner, cert, id, h2).await;
                    }
                }
                None => serve_connection(stream, inner, ClientCert::None, id, false).await,
            }
        });
    }
}

/// Serves connection number `id` (plain or TLS), whose client certificate is `cert`, as
/// HTTP/2 when `h2` (negotiated by ALPN), else as HTTP/1.1.
async fn serve_connection<S>(stream: S, inner: Arc<Inner>, cert: ClientCert, id: u64, h2: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let cert = Arc::new(cert);
    let svc = service_fn(move |req| handle(inner.clone(), cert.clone(), id, req));
    let io = TokioIo::new(stream);
    let _ = if h2 {
        http2::Builder::new(TokioExecutor::new())
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .serve_connection(io, svc)
            .await
    } else {
        http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, svc)
            .await
    };
}

/// Error that makes hyper close an HTTP/1.1 connection, or reset the request's HTTP/2 stream
/// (`RST_STREAM` `INTERNAL_ERROR`), without an answer (the drop faults).
#[derive(Debug)]
pub(crate) struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault")
    }
}
impl std::error::Error for Dropped {}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Waits one simulated round trip (nothing when it is zero).
async fn round_trip(inner: &Inner) {
    match &inner.delay {
        Some(line) if !inner.rtt.is_zero() => line.wait(inner.rtt).await,
        _ if !inner.rtt.is_zero() => tokio::time::sleep(inner.rtt).await,
        _ => {}
    }
}

/// Handles `req`, then holds its answer (or the dropped connection) for one round trip
/// ([`crate::ServerOptions::rtt`]).
async fn handle(
    inner: Arc<Inner>,
    cert: Arc<ClientCert>,
    connection: u64,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, Dropped> {
    let answer = handle_now(inner.clone(), cert, connection, req).await;
    round_trip(&inner).await;
    answer
}

async fn handle_now(
    inner: Arc<Inner>,
    cert: Arc<ClientCert>,
    connection: u64,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, Dropped> {
    let arrived = inner.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let method = req.method().as_str().to_string();
    let protocol = format!("{:?}", req.version());
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let content_type_full = header(&req, "content-type").to_string();
    let content_type = content_type_full
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let accept = header(&req, "accept").to_string();
    let user_agent = header(&req, "user-agent").to_string();
    let authz = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let query = Query::parse(Some(&raw_query));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let route = route(&segs, &accept, &inner.host);
    let (verb, target_res, ns, name) = match &route {
        Route::Resource { res, ns, name, .. } => (
            verb_of(&method, name, &content_type, &query).unwrap_or(""),
            Some(*res),
            *ns,
            *name,
        ),
        Route::TokenReview => ("create", None, "", ""),
        _ => ("", None, "", ""),
    };
    let mut log = LoggedRequest {
        method: method.clone(),
        path: path.clone(),
        query: raw_query.clone(),
        content_type: content_type_full.clone(),
        status: 0,
        dropped: false,
        verb: verb.to_string(),
        user: String::new(),
        protocol,
        connection,
        arrived,
    };
    let finish = |log: &mut LoggedRequest, resp: Response<RespBody>| {
        log.status = resp.status().as_u16();
        if let Ok(mut l) = inner.log.lock() {
            l.push(log.clone());
        }
        resp
    };

    // Authentication (apiserver `authentication/request/x509`; `filters/authentication.go`): client
    // certificate, then bearer token, then anonymous.
    let user = match inner.auth.authenticate(&cert, authz.as_deref()) {
        Authn::User(u) => {
            log.user = u.name.clone();
            u
        }
        Authn::Unauthorized => {
            return Ok(finish(&mut log, error_response(&ApiError::unauthorized())));
        }
    };

    // Faults. `answer_lost`: handle the request, then drop the answer (DropAfterCommit).
    let mut answer_lost = false;
    if let Some(res) = target_res {
        let d = inner.faults.decide(&Target {
            verb,
            kind: res.kind,
            plural: res.plural,
            name,
            namespace: ns,
            field_manager: query.get("fieldManager").unwrap_or(""),
        });
        if let Some(delay) = d.delay {
            tokio::time::sleep(delay).await;
        }
        match d.action {
            Some(FaultAction::DropConnection) => {
                log.dropped = true;
                finish(&mut log, empty());
                if let Ok(mut l) = inner.log.lock()
                    && let Some(last) = l.last_mut()
                {
                    last.status = 0;
                }
                return Err(Dropped);
            }
            Some(FaultAction::DropAfterCommit) => answer_lost = true,
            Some(FaultAction::Status {
                code,
                reason,
                message,
                retry_after,
            }) => {
                let body = fault_body(code, &reason, &message, retry_after);
                let headers: Vec<(String, String)> = retry_after
                    .map(|s| vec![("Retry-After".to_string(), s.to_string())])
                    .unwrap_or_default();
                return Ok(finish(&mut log, json_response(code, JSON, &body, &headers)));
            }
            _ => {}
        }
    }

    let resp = match route {
        Route::Text(t) => Response::builder()
            .status(200)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(full(Bytes::from_static(t.as_bytes())))
            .unwrap_or_else(|_| empty()),
        Route::Json(v, ct) => {
            if method == "GET" {
                json_response(200, ct, &v, &[])
            } else {
                error_response(&ApiError::new(
                    405,
                    Some("MethodNotAllowed"),
                    "the server does not allow this method on the requested resource",
                ))
            }
        }
        Route::NotFound => Response::builder()
            .status(404)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(full(Bytes::from_static(b"404 page not found\n")))
            .unwrap_or_else(|_| empty()),
        Route::UnknownResource => error_response(&ApiError::unknown_resource()),
        Route::TokenReview => {
            match crate::tokenreview::review(&inner.auth, &user, &method, &body) {
                Ok(review) => json_response(201, JSON, &review, &[]),
                Err(e) => error_response(&e),
            }
        }
        Route::Resource { res, ns, name, sub } => {
            let resource_for_rbac = match sub {
                Some(s) => format!("{}/{s}", res.plural),
                None => res.plural.to_string(),
            };
            if verb.is_empty() {
                error_response(&ApiError::method_not_allowed(&method, res))
            } else if !inner
                .auth
                .authorize(&user, rbac_verb(verb), &resource_for_rbac, ns)
            {
                error_response(&ApiError::forbidden_rbac(
                    &user.name,
                    rbac_verb(verb),
                    res,
                    sub,
                    if res.namespaced { Some(ns) } else { None },
                    name,
                ))
            } else if verb == "apply"
                && sub.is_none()
                && !inner.auth.authorize(&user, "create", res.plural, ns)
                && inner
                    .state
                    .lock()
                    .map(|s| s.get(res, ns, name).is_none())
                    .unwrap_or(false)
            {
                error_response(&ApiError::forbidden_rbac(
                    &user.name,
                    "create",
                    res,
                    None,
                    if res.namespaced { Some(ns) } else { None },
                    name,
                ))
            } else if verb == "watch" {
                match crate::watch::start(inner.clone(), res, ns, &query) {
                    Ok(body) => Response::builder()
                        .status(200)
                        .header("Content-Type", JSON)
                        .body(body.boxed())
                        .unwrap_or_else(|_| empty()),
                    Err(e) => error_response(&e),
                }
            } else {
                let prepared = if sub.is_none() {
                    api::prepare(res, verb, &content_type, &body)
                } else {
                    None
                };
                let ctx = Ctx {
                    res,
                    ns,
                    name,
                    sub,
                    query: &query,
                    content_type: &content_type,
                    user_agent: &user_agent,
                    body: &body,
                    prepared: prepared.as_ref(),
                };
                let out = dispatch(&inner, verb, &ctx);
                if !matches!(verb, "get" | "list") {
                    inner.notify.notify_waiters();
                }
                match out {
                    Ok(r)
                        if sub.is_none()
                            && matches!(verb, "get" | "list")
                            && crate::table::wants_table(&accept) =>
                    {
                        let items: Vec<Value> = if verb == "list" {
                            r.body["items"].as_array().cloned().unwrap_or_default()
                        } else {
                            vec![Value::clone(&r.body)]
                        };
                        let rv = inner.state.lock().map(|s| s.rv).unwrap_or(0);
                        json_response(
                            200,
                            crate::table::TABLE_CT,
                            &crate::table::table(res, rv, &items),
                            &[],
                        )
                    }
                    Ok(r) => reply_response(&r),
                    Err(e) => error_response(&e),
                }
            }
        }
    };
    if answer_lost {
        // The request was handled (a write is committed); the log keeps the status the client
        // would have seen, and hyper closes the connection (HTTP/2: resets the stream) without
        // sending it.
        log.dropped = true;
        finish(&mut log, resp);
        return Err(Dropped);
    }
    Ok(finish(&mut log, resp))
}

fn dispatch(inner: &Inner, verb: &str, ctx: &Ctx) -> Result<Reply, ApiError> {
    if let Some(out) = crate::optimistic::write(&inner.state, verb, ctx) {
        return out;
    }
    let mut st = crate::util::lock(&inner.state);
    match ctx.sub {
        None => {}
        Some("status")
            if ctx.res.has_status && matches!(verb, "get" | "update" | "patch" | "apply") => {}
        Some("finalize") if ctx.res.kind == "Namespace" && verb == "update" => {}
        Some("scale") if ctx.res.has_scale => {
            let v = if verb == "apply" { "patch" } else { verb };
            return crate::scale::scale(&mut st, ctx, v);
        }
        Some(_) => return Err(ApiError::unknown_resource()),
    }
    match verb {
        "get" => api::get(&st, ctx),
        "list" => api::list(&st, ctx),
        "create" => api::create(&mut st, ctx),
        "update" => api::update(&mut st, ctx),
        "patch" | "apply" => api::patch(&mut st, ctx),
        "delete" => crate::deletion::delete(&mut st, ctx),
        "deletecollection" if ctx.res.kind != "Namespace" => api::delete_collection(&mut st, ctx),
        _ => Err(ApiError::method_not_allowed(verb, ctx.res)),
    }
}
