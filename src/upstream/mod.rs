//! The credential upstream: the service a runtime's credential provisioner
//! issues and revokes through (§9.8), played by the harness so revocation
//! becomes visible. One instance per case, on 127.0.0.1 with an ephemeral
//! port; it issues, validates, revokes and records every request with its
//! time, and can be told to fail. Its HTTP API is part of the conformance
//! contract (CONFORMANCE.md, "The credential upstream").
//!
//! Credential values are secrets: the upstream keeps them to validate
//! presentations, but its [`Record`]s name credentials by id only.

pub mod client;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Environment variable that tells a target where the upstream is.
pub const ENV: &str = "ARCP_CONFORM_UPSTREAM";
/// Path prefix of the credential endpoint (what `endpoint` points at).
pub const ENDPOINT_PATH: &str = "/v1/endpoint";
/// Largest request body the upstream reads.
const BODY_CAP: usize = 64 * 1024;
/// Longest one connection is served: a target holding one open idle cannot
/// keep a task alive past this.
const CONN_LIMIT: Duration = Duration::from_secs(120);
/// Records kept; a target flooding the upstream cannot grow it without bound.
const LOG_CAP: usize = 100_000;

/// Which management operations an injected failure applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Issue,
    Rotate,
    Revoke,
    /// A presentation at the credential's endpoint.
    Present,
    /// A presentation anywhere else (R9.8.1-6).
    Elsewhere,
}

/// Failures the upstream injects into issue / rotate / revoke calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailPlan {
    /// `None`: applies to issue, rotate and revoke.
    pub op: Option<Op>,
    /// Status to answer (e.g. 503).
    pub status: u16,
    /// Fail this many calls, then recover; `None` with `status != 0` = permanently.
    pub times: Option<u32>,
    /// Answer (successfully or not) only after this long.
    pub delay: Duration,
    /// Only calls about this credential (rotate, revoke); `None`: every call.
    /// Cases sharing one upstream (a WebSocket server's) scope their plans.
    pub credential: Option<String>,
}

impl FailPlan {
    fn applies(&self, op: Option<Op>, credential: Option<&str>) -> bool {
        self.op.is_none_or(|o| Some(o) == op)
            && self
                .credential
                .as_deref()
                .is_none_or(|c| Some(c) == credential)
    }
}

/// One request the upstream saw. Never carries a credential value.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Milliseconds since the upstream started.
    pub t_ms: f64,
    pub method: String,
    pub path: String,
    pub op: Option<Op>,
    /// The credential the request concerned (resolved from a presented value too).
    pub credential: Option<String>,
    /// For a revoke: how many values it revoked.
    pub revoked: usize,
    pub status: u16,
    /// An injected failure answered this request.
    pub injected: bool,
}

#[derive(Debug, Clone)]
struct Token {
    id: String,
    value: String,
    revoked_ms: Option<f64>,
}

#[derive(Debug, Clone)]
struct Grant {
    job_id: Option<String>,
}

#[derive(Default)]
struct Book {
    grants: BTreeMap<String, Grant>,
    tokens: Vec<Token>,
    log: Vec<Record>,
    /// The unscoped plan first, then plans scoped to one credential.
    fail: Vec<FailPlan>,
}

struct Shared {
    book: Mutex<Book>,
    started: Instant,
    base: String,
}

