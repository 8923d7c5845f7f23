//! Target profiles: how to reach an implementation and the few facts the
//! wire cannot tell (which tokens to use, which agent plays which role, the
//! time scale it runs at, and dialect choices where the spec is silent).

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Display name of the implementation (report column header).
    #[serde(default = "default_name")]
    pub name: String,
    /// Command (stdio) or `ws://` URL; `--target` overrides it.
    #[serde(default)]
    pub target: Option<String>,
    /// With a `ws://` target: a command that starts the server first.
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub tokens: Tokens,
    #[serde(default)]
    pub agents: Agents,
    /// Protocol seconds per wall second the target runs at (1 = real time).
    #[serde(default = "one")]
    pub time_scale: f64,
    #[serde(default)]
    pub dialect: Dialect,
    /// The target takes a credential upstream from `ARCP_CONFORM_UPSTREAM`
    /// (CONFORMANCE.md, "The credential upstream"); without it, cases that
    /// judge revocation at the upstream are UNTESTABLE.
    #[serde(default)]
    pub upstream: bool,
    /// Limits the wire does not advertise (replay buffer; resume window when
    /// `session.welcome` has no `resume_window_sec`).
    #[serde(default)]
    pub limits: crate::limits::Limits,
}

fn default_name() -> String {
    "target".into()
}

fn one() -> f64 {
    1.0
}

/// Bearer tokens for the principals cases use.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// First principal.
    pub alice: String,
    /// A second token of the same principal (a second session of alice).
    pub alice2: Option<String>,
    /// A different principal.
    pub bob: Option<String>,
    /// A token the target must reject.
    pub invalid: String,
}

impl Default for Tokens {
    fn default() -> Self {
        use crate::runtime::*;
        Tokens {
            alice: TOKEN_ALICE.into(),
            alice2: Some(TOKEN_ALICE_2.into()),
            bob: Some(TOKEN_BOB.into()),
            invalid: TOKEN_INVALID.into(),
        }
    }
}

impl Tokens {
    /// Put every token in the run-wide secret registry ([`crate::redact::register`]).
    pub fn register_secrets(&self) {
        for t in [
            Some(&self.alice),
            self.alice2.as_ref(),
            self.bob.as_ref(),
            Some(&self.invalid),
        ]
        .into_iter()
        .flatten()
        {
            crate::redact::register(t);
        }
    }

    pub fn for_principal(&self, alias: &str) -> Option<String> {
        match alias {
            "alice" => Some(self.alice.clone()),
            "alice2" => self.alice2.clone(),
            "bob" => self.bob.clone(),
            "invalid" => Some(self.invalid.clone()),
            _ => None,
        }
    }
}

/// Which advertised agent plays which role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agents {
    pub conformance: Option<String>,
    pub echo: Option<String>,
}

impl Agents {
    /// The target's agent name for `role`. `advertised`: the agents the
    /// target's welcome lists (empty: it lists none, so trust the profile).
    /// `Any` is the conformance agent, else the echo agent: the first of them
    /// the profile names and the target advertises; both end a job whose
    /// input is a conformance step list with success.
    pub fn for_role(&self, role: crate::case::AgentRole, advertised: &[String]) -> Option<String> {
        use crate::case::AgentRole;
        match role {
            AgentRole::Conformance => self.conformance.clone(),
            AgentRole::Echo => self.echo.clone(),
            AgentRole::Any => [&self.conformance, &self.echo]
                .into_iter()
                .flatten()
                .find(|n| advertised.is_empty() || advertised.contains(n))
                .cloned(),
        }
    }
}

impl Default for Agents {
    fn default() -> Self {
        Agents {
            conformance: Some(crate::runtime::agent::CONFORMANCE.into()),
            echo: Some(crate::runtime::agent::ECHO.into()),
        }
    }
}

/// Choices where the spec is ambiguous or silent. Every case that relied on
/// a non-default choice says so in its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dialect {
    /// `arcp` envelope value to send.
    pub arcp_version: String,
    /// How resume is spelled: `message` (session.resume, §6.3) or `hello`
    /// (a `resume` object inside session.hello).
    pub resume: ResumeDialect,
    /// Close request / answer types. `closed: none`: the close gets no
    /// answer and the target closes the transport, which honours it.
    pub close: String,
    pub closed: String,
    /// Who names the session: `welcome` (the runtime, §6.2) or `client`
    /// (the harness mints an envelope `session_id` for session.hello and
    /// sends it on every frame).
    pub session_id: SessionIdDialect,
    /// How session.hello names the client: `object` (`client: {name,
    /// version}`, §6.2) or `flat` (`client_name` / `client_version`).
    pub client_identity: IdentityDialect,
    /// Key names of the resume arguments (session.resume's payload, or the
    /// `resume` object inside session.hello).
    pub resume_keys: ResumeKeys,
}

