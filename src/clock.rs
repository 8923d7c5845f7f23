//! Injectable time. The reference runtime and the scenario engine read time
//! only through a [`Clock`], so tests can move time by hand ([`ManualClock`])
//! and the suite can run protocol time faster than wall time ([`ScaledClock`]).

use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Protocol time now.
    fn now(&self) -> DateTime<Utc>;
    /// Resolve after `d` of protocol time.
    fn sleep(&self, d: Duration) -> Sleep;
    /// Wall time that `d` of protocol time takes (for harness deadlines).
    fn wall(&self, d: Duration) -> Duration;
    /// The same clock started on the calling tokio runtime, for a clock
    /// that reads the runtime's own (paused) time; `None`: it reads a
    /// time every runtime shares, and can be shared as is.
    fn on_this_runtime(&self) -> Option<SharedClock> {
        None
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// Wall time, optionally sped up: protocol time runs `scale` times faster.
#[derive(Debug)]
pub struct ScaledClock {
    scale: f64,
    origin_wall: DateTime<Utc>,
    origin: std::time::Instant,
}

/// Every sped-up clock runs from this instant, so two processes with the
/// same scale (the harness and a `serve --time-scale` target it spawned)
/// agree on protocol time: `now = EPOCH + (wall - EPOCH) * scale`.
pub fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("valid epoch")
        .with_timezone(&Utc)
}

impl ScaledClock {
    pub fn new(scale: f64) -> Self {
        assert!(scale > 0.0, "time scale must be positive");
        let wall = Utc::now();
        let origin_wall = if scale == 1.0 {
            wall
        } else {
            let since = (wall - epoch()).to_std().unwrap_or_default();
            epoch() + chrono::Duration::from_std(since.mul_f64(scale)).unwrap_or_default()
        };
        ScaledClock {
            scale,
            origin_wall,
            origin: std::time::Instant::now(),
        }
    }

    pub fn real() -> Self {
        ScaledClock::new(1.0)
    }

    pub fn shared(scale: f64) -> SharedClock {
        Arc::new(ScaledClock::new(scale))
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self.origin.elapsed().mul_f64(self.scale);
        self.origin_wall + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }

    fn sleep(&self, d: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(self.wall(d)))
    }

    fn wall(&self, d: Duration) -> Duration {
        d.div_f64(self.scale)
    }
}

/// Tokio's clock as protocol time. On a runtime from [`virtual_runtime`]
/// tokio's time is paused and jumps to the next timer whenever every task
/// waits, so protocol time costs no wall time; on any other runtime this is
/// wall time. Only for in-memory targets: a child process keeps real time.
#[derive(Debug)]
pub struct TokioClock {
    origin_wall: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl TokioClock {
    pub fn shared() -> SharedClock {
        Arc::new(TokioClock {
            origin_wall: Utc::now(),
            origin: tokio::time::Instant::now(),
        })
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.origin);
        self.origin_wall + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }

    fn sleep(&self, d: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(d))
    }

    fn wall(&self, d: Duration) -> Duration {
        d
    }

    /// Each paused runtime has its own timeline: read from another
    /// runtime, `origin` may lie in its future and time would stand still.
    fn on_this_runtime(&self) -> Option<SharedClock> {
        Some(TokioClock::shared())
    }
}

/// A single-threaded tokio runtime with paused, auto-advancing time: the
/// home of an embedded runtime on a [`TokioClock`] and of the harness
/// driving it.
pub fn virtual_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("tokio runtime")
}

/// Time that moves only when a test says so.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<DateTime<Utc>>>,
    tick: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        let (tick, _) = watch::channel(start);
        ManualClock {
            inner: Arc::new(Mutex::new(start)),
            tick,
        }
    }

    pub fn advance(&self, d: Duration) {
        let mut now = self.inner.lock().unwrap();
        *now += chrono::Duration::from_std(d).unwrap_or_default();
        self.tick.send_replace(*now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.inner.lock().unwrap()
    }

    fn sleep(&self, d: Duration) -> Sleep {
        let target = self.now() + chrono::Duration::from_std(d).unwrap_or_default();
        let mut rx = self.tick.subscribe();
        Box::pin(async move {
            loop {
                if *rx.borrow_and_update() >= target {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
    }

    fn wall(&self, d: Duration) -> Duration {
        d
    }
}

/// RFC 3339 with millisecond precision and `Z`, as the spec's examples use.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_sleep_wakes_on_advance() {
        let c = ManualClock::new(Utc::now());
        let s = c.sleep(Duration::from_secs(10));
        let h = tokio::spawn(s);
        c.advance(Duration::from_secs(5));
        tokio::task::yield_now().await;
        assert!(!h.is_finished());
        c.advance(Duration::from_secs(5));
        tokio::time::timeout(Duration::from_secs(1), h)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn scaled_clocks_started_apart_agree() {
        let a = ScaledClock::new(10.0);
        std::thread::sleep(Duration::from_millis(30));
        let b = ScaledClock::new(10.0);
        let skew = (a.now() - b.now()).num_milliseconds().abs();
        assert!(skew < 50, "skew {skew} ms");
    }

    #[tokio::test]
    async fn scaled_clock_runs_fast() {
        let c = ScaledClock::new(100.0);
        let t0 = c.now();
        c.sleep(Duration::from_secs(1)).await;
        assert!(c.now() - t0 >= chrono::Duration::milliseconds(990));
        assert_eq!(c.wall(Duration::from_secs(1)), Duration::from_millis(10));
    }
}