/// A running upstream. Clones share it; the server stops when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Upstream {
    shared: Arc<Shared>,
    _task: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Upstream {
    /// Bind 127.0.0.1 on an ephemeral port and serve in the background.
    /// Must be called inside a tokio runtime.
    pub fn start() -> std::io::Result<Upstream> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let shared = Arc::new(Shared {
            book: Mutex::new(Book::default()),
            started: Instant::now(),
            base: format!("http://{addr}"),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move { accept_loop(listener, s).await });
        Ok(Upstream {
            shared,
            _task: Arc::new(AbortOnDrop(task)),
        })
    }

    /// `http://127.0.0.1:PORT`: what `ARCP_CONFORM_UPSTREAM` holds.
    pub fn base(&self) -> &str {
        &self.shared.base
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.base["http://".len()..]
            .parse()
            .expect("base is an address")
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.shared.book()
    }

    /// Set the failure plan of the plan's scope (its credential, or every
    /// call); a default plan = behave.
    pub fn set_fail(&self, plan: FailPlan) {
        let mut b = self.book();
        b.fail.retain(|p| p.credential != plan.credential);
        if plan != FailPlan::default() {
            b.fail.push(plan);
        }
        // Scoped plans are checked first: they name what they are about.
        b.fail.sort_by_key(|p| p.credential.is_none());
    }

    /// Forget the unscoped plan (a new case on a shared upstream).
    pub fn clear_unscoped_fail(&self) {
        self.book().fail.retain(|p| p.credential.is_some());
    }

    /// Every request so far, oldest first.
    pub fn log(&self) -> Vec<Record> {
        self.book().log.clone()
    }

    /// Was credential `id` issued here?
    pub fn issued(&self, id: &str) -> bool {
        self.book().grants.contains_key(id)
    }

    /// The job a credential was issued for, if the issuer said.
    pub fn job_of(&self, id: &str) -> Option<String> {
        self.book().grants.get(id).and_then(|g| g.job_id.clone())
    }

    /// Credentials issued for `job_id`, in issue order.
    pub fn issued_for(&self, job_id: &str) -> Vec<String> {
        let b = self.book();
        b.log
            .iter()
            .filter(|r| r.op == Some(Op::Issue) && r.status == 201)
            .filter_map(|r| r.credential.clone())
            .filter(|id| b.grants.get(id).and_then(|g| g.job_id.as_deref()) == Some(job_id))
            .collect()
    }

    /// Is every value ever issued under credential `id` revoked (and at least one issued)?
    pub fn revoked(&self, id: &str) -> bool {
        let b = self.book();
        let mut values = b.tokens.iter().filter(|t| t.id == id).peekable();
        values.peek().is_some() && values.all(|t| t.revoked_ms.is_some())
    }

    /// Is this particular value revoked? `None` if it was never issued here.
    pub fn value_revoked(&self, value: &str) -> Option<bool> {
        self.book()
            .tokens
            .iter()
            .find(|t| t.value == value)
            .map(|t| t.revoked_ms.is_some())
    }

    /// Credential ids whose values are not all revoked.
    pub fn outstanding(&self) -> Vec<String> {
        let b = self.book();
        let mut out: Vec<String> = b
            .tokens
            .iter()
            .filter(|t| t.revoked_ms.is_none())
            .map(|t| t.id.clone())
            .collect();
        out.dedup();
        out
    }

    /// Presentations of credential `id` (`None`: of any credential) by op.
    pub fn presentations(&self, id: Option<&str>, op: Op) -> Vec<Record> {
        self.book()
            .log
            .iter()
            .filter(|r| r.op == Some(op) && (id.is_none() || r.credential.as_deref() == id))
            .cloned()
            .collect()
    }
}

impl Shared {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Millisecond clock of the upstream's records.
    fn now_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(shared, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, svc);
            let _ = tokio::time::timeout(CONN_LIMIT, conn).await;
        });
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("static response parts are valid")
}

fn bearer(req: &Request<Incoming>) -> Option<String> {
    let h = req
        .headers()
        .get(hyper::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, v) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| v.trim().to_string())
}

/// What a request asks for, from its method and path.
enum Route {
    Issue,
    Rotate(String),
    Revoke(String),
    Log,
    Introspect,
    Present,
    Elsewhere,
}