/// The `closed` value meaning "no answer; the transport closes".
pub const CLOSED_BY_TRANSPORT: &str = "none";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionIdDialect {
    #[default]
    Welcome,
    Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityDialect {
    #[default]
    Object,
    Flat,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResumeKeys {
    pub token: String,
    pub last_event_seq: String,
    pub session_id: String,
}

impl Default for ResumeKeys {
    fn default() -> Self {
        ResumeKeys {
            token: "resume_token".into(),
            last_event_seq: "last_event_seq".into(),
            session_id: "session_id".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResumeDialect {
    Message,
    Hello,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect {
            arcp_version: crate::wire::PROTOCOL_VERSION.into(),
            resume: ResumeDialect::Message,
            close: "session.close".into(),
            closed: "session.closed".into(),
            session_id: SessionIdDialect::Welcome,
            client_identity: IdentityDialect::Object,
            resume_keys: ResumeKeys::default(),
        }
    }
}

impl Dialect {
    /// Human notes for every point where this dialect departs from the spec's spelling.
    pub fn deviations(&self) -> Vec<String> {
        let spec = Dialect::default();
        let mut out = vec![];
        if self.arcp_version != spec.arcp_version {
            out.push(format!(
                "envelope arcp `{}` instead of `{}`",
                self.arcp_version, spec.arcp_version
            ));
        }
        if self.resume != spec.resume {
            out.push("resume via session.hello.payload.resume instead of session.resume".into());
        }
        if self.close != spec.close || self.closed != spec.closed {
            out.push(format!(
                "close as `{}`/`{}` instead of session.close/session.closed",
                self.close, self.closed
            ));
        }
        out.extend(self.hello_deviations());
        if self.resume_keys != spec.resume_keys {
            let k = &self.resume_keys;
            out.push(format!(
                "resume arguments keyed `{}`/`{}`/`{}` instead of resume_token/last_event_seq/session_id",
                k.token, k.last_event_seq, k.session_id
            ));
        }
        out
    }

    /// Notes for the points where session.hello departs from the spec's spelling.
    pub fn hello_deviations(&self) -> Vec<String> {
        let spec = Dialect::default();
        let mut out = vec![];
        if self.session_id != spec.session_id {
            out.push("the client mints the envelope session_id (from session.hello on)".into());
        }
        if self.client_identity != spec.client_identity {
            out.push(
                "hello names the client with flat client_name/client_version, not `client`".into(),
            );
        }
        out
    }

    /// Does session.hello go out as the spec spells it (who names the
    /// session, how the client is named)?
    pub fn hello_is_spec(&self) -> bool {
        let spec = Dialect::default();
        self.session_id == spec.session_id && self.client_identity == spec.client_identity
    }

    /// The client's identity fields of a session.hello payload.
    pub fn client_identity(&self, name: &str, version: &str) -> serde_json::Value {
        match self.client_identity {
            IdentityDialect::Object => {
                serde_json::json!({"client": {"name": name, "version": version}})
            }
            IdentityDialect::Flat => {
                serde_json::json!({"client_name": name, "client_version": version})
            }
        }
    }

    /// Resume arguments under this dialect's key names.
    pub fn resume_args(
        &self,
        session_id: serde_json::Value,
        token: serde_json::Value,
        last_event_seq: serde_json::Value,
    ) -> serde_json::Value {
        let k = &self.resume_keys;
        let mut m = serde_json::Map::new();
        m.insert(k.session_id.clone(), session_id);
        m.insert(k.token.clone(), token);
        m.insert(k.last_event_seq.clone(), last_event_seq);
        serde_json::Value::Object(m)
    }

    /// Is a close honoured by the transport closing, with no answer?
    pub fn closed_by_transport(&self) -> bool {
        self.closed == CLOSED_BY_TRANSPORT
    }

    /// The keys where this dialect departs from the spec's spelling, with
    /// their values: what a profile's `dialect:` needs to say.
    pub fn changes(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let (Some(m), Ok(serde_json::Value::Object(spec))) =
            (v.as_object_mut(), serde_json::to_value(Dialect::default()))
        {
            m.retain(|k, val| spec.get(k) != Some(val));
        }
        v
    }

    /// The `dialect:` line of a profile for this dialect (the probe prints it).
    pub fn snippet(&self) -> String {
        format!("dialect: {}", self.changes())
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: default_name(),
            target: None,
            command: None,
            tokens: Tokens::default(),
            agents: Agents::default(),
            time_scale: 1.0,
            dialect: Dialect::default(),
            upstream: false,
            limits: Default::default(),
        }
    }
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read profile: {e}", path.display()))?;
        let p: Profile = serde_yaml_ng::from_str(&text).map_err(|e| match e.location() {
            Some(l) => format!("{}:{}:{}: {e}", path.display(), l.line(), l.column()),
            None => format!("{}: {e}", path.display()),
        })?;
        p.limits
            .check()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if !(p.time_scale > 0.0 && p.time_scale.is_finite()) {
            return Err(format!(
                "{}: time_scale must be a positive number",
                path.display()
            ));
        }
        Ok(p)
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::Agents;
    use crate::case::AgentRole;

    #[test]
    fn any_agent_is_the_first_the_target_hosts() {
        let a = Agents::default();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            a.for_role(AgentRole::Any, &[]).as_deref(),
            Some("conformance")
        );
        assert_eq!(
            a.for_role(AgentRole::Any, &names(&["echo", "other"]))
                .as_deref(),
            Some("echo")
        );
        assert_eq!(a.for_role(AgentRole::Any, &names(&["other"])), None);
        let none = Agents {
            conformance: None,
            echo: None,
        };
        assert_eq!(none.for_role(AgentRole::Any, &[]), None);
    }
}
