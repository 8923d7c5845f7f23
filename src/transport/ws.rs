//! WebSocket transport (§4): one ARCP frame per text message.
//!
//! Client side: [`connect`] to a running peer, or [`launch`] /
//! [`connect_spawned`] to start a server target first. Server side:
//! [`listen`] + [`Listener::accept`]. Both ends become a [`Conn`] with a reader
//! and a writer task; the frame cap is enforced by tungstenite from frame
//! headers, so an oversize message is refused before its payload is read.

use super::process::{self, describe_status, ProcessGuard, SpawnOptions};
use super::{Conn, Inbound, TransportError, TransportFault, TransportOptions, CHANNEL_DEPTH};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// Bound on sending a close frame, and on waiting for the peer's reply to one.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// A client that opens TCP but never completes the handshake is dropped after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between connection attempts while a spawned server starts.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

fn config(frame_cap: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(frame_cap))
        .max_frame_size(Some(frame_cap))
}

/// Connect to a WebSocket peer at `url` within `opts.connect_timeout`.
pub async fn connect(url: &str, opts: &TransportOptions) -> Result<Conn, TransportError> {
    let attempt =
        tokio_tungstenite::connect_async_with_config(url, Some(config(opts.frame_cap)), true);
    match tokio::time::timeout(opts.connect_timeout, attempt).await {
        Err(_) => Err(TransportError::Connect(format!(
            "{url}: no WebSocket handshake within {:?}",
            opts.connect_timeout
        ))),
        Ok(Err(e)) => Err(TransportError::Connect(format!("{url}: {e}"))),
        Ok(Ok((ws, _response))) => Ok(wire(ws, opts.frame_cap, url.to_string())),
    }
}

/// Spawn a server target and connect to it at `url` once it accepts; the
/// returned `Conn` owns the process.
pub async fn connect_spawned(
    command: &str,
    url: &str,
    opts: &TransportOptions,
) -> Result<Conn, TransportError> {
    connect_spawned_with(command, url, opts, &SpawnOptions::default()).await
}

/// [`connect_spawned`] with extra environment / working directory.
pub async fn connect_spawned_with(
    command: &str,
    url: &str,
    opts: &TransportOptions,
    spawn: &SpawnOptions,
) -> Result<Conn, TransportError> {
    let (guard, mut conn) = launch(command, url, opts, spawn).await?;
    conn.process = Some(guard);
    Ok(conn)
}

/// Spawn a server target once and return its guard together with the first
/// connection; further sessions to the same process use [`connect`]. Keep
/// the guard alive as long as the server is needed.
pub async fn launch(
    command: &str,
    url: &str,
    opts: &TransportOptions,
    spawn: &SpawnOptions,
) -> Result<(ProcessGuard, Conn), TransportError> {
    let guard = process::spawn_server(command, spawn)?;
    let conn = connect_when_ready(&guard, url, opts).await?;
    Ok((guard, conn))
}

/// Retry [`connect`] until the spawned server accepts or `opts.connect_timeout`
/// elapses. Fails early if the server's process group dies first.
pub async fn connect_when_ready(
    guard: &ProcessGuard,
    url: &str,
    opts: &TransportOptions,
) -> Result<Conn, TransportError> {
    let watch = guard.watch();
    let deadline = Instant::now() + opts.connect_timeout;
    let mut last_error = "no connection attempt finished".to_string();
    // The leader exiting is fatal only if nothing else is left in its group:
    // `sh -c 'server &'` legitimately exits at once.
    let mut leader_exited = false;
    let with_tail = |msg: String| {
        let tail = watch.stderr_tail();
        let tail = tail.trim_end();
        if tail.is_empty() {
            TransportError::Connect(msg)
        } else {
            TransportError::Connect(format!("{msg}; output:\n{tail}"))
        }
    };
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(with_tail(format!(
                "`{}` did not accept a WebSocket connection at {url} within {:?} (last error: {last_error})",
                guard.command(),
                opts.connect_timeout
            )));
        }
        let attempt = TransportOptions {
            connect_timeout: remaining,
            ..opts.clone()
        };
        tokio::select! {
            r = connect(url, &attempt) => match r {
                Ok(conn) => return Ok(conn),
                Err(TransportError::Connect(e)) => last_error = e,
                Err(e) => last_error = e.to_string(),
            },
            status = watch.wait_exit(remaining), if !leader_exited => {
                if let Some(status) = status {
                    leader_exited = true;
                    if !group_exists(guard.pgid()) {
                        watch.wait_output(Duration::from_millis(200)).await;
                        return Err(with_tail(format!(
                            "`{}` {} before accepting connections at {url}",
                            guard.command(),
                            describe_status(&status)
                        )));
                    }
                }
                continue;
            }
        }
        tokio::time::sleep(RETRY_PAUSE.min(remaining)).await;
    }
}

