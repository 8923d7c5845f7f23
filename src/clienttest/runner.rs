//! Runs a selection of client cases against one client: prerequisites
//! (BLOCKED) and the cases themselves, `jobs` at a time.

use super::{run_case, ClientTarget};
use crate::case::Case;
use crate::engine::runner::{CaseResult, RunOptions};
use crate::verdict::{Outcome, Verdict};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{watch, Semaphore};

/// Run `cases` against `target`. `on_result` sees each result as it lands.
pub async fn run_all(
    cases: Vec<Arc<Case>>,
    target: Arc<ClientTarget>,
    opts: RunOptions,
    on_result: impl Fn(&CaseResult) + Send + Sync + 'static,
) -> Vec<CaseResult> {
    let on_result = Arc::new(on_result);
    let sem = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let mut senders = HashMap::new();
    let mut done: HashMap<String, watch::Receiver<Option<Verdict>>> = HashMap::new();
    for c in &cases {
        let (tx, rx) = watch::channel(None);
        done.insert(c.id.clone(), rx);
        senders.insert(c.id.clone(), tx);
    }
    let mut handles = vec![];
    for case in cases {
        let deps: Vec<_> = case
            .depends_on
            .iter()
            .filter_map(|d| done.get(d).map(|rx| (d.clone(), rx.clone())))
            .collect();
        let tx = senders.remove(&case.id).expect("one sender per case");
        let (target, sem, opts, on_result) =
            (target.clone(), sem.clone(), opts.clone(), on_result.clone());
        handles.push(tokio::spawn(async move {
            let mut blocked = None;
            for (id, mut rx) in deps {
                let v = rx
                    .wait_for(Option::is_some)
                    .await
                    .map(|v| v.unwrap())
                    .unwrap_or(Verdict::Error);
                if !matches!(v, Verdict::Pass | Verdict::Warn | Verdict::Info) {
                    blocked = Some(format!("blocked by {id} ({v})"));
                    break;
                }
            }
            let outcome = match blocked {
                Some(why) => Outcome::new(Verdict::Blocked, why),
                None => {
                    let _permit = sem.acquire().await.expect("semaphore open");
                    run_case(&case, &target, &opts.engine).await
                }
            };
            let _ = tx.send(Some(outcome.verdict));
            let r = CaseResult { case, outcome };
            on_result(&r);
            r
        }));
    }
    let mut results = vec![];
    for h in handles {
        match h.await {
            Ok(r) => results.push(r),
            Err(e) => eprintln!("arcp-conform: internal error in a client case task: {e}"),
        }
    }
    results
}