fn route(method: &Method, path: &str) -> Route {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if path == ENDPOINT_PATH || path.starts_with(&format!("{ENDPOINT_PATH}/")) {
        return Route::Present;
    }
    match (method, parts.as_slice()) {
        (&Method::POST, ["v1", "credentials"]) => Route::Issue,
        (&Method::POST, ["v1", "credentials", id, "rotate"]) => Route::Rotate(id.to_string()),
        (&Method::POST, ["v1", "credentials", id, "revoke"]) => Route::Revoke(id.to_string()),
        (&Method::GET, ["v1", "log"]) => Route::Log,
        (&Method::GET, ["v1", "introspect"]) => Route::Introspect,
        _ => Route::Elsewhere,
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let up = &shared;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let presented = bearer(&req);
    let r = route(&method, &path);
    let body: Value = match http_body_util::Limited::new(req.into_body(), BODY_CAP)
        .collect()
        .await
    {
        Ok(b) => {
            let bytes = b.to_bytes();
            if bytes.is_empty() {
                json!({})
            } else {
                match serde_json::from_slice(&bytes) {
                    Ok(v) => v,
                    Err(e) => {
                        return reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()}))
                    }
                }
            }
        }
        Err(e) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": e.to_string()}),
            )
        }
    };
    let op = match &r {
        Route::Issue => Some(Op::Issue),
        Route::Rotate(_) => Some(Op::Rotate),
        Route::Revoke(_) => Some(Op::Revoke),
        Route::Present => Some(Op::Present),
        Route::Elsewhere if presented.is_some() => Some(Op::Elsewhere),
        Route::Log | Route::Introspect | Route::Elsewhere => None,
    };
    // Injected failures and delays apply to management calls only.
    let managed = matches!(op, Some(Op::Issue | Op::Rotate | Op::Revoke));
    let about = match &r {
        Route::Rotate(id) | Route::Revoke(id) => Some(id.as_str()),
        _ => None,
    };
    let (delay, injected) = {
        let mut b = up.book();
        match b.fail.iter_mut().find(|p| managed && p.applies(op, about)) {
            None => (Duration::ZERO, None),
            Some(plan) => {
                let injected = match plan.times {
                    _ if plan.status == 0 => None,
                    Some(0) => None,
                    Some(n) => {
                        plan.times = Some(n - 1);
                        Some(plan.status)
                    }
                    None => Some(plan.status),
                };
                (plan.delay, injected)
            }
        }
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let t_ms = up.now_ms();
    let mut rec = Record {
        t_ms,
        method: method.to_string(),
        path: path.clone(),
        op,
        credential: None,
        revoked: 0,
        status: 200,
        injected: false,
    };
    let resp = if let Some(status) = injected {
        rec.injected = true;
        rec.credential = match &r {
            Route::Rotate(id) | Route::Revoke(id) => Some(id.clone()),
            _ => None,
        };
        reply(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            json!({"error": "injected failure"}),
        )
    } else {
        let mut b = up.book();
        match r {
            Route::Issue => {
                let id = crate::ids::credential_id();
                let value = crate::ids::credential_value();
                b.grants.insert(
                    id.clone(),
                    Grant {
                        job_id: body.get("job_id").and_then(Value::as_str).map(String::from),
                    },
                );
                b.tokens.push(Token {
                    id: id.clone(),
                    value: value.clone(),
                    revoked_ms: None,
                });
                rec.credential = Some(id.clone());
                rec.status = 201;
                reply(
                    StatusCode::CREATED,
                    json!({"id": id, "value": value, "scheme": "bearer",
                           "endpoint": format!("{}{ENDPOINT_PATH}", up.base)}),
                )
            }
            Route::Rotate(id) => {
                rec.credential = Some(id.clone());
                if b.grants.contains_key(&id) {
                    let value = crate::ids::credential_value();
                    b.tokens.push(Token {
                        id: id.clone(),
                        value: value.clone(),
                        revoked_ms: None,
                    });
                    rec.status = 201;
                    reply(StatusCode::CREATED, json!({"id": id, "value": value}))
                } else {
                    rec.status = 404;
                    reply(
                        StatusCode::NOT_FOUND,
                        json!({"error": "unknown credential"}),
                    )
                }
            }
            Route::Revoke(id) => {
                rec.credential = Some(id.clone());
                if b.grants.contains_key(&id) {
                    let only = body.get("value").and_then(Value::as_str);
                    let mut n = 0;
                    for t in b.tokens.iter_mut().filter(|t| t.id == id) {
                        if only.is_none_or(|v| v == t.value) && t.revoked_ms.is_none() {
                            t.revoked_ms = Some(t_ms);
                            n += 1;
                        }
                    }
                    rec.revoked = n;
                    reply(StatusCode::OK, json!({"id": id, "revoked": n}))
                } else {
                    rec.status = 404;
                    reply(
                        StatusCode::NOT_FOUND,
                        json!({"error": "unknown credential"}),
                    )
                }
            }
            Route::Log => reply(StatusCode::OK, json!(b.log)),
            // Checks a value without presenting it: not a presentation.
            Route::Introspect => {
                let token = presented
                    .as_deref()
                    .and_then(|v| b.tokens.iter().find(|t| t.value == v));
                rec.credential = token.map(|t| t.id.clone());
                let active = token.is_some_and(|t| t.revoked_ms.is_none());
                reply(
                    StatusCode::OK,
                    json!({"active": active, "id": rec.credential}),
                )
            }
            Route::Present | Route::Elsewhere => {
                let token = presented
                    .as_deref()
                    .and_then(|v| b.tokens.iter().find(|t| t.value == v));
                rec.credential = token.map(|t| t.id.clone());
                let active = token.is_some_and(|t| t.revoked_ms.is_none());
                if matches!(op, Some(Op::Present)) {
                    rec.status = if active { 200 } else { 401 };
                    reply(
                        StatusCode::from_u16(rec.status).expect("valid"),
                        json!({"active": active, "id": rec.credential}),
                    )
                } else {
                    rec.status = 404;
                    reply(
                        StatusCode::NOT_FOUND,
                        json!({"error": "not the credential's endpoint"}),
                    )
                }
            }
        }
    };
    if resp.status() != StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK) {
        rec.status = resp.status().as_u16();
    }
    let mut b = up.book();
    if b.log.len() < LOG_CAP {
        b.log.push(rec);
    }
    drop(b);
    resp
}

#[cfg(test)]
mod tests;