fn group_exists(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks existence.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Accepts WebSocket connections (any path). Handshakes run concurrently in
/// the background, so one slow client cannot hold up the next.
pub struct Listener {
    conns: mpsc::Receiver<Conn>,
    task: JoinHandle<()>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://ADDR/`, for handing to a client.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// The next connection that completed its handshake; `None` only if the
    /// accept loop has stopped.
    pub async fn accept(&mut self) -> Option<Conn> {
        self.conns.recv().await
    }

    /// [`accept`](Self::accept) with a deadline.
    pub async fn accept_within(&mut self, deadline: Duration) -> Result<Conn, TransportError> {
        match tokio::time::timeout(deadline, self.conns.recv()).await {
            Err(_) => Err(TransportError::Timeout(deadline)),
            Ok(None) => Err(TransportError::Closed("listener stopped".into())),
            Ok(Some(conn)) => Ok(conn),
        }
    }
}

/// Listen for WebSocket clients on `addr` (e.g. "127.0.0.1:0"); returns the
/// listener and the address actually bound.
pub async fn listen(
    addr: &str,
    frame_cap: usize,
) -> Result<(Listener, SocketAddr), TransportError> {
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|e| TransportError::Listen(format!("{addr}: {e}")))?;
    let local = tcp
        .local_addr()
        .map_err(|e| TransportError::Listen(format!("{addr}: {e}")))?;
    let (tx, conns) = mpsc::channel(16);
    let task = tokio::spawn(accept_loop(tcp, frame_cap, tx));
    let listener = Listener {
        conns,
        task,
        addr: local,
    };
    Ok((listener, local))
}

async fn accept_loop(tcp: TcpListener, frame_cap: usize, tx: mpsc::Sender<Conn>) {
    loop {
        let (sock, peer) = match tcp.accept().await {
            Ok(x) => x,
            Err(_) => {
                // Typically EMFILE or a client that reset before accept: transient.
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut path = String::new();
            // The callback's Result type is fixed by tungstenite.
            #[allow(clippy::result_large_err)]
            let record_path = |req: &Request, resp: Response| {
                path = req.uri().to_string();
                Ok(resp)
            };
            let handshake = tokio_tungstenite::accept_hdr_async_with_config(
                sock,
                record_path,
                Some(config(frame_cap)),
            );
            // A failed handshake is the client's problem; nothing to report here.
            if let Ok(Ok(ws)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                let conn = wire(ws, frame_cap, format!("ws client {peer} {path}"));
                let _ = tx.send(conn).await;
            }
        });
    }
}

/// Start the reader and writer tasks for an open WebSocket.
///
/// The reader tells the writer when it stops: with a close frame to send (the
/// peer broke a rule), or by dropping the channel, after which writing is
/// pointless (the peer closed, or our side dropped its receiver).
fn wire<S>(ws: WebSocketStream<S>, frame_cap: usize, peer: String) -> Conn
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sink, stream) = ws.split();
    let (out_tx, out_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (in_tx, in_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (stop_tx, stop_rx) = oneshot::channel();
    tokio::spawn(write_messages(sink, out_rx, stop_rx));
    tokio::spawn(read_messages(stream, in_tx, frame_cap, stop_tx));
    Conn::new(out_tx, in_rx, peer)
}

type Sink<S> = SplitSink<WebSocketStream<S>, Message>;

async fn write_messages<S>(
    mut sink: Sink<S>,
    mut rx: mpsc::Receiver<String>,
    stop: oneshot::Receiver<CloseFrame>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::pin!(stop);
    // The reader dropping `stop` (our side stopped reading) is no reason to
    // lose frames already queued: drain them, then close normally. Only a
    // close frame from the reader (the peer broke a rule) aborts at once.
    let mut reader_gone = false;
    loop {
        let frame = tokio::select! {
            f = rx.recv() => f,
            close = &mut stop, if !reader_gone => match close {
                Ok(c) => return send_close(&mut sink, Some(c)).await,
                Err(_) => { reader_gone = true; continue }
            },
        };
        let Some(frame) = frame else {
            // Every sender is gone: a normal close (1000), as the peer expects.
            let normal = CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            };
            return send_close(&mut sink, Some(normal)).await;
        };
        // None: sent, go on; Some(None): the sink failed; Some(Some(c)): close with c.
        let outcome = {
            let send = sink.send(Message::text(frame));
            tokio::pin!(send);
            loop {
                tokio::select! {
                    r = &mut send => break r.is_err().then_some(None),
                    close = &mut stop, if !reader_gone => match close {
                        Ok(c) => break Some(Some(c)),
                        Err(_) => reader_gone = true,
                    },
                }
            }
        };
        match outcome {
            None => {}
            Some(None) => return,
            Some(Some(c)) => return send_close(&mut sink, Some(c)).await,
        }
    }
}

