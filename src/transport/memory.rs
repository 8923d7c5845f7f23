//! In-memory transport: a connected pair of `Conn`s, for the embedded runtime.

use super::{Conn, Inbound, CHANNEL_DEPTH};
use tokio::sync::mpsc;

/// Two ends of one connection. Dropping either end closes the other.
pub fn pair(frame_cap: usize) -> (Conn, Conn) {
    let (a_out, a_rx) = mpsc::channel::<String>(CHANNEL_DEPTH);
    let (b_out, b_rx) = mpsc::channel::<String>(CHANNEL_DEPTH);
    let (a_in_tx, a_in) = mpsc::channel::<Inbound>(CHANNEL_DEPTH);
    let (b_in_tx, b_in) = mpsc::channel::<Inbound>(CHANNEL_DEPTH);
    tokio::spawn(pump(a_rx, b_in_tx, frame_cap));
    tokio::spawn(pump(b_rx, a_in_tx, frame_cap));
    (
        Conn::new(a_out, a_in, "memory"),
        Conn::new(b_out, b_in, "memory"),
    )
}

async fn pump(mut rx: mpsc::Receiver<String>, tx: mpsc::Sender<Inbound>, cap: usize) {
    while let Some(frame) = rx.recv().await {
        let item = if frame.len() > cap {
            Inbound::Fault(super::TransportFault::FrameTooLarge {
                limit: cap,
                seen: frame.len(),
            })
        } else {
            Inbound::Frame(frame)
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
    let _ = tx
        .send(Inbound::Closed("peer closed the connection".into()))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn frames_cross_and_close_propagates() {
        let (a, mut b) = pair(1024);
        a.send("hello".into()).await.unwrap();
        assert_eq!(
            b.recv(Duration::from_secs(1)).await.unwrap(),
            Inbound::Frame("hello".into())
        );
        a.send("x".repeat(2000)).await.unwrap();
        assert!(matches!(
            b.recv(Duration::from_secs(1)).await.unwrap(),
            Inbound::Fault(_)
        ));
        drop(a);
        assert!(matches!(
            b.recv(Duration::from_secs(1)).await.unwrap(),
            Inbound::Closed(_)
        ));
        assert!(b.recv(Duration::from_millis(10)).await.is_err());
    }

    #[tokio::test]
    async fn recv_times_out() {
        let (_a, mut b) = pair(1024);
        let r = b.recv(Duration::from_millis(20)).await;
        assert!(matches!(
            r,
            Err(crate::transport::TransportError::Timeout(_))
        ));
    }
}
