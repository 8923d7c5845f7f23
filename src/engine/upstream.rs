//! Steps that judge what the credential upstream saw (`expect_upstream`,
//! `expect_upstream_none`) and steer it (`upstream_fail`). Facts are read
//! from the upstream's own book, except `rejects`, which asks the upstream
//! over HTTP whether a value is still accepted. Messages name credentials by
//! id and never quote a value.

use super::play::Role;
use super::{Run, StepResult, Stop};
use crate::case::{ExpectUpstream, ExpectUpstreamNone, UpstreamFact, UpstreamFail, UpstreamOp};
use crate::upstream::{client, FailPlan, Op, Upstream};
use crate::verdict::Direction;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// How often a fact is re-checked while waiting.
const POLL: Duration = Duration::from_millis(20);

impl Run<'_> {
    fn upstream(&self) -> Result<Upstream, Stop> {
        self.instance.upstream.clone().ok_or_else(|| {
            Stop::harness("this case needs the credential upstream, which this target has none of (profile `upstream: true`)")
        })
    }

    fn fact_text(&self, fact: &UpstreamFact) -> Result<String, Stop> {
        match self.render(&Value::from(fact.template()))? {
            Value::String(s) => Ok(s),
            other => Ok(other.to_string()),
        }
    }

    pub(crate) async fn expect_upstream(&mut self, e: &ExpectUpstream) -> StepResult {
        let up = self.upstream()?;
        let arg = self.fact_text(&e.fact)?;
        let until = Instant::now() + self.deadline(e.within);
        if let UpstreamFact::Revoked(_) | UpstreamFact::Presented(_) = &e.fact {
            if !up.issued(&arg) {
                // Not a spec violation: the target's provisioner does not
                // use the upstream its profile says it takes.
                self.note_upstream(&up);
                return Err(Stop::harness(format!(
                    "credential {arg} was not issued by the harness's upstream: the target's provisioner does not use ARCP_CONFORM_UPSTREAM (profile `upstream: true`)"
                )));
            }
        }
        loop {
            if holds(&up, &e.fact, &arg).await {
                self.note_upstream(&up);
                return Ok(());
            }
            if Instant::now() >= until {
                self.note_upstream(&up);
                return Err(Stop::Fail {
                    reason: format!(
                        "the credential upstream did not see {} within {:?}",
                        describe(&e.fact, &arg),
                        e.within
                    ),
                    expected: Some(describe(&e.fact, &arg)),
                    actual: Some(summary(&up)),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub(crate) async fn expect_upstream_none(&mut self, e: &ExpectUpstreamNone) -> StepResult {
        let up = self.upstream()?;
        let arg = self.fact_text(&e.fact)?;
        let until = Instant::now() + self.target.clock.wall(e.duration);
        loop {
            if holds(&up, &e.fact, &arg).await {
                self.note_upstream(&up);
                return Err(Stop::Fail {
                    reason: format!("the credential upstream saw {}", describe(&e.fact, &arg)),
                    expected: Some(format!("no {}", describe(&e.fact, &arg))),
                    actual: Some(summary(&up)),
                });
            }
            if Instant::now() >= until {
                self.note_upstream(&up);
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub(crate) fn upstream_fail(&mut self, f: &UpstreamFail) -> StepResult {
        let up = self.upstream()?;
        let credential = match &f.credential {
            Some(c) => Some(match self.render(&Value::from(c.as_str()))? {
                Value::String(s) => s,
                other => other.to_string(),
            }),
            None => None,
        };
        up.set_fail(FailPlan {
            op: match f.op {
                UpstreamOp::Issue => Some(Op::Issue),
                UpstreamOp::Rotate => Some(Op::Rotate),
                UpstreamOp::Revoke => Some(Op::Revoke),
                UpstreamOp::Any => None,
            },
            status: f.status,
            times: f.times,
            delay: f.delay,
            credential: credential.clone(),
        });
        self.wire.log(
            "upstream",
            Direction::Note,
            &format!(
                "upstream told to fail: status {} {} for {:?} calls{}, delay {:?}",
                f.status,
                f.times
                    .map_or("permanently".to_string(), |n| format!("{n} times")),
                f.op,
                credential.map_or(String::new(), |c| format!(" about {c}")),
                f.delay
            ),
        );
        Ok(())
    }

    /// The upstream's records into the wire log: the evidence of the case.
    fn note_upstream(&self, up: &Upstream) {
        self.wire.log("upstream", Direction::Note, &summary(up));
    }
}

async fn holds(up: &Upstream, fact: &UpstreamFact, arg: &str) -> bool {
    match fact {
        UpstreamFact::Issued(_) => up.issued(arg),
        UpstreamFact::IssuedFor(_) => !up.issued_for(arg).is_empty(),
        UpstreamFact::Revoked(_) => up.revoked(arg),
        // No credential for the job: none can be live (child credentials are optional, §9.8.2).
        UpstreamFact::RevokedFor(_) => up.issued_for(arg).iter().all(|id| up.revoked(id)),
        UpstreamFact::RevokedValue(_) => up.value_revoked(arg) == Some(true),
        // A value the upstream never issued proves nothing.
        UpstreamFact::Rejects(_) if up.value_revoked(arg).is_none() => false,
        UpstreamFact::Rejects(_) => {
            let url = format!("{}/v1/introspect", up.base());
            match client::call("GET", &url, Some(arg), None, Duration::from_secs(2)).await {
                Ok(a) => a.body.get("active") == Some(&Value::Bool(false)),
                Err(_) => false,
            }
        }
        UpstreamFact::Presented(_) => !up.presentations(Some(arg), Op::Present).is_empty(),
        UpstreamFact::PresentedElsewhere(_) => {
            let id = (arg != "*").then_some(arg);
            !up.presentations(id, Op::Elsewhere).is_empty()
        }
    }
}

/// The fact in words; values are never quoted.
fn describe(fact: &UpstreamFact, arg: &str) -> String {
    match fact {
        UpstreamFact::Issued(_) => format!("credential {arg} issued"),
        UpstreamFact::IssuedFor(_) => format!("a credential issued for job {arg}"),
        UpstreamFact::Revoked(_) => format!("every value of credential {arg} revoked"),
        UpstreamFact::RevokedFor(_) => format!("every credential of job {arg} revoked"),
        UpstreamFact::RevokedValue(_) => "the given credential value revoked".into(),
        UpstreamFact::Rejects(_) => "the given credential value refused".into(),
        UpstreamFact::Presented(_) => format!("credential {arg} presented at its endpoint"),
        UpstreamFact::PresentedElsewhere(_) if arg == "*" => {
            "a credential presented at a URL other than its endpoint".into()
        }
        UpstreamFact::PresentedElsewhere(_) => {
            format!("credential {arg} presented at a URL other than its endpoint")
        }
    }
}

/// The upstream's log, one line per request (ids only, never values).
fn summary(up: &Upstream) -> String {
    let log = up.log();
    if log.is_empty() {
        return "the upstream saw no request".into();
    }
    log.iter()
        .map(|r| {
            format!(
                "{:>8.1} ms {} {} -> {}{}{}",
                r.t_ms,
                r.method,
                r.path,
                r.status,
                if r.injected { " (injected)" } else { "" },
                r.credential
                    .as_ref()
                    .map_or(String::new(), |c| format!(" [{c}]"))
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
