//! Runs a selection of client cases against one client: prerequisites
//! (BLOCKED) and the cases themselves, `jobs` at a time.

use super::{run_case, ClientTarget};
use crate::case::Case;
use crate::engine::runner::{schedule, CaseResult, RunOptions};
use std::sync::Arc;

/// Run `cases` against `target`. `on_result` sees each result as it lands.
pub async fn run_all(
    cases: Vec<Arc<Case>>,
    target: Arc<ClientTarget>,
    opts: RunOptions,
    on_result: impl Fn(&CaseResult) + Send + Sync + 'static,
) -> Vec<CaseResult> {
    let engine = opts.engine.clone();
    schedule(cases, opts.jobs, Arc::new(on_result), move |case| {
        let (target, engine) = (target.clone(), engine.clone());
        async move { run_case(&case, &target, &engine).await }
    })
    .await
}
