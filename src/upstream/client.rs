//! A small HTTP/1.1 client for the upstream API: what the reference
//! runtime's provisioner and the conformance agent use, and how the harness
//! checks a presented credential. Plain `http://` only (the upstream is on
//! loopback); every call is bounded by `timeout`.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;
use std::time::Duration;

/// Largest response body read.
const BODY_CAP: usize = 1024 * 1024;

/// The answer to one call: status and JSON body (`null` if not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Worth retrying: the upstream was busy or failing, not refusing.
    pub fn transient(&self) -> bool {
        self.status == 429 || self.status >= 500
    }
}

/// One request. `Err` when the upstream cannot be reached or does not
/// answer within `timeout` (a transient failure for a provisioner).
pub async fn call(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<Answer, String> {
    tokio::time::timeout(timeout, call_inner(method, url, bearer, body))
        .await
        .unwrap_or_else(|_| Err(format!("{method} {url}: no answer within {timeout:?}")))
}

async fn call_inner(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> Result<Answer, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{url}: only http:// upstreams are supported"));
    }
    let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("{url}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .header(hyper::header::CONTENT_TYPE, "application/json");
    if let Some(t) = bearer {
        req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let req = req
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|e| format!("{url}: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = http_body_util::Limited::new(resp.into_body(), BODY_CAP)
        .collect()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
    Ok(Answer {
        status,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}
