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
        let (id, principal, features, token_before) = {
            let s = self.sess(&r.session)?;
            (
                s.id.clone(),
                s.principal.clone(),
                s.features.clone(),
                s.resume_token.clone(),
            )
        };
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
            &principal,
            self.wire.clone(),
            &r.session,
            self.target.clock.clone(),
        );
        sess.set_id(id.clone());
        // Until a welcome says otherwise, the latest token and the features
        // are the ones we had: a refused resume must not lose them.
        sess.resume_token = token_before;
        sess.features = features.clone();
        sess.last_seq = last.as_u64().unwrap_or(0);
        if let Some(old) = self.sessions.insert(r.session.clone(), sess) {
            old.shutdown().await;
        }
        let dialect = self.target.profile.dialect.clone();
        let args = dialect.resume_args(json!(id), token, last.clone());
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
                    .for_principal(&principal)
                    .unwrap_or_else(|| self.target.profile.tokens.alice.clone());
                let mut payload =
                    dialect.client_identity("arcp-conform", env!("CARGO_PKG_VERSION"));
                payload["auth"] = json!({"scheme": "bearer", "token": t});
                payload["capabilities"] = json!({"encodings": ["json"], "features": features});
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
        let welcome = self
            .await_welcome(&r.session, &features, &r.expect, sent)
            .await;
        if let Err(Stop::Fail {
            reason,
            expected,
            actual,
        }) = welcome
        {
            // A refusal the case expected came as a welcome: say whether it
            // was a fresh session (the resume ignored) or the old one resumed.
            let fresh = actual.as_deref().is_some_and(|a| {
                a.contains("session.welcome") && id.as_deref().is_some_and(|old| !a.contains(old))
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
            if let (Some(old), Some(new)) = (&id, &welcomed) {
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
            sess.features = features.clone();
            self.monitor.opened(&r.session, &principal, &features);
            self.monitor.resumed(&r.session, last.as_u64().unwrap_or(0));
        }
        Ok(())
    }
}
