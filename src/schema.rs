//! JSON Schemas (draft 2020-12) for every ARCP v1.1 message and event body,
//! and a validator that reports each violation with a JSON pointer.
//!
//! The schemas live in `schemas/` at the repo root and are embedded at
//! compile time, so validation works from any directory and offline: `$ref`s
//! between them (to `defs.json`, `envelope.json`, `event/*.json`) resolve by
//! their `$id`s through an in-memory retriever.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Retrieve, Uri, ValidationError, Validator};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::wire::MessageType;

/// Prefix of every schema's `$id`; the rest is the file's path in `schemas/`.
pub const BASE_URI: &str = "https://arcp-conform.dev/schemas/";

/// The envelope schema, used for frames whose `type` is not an ARCP message.
pub const ENVELOPE: &str = "envelope.json";

macro_rules! embed {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../schemas/", $file)))),*]
    };
}

/// Every schema file: (path relative to `schemas/`, text).
static FILES: &[(&str, &str)] = embed![
    "envelope.json",
    "defs.json",
    "session.hello.json",
    "session.welcome.json",
    "session.error.json",
    "session.ping.json",
    "session.pong.json",
    "session.ack.json",
    "session.list_jobs.json",
    "session.jobs.json",
    "session.resume.json",
    "session.close.json",
    "session.closed.json",
    "job.submit.json",
    "job.accepted.json",
    "job.event.json",
    "job.result.json",
    "job.error.json",
    "job.cancel.json",
    "job.cancelled.json",
    "job.subscribe.json",
    "job.subscribed.json",
    "job.unsubscribe.json",
    "event/log.json",
    "event/thought.json",
    "event/tool_call.json",
    "event/tool_result.json",
    "event/status.json",
    "event/metric.json",
    "event/artifact_ref.json",
    "event/delegate.json",
    "event/progress.json",
    "event/result_chunk.json",
];

/// Names (paths relative to `schemas/`) of all embedded schema files.
pub fn schema_names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(name, _)| *name)
}

/// The text of an embedded schema file, by name (e.g. `"event/progress.json"`).
pub fn schema_text(name: &str) -> Option<&'static str> {
    FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// The schema file for a message `type`, if the type is an ARCP message.
pub fn schema_for_type(message_type: &str) -> Option<&'static str> {
    let t = MessageType::parse(message_type)?;
    let file = format!("{}.json", t.as_str());
    schema_names().find(|n| *n == file)
}

/// The schema file for an event body of `kind`, if the kind is defined (§8.2).
pub fn schema_for_event_kind(kind: &str) -> Option<&'static str> {
    let k = crate::wire::EventKind::parse(kind)?;
    let file = format!("event/{}.json", k.as_str());
    schema_names().find(|n| *n == file)
}

/// Resolves `$ref`s to the embedded files by `$id`; never touches the network.
struct Embedded;

impl Retrieve for Embedded {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let uri = uri.as_str();
        let path = uri.split('#').next().unwrap_or(uri);
        let text = path
            .strip_prefix(BASE_URI)
            .and_then(schema_text)
            .ok_or_else(|| format!("no embedded schema for `{uri}`"))?;
        Ok(serde_json::from_str(text)?)
    }
}

/// One way a frame breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the frame, e.g. `/payload/retryable` (`""` is the frame).
    pub instance_path: String,
    /// JSON pointer to the failing keyword within `schema`, e.g.
    /// `/allOf/1/properties/payload/$ref/properties/retryable/type`.
    pub schema_path: String,
    /// The failing keyword: `required`, `type`, `enum`, `minimum`, ...
    pub rule: String,
    /// What is wrong, e.g. `"yes" is not of type "boolean"`.
    pub message: String,
    /// The schema file validated against, e.g. `job.error.json`.
    pub schema: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.instance_path.is_empty() {
            "(root)"
        } else {
            &self.instance_path
        };
        write!(
            f,
            "at {at}: {} (rule: {}, schema {}#{})",
            self.message, self.rule, self.schema, self.schema_path
        )
    }
}

/// Longest `message` kept (messages quote the offending value).
const MAX_MESSAGE: usize = 512;
/// Longest quote of the offending value in applicator (`anyOf`, ...) messages.
const MAX_QUOTE: usize = 60;

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

impl Violation {
    fn from_error(schema: &'static str, error: &ValidationError<'_>) -> Violation {
        use ValidationErrorKind as K;
        // Applicator messages quote the whole (often large) instance; the path
        // already says where it is, so quote only its start.
        let quote = || truncate(error.instance.to_string(), MAX_QUOTE);
        let message = match &error.kind {
            K::AnyOf => format!("{} matches none of the `anyOf` alternatives", quote()),
            K::OneOfNotValid => format!("{} matches none of the `oneOf` alternatives", quote()),
            K::OneOfMultipleValid => {
                format!("{} matches more than one `oneOf` alternative", quote())
            }
            K::Not { .. } => format!("{} matches a schema it must not match", quote()),
            K::Contains => format!("no item of {} matches `contains`", quote()),
            _ => truncate(error.to_string(), MAX_MESSAGE),
        };
        Violation {
            instance_path: error.instance_path.as_str().to_string(),
            // The path within the file: drop the `$ref` of the root that
            // points at it (see `compile`).
            schema_path: error
                .schema_path
                .as_str()
                .strip_prefix("/$ref")
                .unwrap_or(error.schema_path.as_str())
                .to_string(),
            rule: rule(&error.kind).to_string(),
            message,
            schema,
        }
    }
}

