//! Transports carry text frames between the harness and a peer (§4).
//!
//! Every transport is adapted to one shape, [`Conn`]: a sender of text frames
//! and a receiver of [`Inbound`] items, with background tasks doing the I/O.
//! Reads always take a deadline, and every reader enforces a frame cap, so a
//! peer that hangs, floods or sends a giant frame cannot stall the harness.

pub mod memory;
pub mod process;
pub mod stdio;
pub mod ws;

use std::time::Duration;
use tokio::sync::mpsc;

/// Default largest frame accepted from a peer.
pub const DEFAULT_FRAME_CAP: usize = 16 * 1024 * 1024;

/// Options every transport honours.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Largest inbound frame, in bytes; larger frames are reported, not buffered.
    pub frame_cap: usize,
    /// How long to wait for a spawned target to become reachable, or a WebSocket to connect.
    pub connect_timeout: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            frame_cap: DEFAULT_FRAME_CAP,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What a read yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// One complete text frame (an NDJSON line without its newline, or a WebSocket text message).
    Frame(String),
    /// A frame the transport could not deliver; the connection may still be usable.
    Fault(TransportFault),
    /// The peer closed the transport or the process exited; nothing more will arrive.
    Closed(String),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransportFault {
    #[error("frame exceeds the {limit}-byte cap (at least {seen} bytes); discarded")]
    FrameTooLarge { limit: usize, seen: usize },
    #[error("frame is not valid UTF-8 ({len} bytes)")]
    InvalidUtf8 { len: usize },
    #[error("binary WebSocket message ({len} bytes); ARCP uses text frames")]
    Binary { len: usize },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransportError {
    #[error("no frame within {0:?}")]
    Timeout(Duration),
    #[error("transport closed: {0}")]
    Closed(String),
    #[error("could not connect: {0}")]
    Connect(String),
    /// A server socket could not be bound (`serve --ws`, the client suite).
    #[error("could not listen: {0}")]
    Listen(String),
}

/// An open connection to a peer.
pub struct Conn {
    outbound: mpsc::Sender<String>,
    inbound: mpsc::Receiver<Inbound>,
    closed: Option<String>,
    /// Human description of the peer ("stdio: ruby server.rb", "ws://...").
    pub peer: String,
    /// The spawned process behind this connection, if any: killed and reaped on drop.
    pub process: Option<process::ProcessGuard>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("peer", &self.peer).finish()
    }
}

impl Conn {
    pub fn new(
        outbound: mpsc::Sender<String>,
        inbound: mpsc::Receiver<Inbound>,
        peer: impl Into<String>,
    ) -> Conn {
        Conn {
            outbound,
            inbound,
            closed: None,
            peer: peer.into(),
            process: None,
        }
    }

    /// Send one text frame.
    pub async fn send(&self, frame: String) -> Result<(), TransportError> {
        if let Some(reason) = &self.closed {
            return Err(TransportError::Closed(reason.clone()));
        }
        self.outbound
            .send(frame)
            .await
            .map_err(|_| TransportError::Closed("writer has stopped".into()))
    }

    /// Next inbound item, waiting at most `deadline`.
    pub async fn recv(&mut self, deadline: Duration) -> Result<Inbound, TransportError> {
        if let Some(reason) = &self.closed {
            return Err(TransportError::Closed(reason.clone()));
        }
        match tokio::time::timeout(deadline, self.inbound.recv()).await {
            Err(_) => Err(TransportError::Timeout(deadline)),
            Ok(None) => {
                let reason = "reader has stopped".to_string();
                self.closed = Some(reason.clone());
                Ok(Inbound::Closed(reason))
            }
            Ok(Some(Inbound::Closed(reason))) => {
                self.closed = Some(reason.clone());
                Ok(Inbound::Closed(reason))
            }
            Ok(Some(item)) => Ok(item),
        }
    }

    /// An item already waiting, without blocking.
    pub fn try_recv(&mut self) -> Option<Inbound> {
        self.inbound.try_recv().ok()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Split into raw halves, for servers that run reader and writer separately.
    pub fn into_parts(
        self,
    ) -> (
        mpsc::Sender<String>,
        mpsc::Receiver<Inbound>,
        Option<process::ProcessGuard>,
    ) {
        (self.outbound, self.inbound, self.process)
    }

    /// Close gracefully: stop sending (the peer sees EOF, or a WebSocket close
    /// 1000), wait up to `grace` for the peer to finish, then stop a spawned
    /// process as [`process::ProcessGuard::shutdown`] does. Frames arriving
    /// meanwhile are discarded. Returns the process's exit status, if any.
    pub async fn shutdown(self, grace: Duration) -> Option<std::process::ExitStatus> {
        let Conn {
            outbound,
            mut inbound,
            closed,
            process,
            ..
        } = self;
        drop(outbound);
        let deadline = tokio::time::Instant::now() + grace;
        if closed.is_none() {
            // Keep reading so the peer's side of the close (EOF, close reply) completes.
            let _ = tokio::time::timeout_at(deadline, async {
                while let Some(item) = inbound.recv().await {
                    if matches!(item, Inbound::Closed(_)) {
                        break;
                    }
                }
            })
            .await;
        }
        let rest = deadline.saturating_duration_since(tokio::time::Instant::now());
        match process {
            Some(p) => p.shutdown(rest).await,
            None => None,
        }
    }

    /// The tail of the peer's stderr, if it is a process.
    pub fn stderr_tail(&self) -> String {
        self.process
            .as_ref()
            .map(|p| p.stderr_tail())
            .unwrap_or_default()
    }
}

/// Channel capacity between I/O tasks and a `Conn`: bounded so a flooding
/// peer applies back-pressure instead of growing memory without limit.
pub const CHANNEL_DEPTH: usize = 1024;

/// Most bytes of frames a reader queues for its consumer before it stops
/// reading: the count bound above allows 1024 frames of up to the frame cap.
pub const IN_FLIGHT_BYTES: usize = 1024 * 1024;

/// Bytes a reader has queued and its consumer not yet taken, estimated from
/// the channel's free slots (items leave it in order), and counted on the
/// run's budget ([`crate::retained`]). A reader waits while more than
/// [`IN_FLIGHT_BYTES`] are queued or the run is over budget, so a flood of
/// big frames stays in the peer's socket, not in the harness's memory.
#[derive(Default)]
pub(crate) struct InFlight {
    sizes: std::collections::VecDeque<usize>,
    bytes: usize,
}

impl InFlight {
    /// Note an item the reader has just queued.
    pub(crate) fn sent(&mut self, item: &Inbound) {
        let n = match item {
            Inbound::Frame(s) => s.len(),
            _ => 0,
        };
        self.sizes.push_back(n);
        self.bytes += n;
        crate::retained::transit_add(n);
    }

    /// Wait until the consumer has taken enough and the run has room (or
    /// the consumer has gone away).
    pub(crate) async fn wait(&mut self, tx: &mpsc::Sender<Inbound>) {
        loop {
            let queued = tx.max_capacity() - tx.capacity();
            while self.sizes.len() > queued {
                let n = self.sizes.pop_front().unwrap_or(0);
                self.bytes -= n;
                crate::retained::transit_sub(n);
            }
            if self.bytes <= IN_FLIGHT_BYTES && !crate::retained::over() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(2)) => {}
                _ = tx.closed() => return,
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        crate::retained::transit_sub(self.bytes);
    }
}
