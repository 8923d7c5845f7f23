//! What the harness keeps in memory from targets, on one byte budget for the
//! whole run: frames waiting for a step (in a session's queue or backlog)
//! and the wire logs kept for reports. A target that floods valid frames can
//! then cost the run a bounded amount of memory however many cases and
//! sessions it floods: the flooding case ends ERROR, its logs are cut with a
//! marker, and the run goes on to write every report.
//!
//! A process is one run, so the accounting is global.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The whole run's budget, frames and logs together.
pub const RUN_BYTES: usize = 32 * 1024 * 1024;
/// Wire logs may take this share of it (they are kept until the reports are
/// written); frames waiting for a step always have the rest.
pub const LOG_BYTES: usize = RUN_BYTES / 6;
/// One case's wire log may take this much, so one flooding case cannot take
/// every other case's evidence.
pub const CASE_LOG_BYTES: usize = LOG_BYTES / 16;

static FRAMES: AtomicUsize = AtomicUsize::new(0);
static LOGS: AtomicUsize = AtomicUsize::new(0);
/// Frames a transport has read and the engine not yet taken.
static TRANSIT: AtomicUsize = AtomicUsize::new(0);
/// Cases holding frames now.
static HOLDERS: AtomicUsize = AtomicUsize::new(0);

fn hold(case: &AtomicUsize, bytes: usize) {
    FRAMES.fetch_add(bytes, Ordering::SeqCst);
    if case.fetch_add(bytes, Ordering::SeqCst) == 0 {
        HOLDERS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Memory a parsed frame takes: its text, the JSON tree (an ordered map per
/// object; about 2 KiB for a 100-byte pong, measured), the queue slot.
fn cost(text_len: usize) -> usize {
    2 * text_len + 2048
}

/// A transport reader queued `n` bytes of frames.
pub fn transit_add(n: usize) {
    TRANSIT.fetch_add(n, Ordering::SeqCst);
}

/// Queued bytes were taken (or dropped with their connection).
pub fn transit_sub(n: usize) {
    TRANSIT.fetch_sub(n, Ordering::SeqCst);
}

/// Bytes held for the frames of one case, released when the frame is dropped.
#[derive(Debug)]
pub struct Charge {
    bytes: usize,
    case: Arc<AtomicUsize>,
}

impl Charge {
    /// Account a received frame of `text_len` bytes to the run and to `case`.
    pub fn frame(text_len: usize, case: &Arc<AtomicUsize>) -> Charge {
        let bytes = cost(text_len);
        hold(case, bytes);
        Charge {
            bytes,
            case: case.clone(),
        }
    }
}

impl Clone for Charge {
    fn clone(&self) -> Charge {
        hold(&self.case, self.bytes);
        Charge {
            bytes: self.bytes,
            case: self.case.clone(),
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        FRAMES.fetch_sub(self.bytes, Ordering::SeqCst);
        if self.case.fetch_sub(self.bytes, Ordering::SeqCst) == self.bytes {
            HOLDERS.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Bytes held now: frames waiting and logs kept.
pub fn used() -> usize {
    FRAMES.load(Ordering::SeqCst) + LOGS.load(Ordering::SeqCst) + TRANSIT.load(Ordering::SeqCst)
}

/// Bytes of frames waiting for a step, all cases together.
pub fn frames() -> usize {
    FRAMES.load(Ordering::SeqCst)
}

/// Is the run over its budget? Readers then stop reading (the target feels
/// back-pressure) until the flooding case has been ended.
pub fn over() -> bool {
    used() > RUN_BYTES
}

/// Is the case holding `case_bytes` of frames one flooding the run? Only
/// when the run is over budget and the case holds at least an average share
/// of the frames waiting: the largest holder always does, and a case
/// holding little beside a flood is not blamed.
pub fn flooding(case_bytes: usize) -> bool {
    over()
        && case_bytes > 0
        && case_bytes.saturating_mul(HOLDERS.load(Ordering::SeqCst).max(1)) >= frames()
}

/// The bytes of one case's wire log, released when the last entry holding
/// it is dropped (after the reports are written).
#[derive(Debug, Default)]
pub struct LogCharge {
    bytes: AtomicUsize,
}

impl LogCharge {
    /// Reserve room for an entry of `n` bytes; false when the run's or this
    /// case's share of the log budget is spent.
    pub fn keep(&self, n: usize) -> bool {
        if self.bytes.load(Ordering::SeqCst) + n > CASE_LOG_BYTES {
            return false;
        }
        let ok = LOGS
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
                (l + n <= LOG_BYTES).then_some(l + n)
            })
            .is_ok();
        if ok {
            self.bytes.fetch_add(n, Ordering::SeqCst);
        }
        ok
    }

    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }
}

impl Drop for LogCharge {
    fn drop(&mut self) {
        LOGS.fetch_sub(self.bytes.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// Wait until the run is back under budget (or `give_up` resolves).
pub async fn room(give_up: impl std::future::Future<Output = ()>) {
    tokio::pin!(give_up);
    while over() {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
            _ = &mut give_up => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_released_on_drop_and_counted_per_case() {
        let case = Arc::new(AtomicUsize::new(0));
        let c = Charge::frame(1000, &case);
        let d = c.clone();
        assert_eq!(case.load(Ordering::SeqCst), 2 * cost(1000));
        drop(c);
        drop(d);
        assert_eq!(case.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn one_case_cannot_take_every_log() {
        let l = LogCharge::default();
        assert!(l.keep(10));
        assert!(!l.keep(CASE_LOG_BYTES));
        assert_eq!(l.bytes(), 10);
    }
}
