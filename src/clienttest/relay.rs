//! `arcp-conform relay URL`: NDJSON on this process's stdin/stdout carried
//! to and from a WebSocket runtime, frame for frame. A stdio client under
//! test starts it as its runtime process (`ARCP_CONFORM_RUNTIME_CMD`), so
//! the harness plays the runtime on the client's pipes. When either side
//! closes, the relay exits, and the client sees its runtime go away.

use crate::transport::{self, Inbound, TransportError, TransportOptions};
use std::time::Duration;

/// Relay until one side closes; the exit code (2: could not connect).
pub async fn relay(url: &str) -> i32 {
    let mut ws = match transport::ws::connect(url, &TransportOptions::default()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("arcp-conform relay: {e}");
            return 2;
        }
    };
    let mut io = transport::stdio::own_stdio(transport::DEFAULT_FRAME_CAP);
    const WAIT: Duration = Duration::from_secs(3600);
    loop {
        tokio::select! {
            r = io.recv(WAIT) => match r {
                Ok(Inbound::Frame(t)) => if ws.send(t).await.is_err() { break },
                Ok(Inbound::Fault(f)) => eprintln!("arcp-conform relay: from the client: {f}"),
                Ok(Inbound::Closed(_)) => break,
                Err(TransportError::Timeout(_)) => {}
                Err(_) => break,
            },
            r = ws.recv(WAIT) => match r {
                Ok(Inbound::Frame(t)) => if io.send(t).await.is_err() { break },
                Ok(Inbound::Fault(f)) => eprintln!("arcp-conform relay: from the runtime: {f}"),
                Ok(Inbound::Closed(_)) => break,
                Err(TransportError::Timeout(_)) => {}
                Err(_) => break,
            },
        }
    }
    let _ = ws.shutdown(Duration::from_millis(100)).await;
    let _ = io.shutdown(Duration::from_millis(100)).await;
    0
}
