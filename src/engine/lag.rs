//! The harness's own scheduling lag. A loaded machine can starve the task
//! that reads a target's frames, so a deadline can pass with the answer
//! already in the socket. A ticker measures how late its timer fires while a
//! case runs; a verdict decided by a missed deadline says so when the lag
//! was large enough to explain it.
//!
//! Lateness is read on tokio's clock, the one deadlines use: on wall time it
//! is the wall clock; on virtual time (a paused runtime) time does not move
//! while tasks are ready, so a busy scheduler cannot make a deadline pass and
//! there is no lag to blame. Read on the wall clock instead, a virtual 50 ms
//! that took long to compute (many cases at once) looked like a starved
//! scheduler and turned FAILs into ERRORs.

use crate::verdict::{Origin, Outcome, Verdict};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How often the ticker wakes.
const TICK: Duration = Duration::from_millis(50);
/// Lag past which a missed deadline is blamed on the harness: a quarter of
/// the shortest deadline ([`super::MIN_WAIT`]).
pub const BLAME_LAG: Duration = Duration::from_millis(500);

/// Measures timer lateness until stopped.
pub struct Ticker {
    worst_us: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Ticker {
    pub fn start() -> Ticker {
        let worst_us = Arc::new(AtomicU64::new(0));
        let w = worst_us.clone();
        let task = tokio::spawn(async move {
            loop {
                let t = Instant::now();
                tokio::time::sleep(TICK).await;
                let late = t.elapsed().saturating_sub(TICK).as_micros() as u64;
                w.fetch_max(late, Ordering::Relaxed);
            }
        });
        Ticker { worst_us, task }
    }

    /// The worst lateness seen.
    pub fn stop(self) -> Duration {
        self.task.abort();
        Duration::from_micros(self.worst_us.load(Ordering::Relaxed))
    }
}

/// A verdict decided by a missed deadline while the harness itself ran late
/// is the harness's ERROR, never the target's FAIL.
pub fn annotate(o: &mut Outcome) {
    if !o.deadline_missed || o.harness_lag < BLAME_LAG {
        return;
    }
    o.reason = format!(
        "{} — but the harness's own timers ran up to {:.1}s late during this case (a starved scheduler, e.g. a loaded machine), so the missed deadline is the harness's, not the target's",
        o.reason,
        o.harness_lag.as_secs_f64()
    );
    o.verdict = Verdict::Error;
    o.origin = Some(Origin::Harness);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_starved_runtime_is_measured_and_blamed() {
        let t = Ticker::start();
        tokio::time::sleep(Duration::from_millis(60)).await;
        // Block the only worker thread: the ticker cannot run meanwhile.
        std::thread::sleep(Duration::from_millis(800));
        tokio::time::sleep(Duration::from_millis(60)).await;
        let lag = t.stop();
        assert!(lag >= Duration::from_millis(500), "{lag:?}");
        let mut o = Outcome::new(Verdict::Fail, "no matching frame within 5s");
        o.deadline_missed = true;
        o.harness_lag = lag;
        annotate(&mut o);
        assert_eq!(o.verdict, Verdict::Error);
        assert_eq!(o.origin, Some(Origin::Harness));
        assert!(
            o.reason.contains("the harness's, not the target's"),
            "{}",
            o.reason
        );
        // A verdict on content, or a punctual harness, is left alone.
        let mut o = Outcome::new(Verdict::Fail, "wrong code");
        o.harness_lag = lag;
        annotate(&mut o);
        assert_eq!(o.verdict, Verdict::Fail);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn on_virtual_time_slow_work_is_no_lag() {
        let t = Ticker::start();
        tokio::time::sleep(Duration::from_millis(60)).await;
        // Long work between timers: virtual time waits for it.
        std::thread::sleep(Duration::from_millis(800));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(t.stop() < BLAME_LAG);
    }
}