/// The JSON Schema keyword an error kind comes from.
fn rule(kind: &ValidationErrorKind) -> &'static str {
    use ValidationErrorKind as K;
    match kind {
        K::AdditionalItems { .. } => "additionalItems",
        K::AdditionalProperties { .. } => "additionalProperties",
        K::AnyOf => "anyOf",
        K::BacktrackLimitExceeded { .. } | K::Pattern { .. } => "pattern",
        K::Constant { .. } => "const",
        K::Contains => "contains",
        K::ContentEncoding { .. } | K::FromUtf8 { .. } => "contentEncoding",
        K::ContentMediaType { .. } => "contentMediaType",
        K::Custom { .. } => "custom",
        K::Enum { .. } => "enum",
        K::ExclusiveMaximum { .. } => "exclusiveMaximum",
        K::ExclusiveMinimum { .. } => "exclusiveMinimum",
        K::FalseSchema => "false",
        K::Format { .. } => "format",
        K::MaxItems { .. } => "maxItems",
        K::Maximum { .. } => "maximum",
        K::MaxLength { .. } => "maxLength",
        K::MaxProperties { .. } => "maxProperties",
        K::MinItems { .. } => "minItems",
        K::Minimum { .. } => "minimum",
        K::MinLength { .. } => "minLength",
        K::MinProperties { .. } => "minProperties",
        K::MultipleOf { .. } => "multipleOf",
        K::Not { .. } => "not",
        K::OneOfMultipleValid | K::OneOfNotValid => "oneOf",
        K::PropertyNames { .. } => "propertyNames",
        K::Required { .. } => "required",
        K::Type { .. } => "type",
        K::UnevaluatedItems { .. } => "unevaluatedItems",
        K::UnevaluatedProperties { .. } => "unevaluatedProperties",
        K::UniqueItems => "uniqueItems",
        K::Referencing(_) => "$ref",
    }
}

/// Every embedded schema, compiled. Build once with [`schemas()`].
pub struct Schemas {
    validators: HashMap<&'static str, OnceLock<Validator>>,
}

impl fmt::Debug for Schemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.validators.keys().collect();
        names.sort();
        f.debug_struct("Schemas").field("compiled", &names).finish()
    }
}

impl Schemas {
    /// Compile every embedded schema; the error names the file that failed.
    pub fn new() -> Result<Schemas, String> {
        let mut validators = HashMap::new();
        for (name, _) in FILES {
            validators.insert(*name, OnceLock::from(compile(name)?));
        }
        Ok(Schemas { validators })
    }

    /// Compile each schema when it is first used: a run that meets few
    /// message types need not pay for the rest. [`Schemas::new`] proves they
    /// all compile.
    pub fn lazy() -> Schemas {
        Schemas {
            validators: FILES.iter().map(|(n, _)| (*n, OnceLock::new())).collect(),
        }
    }

    /// Validate a whole frame against the schema its `type` picks. A frame
    /// whose `type` is not an ARCP message (or is missing) is checked against
    /// the envelope schema only.
    pub fn validate(&self, frame: &Value) -> Vec<Violation> {
        let name = frame
            .get("type")
            .and_then(Value::as_str)
            .and_then(schema_for_type)
            .unwrap_or(ENVELOPE);
        self.validate_as(name, frame)
            .expect("every message schema is compiled")
    }

    /// Validate `instance` against one named schema (e.g. an event body
    /// against `event/progress.json`); `None` if there is no such schema.
    pub fn validate_as(&self, name: &str, instance: &Value) -> Option<Vec<Violation>> {
        let (&name, cell) = self.validators.get_key_value(name)?;
        let validator = cell.get_or_init(|| compile(name).expect("embedded schemas compile"));
        // Most frames are valid: the yes/no check is cheaper than collecting
        // errors (it stops early and builds no error values).
        if validator.is_valid(instance) {
            return Some(vec![]);
        }
        let mut out: Vec<Violation> = Vec::new();
        for error in validator.iter_errors(instance) {
            let v = Violation::from_error(name, &error);
            // A body that is not an object fails both job.event's own check and
            // the kind's schema; report such twins once.
            if !out.iter().any(|o| {
                o.instance_path == v.instance_path && o.rule == v.rule && o.message == v.message
            }) {
                out.push(v);
            }
        }
        Some(out)
    }

    pub fn is_valid(&self, frame: &Value) -> bool {
        self.validate(frame).is_empty()
    }
}

/// Compile the schema `name` as the target of a one-`$ref` root.
///
/// jsonschema validates the schema it builds against the draft 2020-12
/// meta-schema, whose validator expands its recursive `$dynamicRef`s anew for
/// every nesting path it meets and keeps them for the life of the process:
/// validating our files that way held ~160 MB (measured), `defs.json` alone
/// ~56 MB. A root that only `$ref`s the file costs nothing to check; the file
/// itself is resolved through [`Embedded`] and compiled the same. The tests
/// check every file against the meta-schema instead.
fn compile(name: &str) -> Result<Validator, String> {
    if schema_text(name).is_none() {
        return Err(format!("no embedded schema {name}"));
    }
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .with_retriever(Embedded)
        .build(&serde_json::json!({ "$ref": format!("{BASE_URI}{name}") }))
        .map_err(|e| format!("schema {name} does not compile: {e}"))
}

/// The compiled schemas, built on first use and shared.
pub fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(Schemas::lazy)
}

#[cfg(test)]
mod tests;