async fn send_close<S>(sink: &mut Sink<S>, frame: Option<CloseFrame>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Some(frame) = frame {
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
    }
}

async fn read_messages<S>(
    mut stream: SplitStream<WebSocketStream<S>>,
    tx: mpsc::Sender<Inbound>,
    cap: usize,
    stop: oneshot::Sender<CloseFrame>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Each arm either forwards an item and continues, or ends with these.
    let mut in_flight = super::InFlight::default();
    let (fault, close, reason) = loop {
        in_flight.wait(&tx).await;
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = tx.closed() => return,
        };
        let item = match msg {
            Some(Ok(Message::Text(text))) => Inbound::Frame(text.as_str().to_owned()),
            Some(Ok(Message::Binary(bytes))) => {
                Inbound::Fault(TransportFault::Binary { len: bytes.len() })
            }
            // Pings are answered by tungstenite itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Close(frame))) => {
                let reason = match frame {
                    Some(f) if f.reason.is_empty() => {
                        format!("peer closed the WebSocket (code {})", u16::from(f.code))
                    }
                    Some(f) => format!(
                        "peer closed the WebSocket (code {}: {})",
                        u16::from(f.code),
                        f.reason.as_str()
                    ),
                    None => "peer closed the WebSocket (no status code)".to_string(),
                };
                let _ = tx.send(Inbound::Closed(reason)).await;
                // Keep reading briefly so tungstenite flushes its close reply.
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Some(Ok(_)) = stream.next().await {}
                })
                .await;
                return;
            }
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, .. }))) => {
                // The rest of the payload is still on the wire, so the stream
                // cannot be resynchronised: report, close with 1009, stop.
                break (
                    Some(TransportFault::FrameTooLarge {
                        limit: cap,
                        seen: size,
                    }),
                    Some(CloseFrame {
                        code: CloseCode::Size,
                        reason: "frame too large".into(),
                    }),
                    format!("frame of {size} bytes exceeds the {cap}-byte cap; connection closed"),
                );
            }
            Some(Err(WsError::Utf8)) => {
                break (
                    Some(TransportFault::InvalidUtf8 { len: 0 }),
                    Some(CloseFrame {
                        code: CloseCode::Invalid,
                        reason: "invalid UTF-8".into(),
                    }),
                    "text message is not valid UTF-8; connection closed".to_string(),
                )
            }
            Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                break (
                    None,
                    None,
                    "peer dropped the connection without a closing handshake".to_string(),
                )
            }
            None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                break (None, None, "connection closed".to_string())
            }
            Some(Err(e)) => break (None, None, format!("WebSocket error: {e}")),
        };
        in_flight.sent(&item);
        if tx.send(item).await.is_err() {
            return;
        }
    };
    if let Some(close) = close {
        let _ = stop.send(close);
    }
    if let Some(fault) = fault {
        let _ = tx.send(Inbound::Fault(fault)).await;
    }
    let _ = tx.send(Inbound::Closed(reason)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::process::tests::{assert_group_gone, SPAWN_LOCK};

    const T: Duration = Duration::from_secs(2);

    fn opts(cap: usize) -> TransportOptions {
        TransportOptions {
            frame_cap: cap,
            connect_timeout: Duration::from_secs(2),
        }
    }

    async fn pair(cap: usize) -> (Conn, Conn, Listener) {
        let (mut listener, addr) = listen("127.0.0.1:0", cap).await.unwrap();
        let client = connect(&format!("ws://{addr}/arcp"), &opts(cap))
            .await
            .unwrap();
        let server = listener.accept_within(T).await.unwrap();
        assert!(server.peer.ends_with(" /arcp"), "{}", server.peer);
        (client, server, listener)
    }

    /// A port that was free a moment ago.
    async fn free_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn frames_queued_before_our_side_stops_reading_are_delivered() {
        let (mut client, server, _l) = pair(1024).await;
        let (tx, rx, _) = server.into_parts();
        tx.send("last words".into()).await.unwrap();
        // Stop reading first (as a server that ends a session does), then writing.
        drop(rx);
        drop(tx);
        assert_eq!(
            client.recv(T).await.unwrap(),
            Inbound::Frame("last words".into())
        );
        match client.recv(T).await.unwrap() {
            Inbound::Closed(reason) => assert!(reason.contains("code 1000"), "{reason}"),
            other => panic!("expected Closed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn frames_flow_both_ways_and_close_propagates() {
        let (client, mut server, _l) = pair(1024).await;
        client.send("{\"a\":1}".into()).await.unwrap();
        assert_eq!(
            server.recv(T).await.unwrap(),
            Inbound::Frame("{\"a\":1}".into())
        );
        // Exactly at the cap is fine.
        client.send("z".repeat(1024)).await.unwrap();
        assert_eq!(
            server.recv(T).await.unwrap(),
            Inbound::Frame("z".repeat(1024))
        );
        let mut client = client;
        server.send("{\"b\":2}".into()).await.unwrap();
        assert_eq!(
            client.recv(T).await.unwrap(),
            Inbound::Frame("{\"b\":2}".into())
        );
        drop(server);
        match client.recv(T).await.unwrap() {
            Inbound::Closed(reason) => assert!(reason.contains("code 1000"), "{reason}"),
            other => panic!("expected Closed, got {other:?}"),
        }
        assert!(client.send("late".into()).await.is_err());
    }

    #[tokio::test]
    async fn shutdown_sends_a_normal_close() {
        let (client, mut server, _l) = pair(1024).await;
        client.send("last".into()).await.unwrap();
        // A long grace, so finishing well inside it can only be the handshake.
        let closing = tokio::spawn(client.shutdown(Duration::from_secs(20)));
        assert_eq!(server.recv(T).await.unwrap(), Inbound::Frame("last".into()));
        match server.recv(T).await.unwrap() {
            Inbound::Closed(reason) => assert!(reason.contains("code 1000"), "{reason}"),
            other => panic!("expected Closed, got {other:?}"),
        }
        // The client's shutdown finishes once the close handshake completes.
        let started = std::time::Instant::now();
        assert_eq!(closing.await.unwrap(), None);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn several_clients_per_listener() {
        let (mut listener, addr) = listen("127.0.0.1:0", 1024).await.unwrap();
        let url = format!("ws://{addr}");
        let a = connect(&url, &opts(1024)).await.unwrap();
        let b = connect(&url, &opts(1024)).await.unwrap();
        let mut s1 = listener.accept_within(T).await.unwrap();
        let mut s2 = listener.accept_within(T).await.unwrap();
        a.send("x".into()).await.unwrap();
        b.send("x".into()).await.unwrap();
        assert_eq!(s1.recv(T).await.unwrap(), Inbound::Frame("x".into()));
        assert_eq!(s2.recv(T).await.unwrap(), Inbound::Frame("x".into()));
    }

    #[tokio::test]
    async fn oversize_frame_is_refused_and_closes() {
        let (client, mut server, _l) = pair(1024).await;
        client.send("y".repeat(300_000)).await.unwrap();
        assert_eq!(
            server.recv(T).await.unwrap(),
            Inbound::Fault(TransportFault::FrameTooLarge {
                limit: 1024,
                seen: 300_000
            })
        );
        assert!(matches!(server.recv(T).await.unwrap(), Inbound::Closed(_)));
        // The client learns why.
        let mut client = client;
        match client.recv(T).await.unwrap() {
            Inbound::Closed(reason) => assert!(reason.contains("1009"), "{reason}"),
            other => panic!("expected Closed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn binary_message_is_a_fault_not_a_frame() {
        let (mut listener, addr) = listen("127.0.0.1:0", 1024).await.unwrap();
        let (mut raw, _) = tokio_tungstenite::connect_async(format!("ws://{addr}"))
            .await
            .unwrap();
        let mut server = listener.accept_within(T).await.unwrap();
        raw.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        raw.send(Message::text("after")).await.unwrap();
        assert_eq!(
            server.recv(T).await.unwrap(),
            Inbound::Fault(TransportFault::Binary { len: 3 })
        );
        assert_eq!(
            server.recv(T).await.unwrap(),
            Inbound::Frame("after".into())
        );
        drop(raw);
        assert!(matches!(server.recv(T).await.unwrap(), Inbound::Closed(_)));
    }

    #[tokio::test]
    async fn connecting_to_a_closed_port_fails_fast() {
        let url = format!("ws://127.0.0.1:{}/", free_port().await);
        let started = std::time::Instant::now();
        let err = connect(&url, &opts(1024)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        match err {
            TransportError::Connect(msg) => assert!(msg.contains(&url), "{msg}"),
            other => panic!("expected Connect, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn connect_times_out_when_no_handshake_comes() {
        // Accepts TCP but never speaks WebSocket.
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", tcp.local_addr().unwrap());
        let o = TransportOptions {
            frame_cap: 1024,
            connect_timeout: Duration::from_millis(200),
        };
        let err = connect(&url, &o).await.unwrap_err();
        assert!(
            matches!(&err, TransportError::Connect(m) if m.contains("no WebSocket handshake")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn spawned_server_is_polled_until_it_listens() {
        let _l = SPAWN_LOCK.read().await;
        let port = free_port().await;
        let url = format!("ws://127.0.0.1:{port}/");
        // The "server" process is a stand-in; the listener appears after a delay.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (mut l, _) = listen(&format!("127.0.0.1:{port}"), 1024).await.unwrap();
            let mut c = l.accept().await.unwrap();
            while let Ok(Inbound::Frame(f)) = c.recv(T).await {
                c.send(f).await.unwrap();
            }
        });
        let mut conn = connect_spawned("exec sleep 1000", &url, &opts(1024))
            .await
            .unwrap();
        conn.send("echo".into()).await.unwrap();
        assert_eq!(conn.recv(T).await.unwrap(), Inbound::Frame("echo".into()));
        let pgid = conn.process.as_ref().unwrap().pgid();
        drop(conn);
        assert_group_gone(pgid, T).await;
    }

    #[tokio::test]
    async fn spawned_server_that_dies_fails_early_with_its_output() {
        let _l = SPAWN_LOCK.read().await;
        let url = format!("ws://127.0.0.1:{}/", free_port().await);
        let o = TransportOptions {
            frame_cap: 1024,
            connect_timeout: Duration::from_secs(5),
        };
        let started = std::time::Instant::now();
        let err = connect_spawned("echo 'port in use' >&2; exit 2", &url, &o)
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        let TransportError::Connect(msg) = err else {
            panic!("expected Connect, got {err:?}")
        };
        assert!(msg.contains("exited with status 2"), "{msg}");
        assert!(msg.contains("port in use"), "{msg}");
    }

    #[tokio::test]
    async fn spawned_server_that_never_listens_times_out() {
        let _l = SPAWN_LOCK.read().await;
        let url = format!("ws://127.0.0.1:{}/", free_port().await);
        let o = TransportOptions {
            frame_cap: 1024,
            connect_timeout: Duration::from_millis(300),
        };
        let spawn = SpawnOptions::default().env("ARCP_CONFORM_URL", url.clone());
        let started = std::time::Instant::now();
        let err = launch(
            "echo \"starting on $ARCP_CONFORM_URL\"; exec sleep 1000",
            &url,
            &o,
            &spawn,
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        let TransportError::Connect(msg) = err else {
            panic!("expected Connect, got {err:?}")
        };
        assert!(msg.contains("did not accept"), "{msg}");
        assert!(msg.contains(&format!("starting on {url}")), "{msg}");
    }
}
