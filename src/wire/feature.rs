//! §6.2 feature flags negotiated in hello/welcome.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    Heartbeat,
    Ack,
    ListJobs,
    Subscribe,
    LeaseExpiresAt,
    CostBudget,
    ModelUse,
    ProvisionedCredentials,
    Progress,
    ResultChunk,
    AgentVersions,
}

impl Feature {
    pub const ALL: &'static [Feature] = &[
        Feature::Heartbeat,
        Feature::Ack,
        Feature::ListJobs,
        Feature::Subscribe,
        Feature::LeaseExpiresAt,
        Feature::CostBudget,
        Feature::ModelUse,
        Feature::ProvisionedCredentials,
        Feature::Progress,
        Feature::ResultChunk,
        Feature::AgentVersions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Heartbeat => "heartbeat",
            Feature::Ack => "ack",
            Feature::ListJobs => "list_jobs",
            Feature::Subscribe => "subscribe",
            Feature::LeaseExpiresAt => "lease_expires_at",
            Feature::CostBudget => "cost.budget",
            Feature::ModelUse => "model.use",
            Feature::ProvisionedCredentials => "provisioned_credentials",
            Feature::Progress => "progress",
            Feature::ResultChunk => "result_chunk",
            Feature::AgentVersions => "agent_versions",
        }
    }

    pub fn parse(s: &str) -> Option<Feature> {
        Feature::ALL.iter().copied().find(|f| f.as_str() == s)
    }

    pub fn all_names() -> Vec<String> {
        Feature::ALL
            .iter()
            .map(|f| f.as_str().to_string())
            .collect()
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The feature names a hello or welcome payload offers (`capabilities.features`).
pub fn offered(payload: &serde_json::Value) -> Vec<String> {
    payload
        .pointer("/capabilities/features")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The effective feature set: hello ∩ welcome (§6.2), order of `ours` kept.
pub fn intersect(ours: &[String], theirs: &[String]) -> Vec<String> {
    ours.iter()
        .filter(|f| theirs.contains(f))
        .cloned()
        .collect()
}
