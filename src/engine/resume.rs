//! The resume step (§6.3): reconnect and present the resume arguments, as
//! session.resume or inside session.hello as the profile's dialect says,
//! and check that the welcome continues the old session.

use super::play::Role;
use super::session::Sess;
use super::{Run, StepResult, Stop};
use crate::case::{HelloOutcome, Resume};
use crate::profile::ResumeDialect;
use crate::verdict::Direction;
use serde_json::{json, Value};

impl Run<'_> {
    pub(super) async fn resume(&mut self, r: &Resume) -> StepResult {
        let last = self.render(&r.last_event_seq)?;
        let token = self.render(&r.token)?;
        let s = self.sess(&r.session)?;
        let was = Resuming {
            token,
            last,
            id: s.id.clone(),
            principal: s.principal.clone(),
            features: s.features.clone(),
            token_before: s.resume_token.clone(),
        };
        // A runtime may not yet have noticed the drop when the reconnect
        // comes (the Python SDK then has "no resumable session"), and the
        // spec sets no time for that: a refusal is retried on a fresh
        // connection, with backoff, before it is judged. A refusal the case
        // expects is not retried.
        let mut welcome = self.resume_once(r, &was).await;
        let mut waited = std::time::Duration::ZERO;
        for retry in 1..=RESUME_RETRIES {
            let refused = matches!(&welcome, Err(Stop::Fail { actual: Some(a), .. }) if a.contains("\"session.error\""));
            if !refused || !matches!(r.expect, HelloOutcome::Welcome) {
                break;
            }
            let wait = resume_backoff(retry, self.opts.timeout_scale);
            self.wire.log(
                &r.session,
                Direction::Note,
                &format!("resume refused; the target may not have noticed the drop yet: reconnecting in {wait:?} (retry {retry} of {RESUME_RETRIES})"),
            );
            self.target.clock.sleep(wait).await;
            waited += wait;
            welcome = self.resume_once(r, &was).await;
            if let Err(Stop::Fail { reason, .. }) = &mut welcome {
                *reason = format!(
                    "{reason} (on each of {} attempts over {waited:?} after the drop)",
                    retry + 1
                );
            }
        }
        if let Err(Stop::Fail {
            reason,
            expected,
            actual,
        }) = welcome
        {
            // A refusal the case expected came as a welcome: say whether it
            // was a fresh session (the resume ignored) or the old one resumed.
            let fresh = actual.as_deref().is_some_and(|a| {
                a.contains("session.welcome")
                    && was.id.as_deref().is_some_and(|old| !a.contains(old))
            });
            let reason = if fresh {
                format!(
                    "{reason}: the welcome opens a fresh session instead of refusing the resume"
                )
            } else {
                reason
            };
            return Err(Stop::Fail {
                reason,
                expected,
                actual,
            });
        }
        welcome?;
        if matches!(r.expect, HelloOutcome::Welcome) {
            // A welcome naming another session is a fresh session: the
            // resume was not honoured, whatever else the case sees after it.
            let welcomed = self
                .vars
                .get(&format!("{}_welcome", r.session))
                .and_then(|w| w.get("session_id"))
                .and_then(Value::as_str)
                .map(String::from);
            if let (Some(old), Some(new)) = (&was.id, &welcomed) {
                if old != new {
                    return Err(Stop::Fail {
                        reason: format!(
                            "the resume was not honoured: the welcome names a new session `{new}`, not `{old}` (a fresh session)"
                        ),
                        expected: Some(format!("session.welcome with session_id {old}")),
                        actual: Some(format!("session.welcome with session_id {new}")),
                    });
                }
            }
            // Features are those negotiated when the session began.
            let sess = self.sess(&r.session)?;
            sess.features = was.features.clone();
            self.monitor
                .opened(&r.session, &was.principal, &was.features);
            self.monitor
                .resumed(&r.session, was.last.as_u64().unwrap_or(0));
        }
        Ok(())
    }
}

/// What a resume presents, and the session as it was before it: each retry
/// of a refused resume starts from it again.
struct Resuming {
    token: Value,
    last: Value,
    id: Option<String>,
    principal: String,
    features: Vec<String>,
    token_before: Option<String>,
}

/// How many times a refused resume is retried, each on a fresh connection.
const RESUME_RETRIES: u32 = 3;

/// The wait before retry `n` (from 1) of a refused resume: 250 ms, doubling,
/// scaled with the run's deadlines (1.75 s in all, unscaled).
fn resume_backoff(n: u32, scale: f64) -> std::time::Duration {
    std::time::Duration::from_millis(250 << (n - 1)).mul_f64(scale)
}

impl Run<'_> {
    /// One resume: reconnect, present the resume arguments, await the welcome.
    async fn resume_once(&mut self, r: &Resume, was: &Resuming) -> StepResult {
        let conn = self.target.connect(&self.instance).await.map_err(|e| {
            Stop::target(format!(
                "could not reconnect to {}: {e}",
                self.target.describe()
            ))
        })?;
        self.wire
            .log(&r.session, Direction::Note, "reconnected for resume");
        let mut sess = Sess::new(
            conn,
            &was.principal,
            self.wire.clone(),
            &r.session,
            self.target.clock.clone(),
        );
        sess.set_id(was.id.clone());
        // Until a welcome says otherwise, the latest token and the features
        // are the ones we had: a refused resume must not lose them.
        sess.resume_token = was.token_before.clone();
        sess.features = was.features.clone();
        sess.last_seq = was.last.as_u64().unwrap_or(0);
        if let Some(old) = self.sessions.insert(r.session.clone(), sess) {
            old.shutdown().await;
        }
        let dialect = self.target.profile.dialect.clone();
        let args = dialect.resume_args(json!(was.id), was.token.clone(), was.last.clone());
        if dialect.resume_keys != Default::default() {
            self.note_dialect("resume arguments under the profile's dialect.resume_keys");
        }
        let env = match dialect.resume {
            ResumeDialect::Message => self.envelope(&r.session, "session.resume", args)?,
            ResumeDialect::Hello => {
                self.note_dialect(
                    "resume spelled as session.hello.payload.resume (profile dialect)",
                );
                // A whole hello, as the session's principal, offering what it offered before.
                let t = self
                    .target
                    .profile
                    .tokens
                    .for_principal(&was.principal)
                    .unwrap_or_else(|| self.target.profile.tokens.alice.clone());
                let mut payload =
                    dialect.client_identity("arcp-conform", env!("CARGO_PKG_VERSION"));
                payload["auth"] = json!({"scheme": "bearer", "token": t});
                payload["capabilities"] = json!({"encodings": ["json"], "features": was.features});
                payload["resume"] = args;
                let mut env = self.envelope(&r.session, "session.hello", payload)?;
                if dialect.session_id == crate::profile::SessionIdDialect::Client {
                    // A hello names a new session; only the `resume` object names
                    // the old one, so a welcome echoing the envelope's id is a
                    // fresh session, not the resumed one.
                    env["session_id"] = Value::from(crate::ids::session_id());
                }
                env
            }
        };
        self.send_text(&r.session, env.to_string()).await?;
        let sent = match dialect.resume {
            ResumeDialect::Message => "session.resume",
            // It carries the bearer token: a refusal may be the token's.
            ResumeDialect::Hello => "session.hello with resume",
        };
        self.await_welcome(&r.session, &was.features, &r.expect, sent)
            .await
    }
}
