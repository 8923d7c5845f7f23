//! What both roles' case checks share: the template names a step refers
//! to, and the shape of a problem found at a line.

use super::model::*;
use crate::template;

/// A problem at a line (0 = unknown).
pub(crate) type Problem = (usize, String);

/// Every template name a step's values refer to (not `set`, handled
/// in order).
pub fn step_names(kind: &StepKind) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut value = |v: &serde_json::Value| out.extend(template::names(v));
    match kind {
        StepKind::Open(h) | StepKind::Hello(h) => {
            if let Some(p) = &h.payload {
                value(&serde_json::Value::Object(p.clone()));
            }
            if let Auth::Replace(v) = &h.auth {
                value(v);
            }
        }
        StepKind::Send(s) => match &s.frame {
            Frame::Message(m) => {
                value(&m.payload);
                value(&serde_json::Value::Object(m.envelope.clone()));
                for t in [&m.job_id, &m.trace_id].into_iter().flatten() {
                    value(&t.as_str().into());
                }
            }
            Frame::Raw(r) => value(&r.as_str().into()),
            Frame::Oversize(_) => {}
        },
        StepKind::Submit(s) => {
            value(&s.agent.as_str().into());
            value(&s.input);
            for v in [&s.lease_request, &s.lease_constraints, &s.max_runtime_sec]
                .into_iter()
                .flatten()
            {
                value(v);
            }
            for t in [&s.idempotency_key, &s.trace_id].into_iter().flatten() {
                value(&t.as_str().into());
            }
        }
        StepKind::Expect(e) => value(&e.pattern),
        StepKind::ExpectNone(e) => {
            if let Some(p) = &e.pattern {
                value(p);
            }
        }
        StepKind::Resume(r) => {
            value(&r.last_event_seq);
            value(&r.token);
        }
        StepKind::WaitJob(w) => value(&w.job.as_str().into()),
        StepKind::Assert(a) => {
            value(&a.left);
            value(&a.right);
        }
        StepKind::Welcome(w) => {
            if let Some(p) = &w.pattern {
                value(p);
            }
            if let Some(p) = &w.payload {
                value(&serde_json::Value::Object(p.clone()));
            }
        }
        StepKind::Accept(a) => {
            if let Some(p) = &a.pattern {
                value(p);
            }
            if let Some(p) = &a.payload {
                value(&serde_json::Value::Object(p.clone()));
            }
        }
        StepKind::Emit(e) => {
            value(&e.job.as_str().into());
            match &e.what {
                EmitWhat::Event { body, .. } => value(body),
                EmitWhat::Result(r) => value(r),
                EmitWhat::Error(_) | EmitWhat::Message(_) => {}
            }
            if let Some(p) = &e.payload {
                value(&serde_json::Value::Object(p.clone()));
            }
            if let Some(s) = &e.seq {
                value(s);
            }
            value(&serde_json::Value::Object(e.envelope.clone()));
        }
        StepKind::ExpectOutput(o) => match &o.pattern {
            OutputPattern::Line(p) | OutputPattern::Result(p) => value(p),
            OutputPattern::Error(_) => {}
        },
        StepKind::Connect(_)
        | StepKind::Drop(_)
        | StepKind::ExpectError(_)
        | StepKind::ExpectClose(_)
        | StepKind::Sleep(_)
        | StepKind::Set(_)
        | StepKind::Repeat(_) => {}
        StepKind::ExpectUpstream(e) => value(&e.fact.template().into()),
        StepKind::ExpectUpstreamNone(e) => value(&e.fact.template().into()),
        StepKind::UpstreamFail(f) => {
            if let Some(c) = &f.credential {
                value(&c.as_str().into());
            }
        }
    }
    out
}
