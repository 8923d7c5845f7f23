//! Switchable faults in the reference runtime. Each one breaks one rule of
//! the spec on purpose, so the test suite can prove every MUST case is able
//! to fail (DEVELOPERS.md: "a test asserts something that can fail").

use std::collections::BTreeSet;
use std::fmt;

macro_rules! faults {
    ($($variant:ident = $name:literal : $what:literal),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fault { $($variant),* }
        impl Fault {
            pub const ALL: &'static [Fault] = &[$(Fault::$variant),*];
            pub fn name(self) -> &'static str { match self { $(Fault::$variant => $name),* } }
            /// The rule this fault breaks, for `serve --list-faults` and reports.
            pub fn describe(self) -> &'static str { match self { $(Fault::$variant => $what),* } }
            pub fn parse(s: &str) -> Option<Fault> {
                match s { $($name => Some(Fault::$variant),)* _ => None }
            }
        }
    };
}

faults! {
    SkipEventSeq = "skip-event-seq": "skips one event_seq number (§8.3 gap-free)",
    RepeatEventSeq = "repeat-event-seq": "reuses an event_seq number (§8.3 strictly monotonic)",
    KeepResumeToken = "keep-resume-token": "does not rotate the resume token (§6.3)",
    NoReplayOnResume = "no-replay-on-resume": "does not replay buffered events on resume (§6.3)",
    DropDetachedEvents = "drop-detached-events": "drops events emitted while the client is disconnected (§8.3)",
    ResumeAnySeq = "resume-any-seq": "never answers RESUME_WINDOW_EXPIRED (§6.3)",
    AcceptOldResumeToken = "accept-old-resume-token": "accepts a rotated-away resume token (§6.3)",
    LeakCredentialsToSubscriber = "leak-credentials-to-subscriber": "sends credential values to other principals (§7.6, §14)",
    IgnoreBudget = "ignore-budget": "never refuses an operation for budget (§9.6)",
    NegativeCostDecrements = "negative-cost-decrements": "applies negative cost metrics (§9.6)",
    BudgetNotDecremented = "budget-not-decremented": "does not decrement budget counters (§9.6)",
    AcceptPastExpiresAt = "accept-past-expires-at": "accepts past or invalid expires_at (§9.5)",
    IgnoreLeaseExpiry = "ignore-lease-expiry": "allows operations after expires_at (§9.5)",
    RetryableExpiry = "retryable-expiry": "sends LEASE_EXPIRED and BUDGET_EXHAUSTED with retryable: true (§12)",
    KillJobsOnHeartbeatLoss = "kill-jobs-on-heartbeat-loss": "terminates jobs when heartbeat is lost (§6.4)",
    NoPong = "no-pong": "does not answer session.ping (§6.4)",
    RejectUnknownFields = "reject-unknown-fields": "rejects unknown envelope fields (§5)",
    IgnoreFeatureIntersection = "ignore-feature-intersection": "uses features the client did not negotiate (§6.2)",
    AcceptBadToken = "accept-bad-token": "accepts any bearer token (§6.1)",
    NoIdempotency = "no-idempotency": "creates a new job for a repeated idempotency key (§7.2)",
    IgnoreDuplicateKey = "ignore-duplicate-key": "accepts a reused key with other parameters (§7.2)",
    SubscriberCanCancel = "subscriber-can-cancel": "lets any session cancel a job (§7.4, §7.6)",
    CrossPrincipalSubscribe = "cross-principal-subscribe": "lets other principals subscribe (§7.6, §14)",
    ListJobsLeaks = "list-jobs-leaks": "lists other principals' jobs (§6.6)",
    IgnoreAgentVersion = "ignore-agent-version": "runs the default version for an unknown version (§7.5)",
    NoLeaseEnforcement = "no-lease-enforcement": "authorizes operations the lease does not cover (§9.3)",
    NoModelCheck = "no-model-check": "allows any model (§9.7)",
    MixInlineResult = "mix-inline-result": "puts an inline result after result chunks (§8.4)",
    ChunksOutOfOrder = "chunks-out-of-order": "emits result chunks out of chunk_seq order (§8.4)",
    DoubleTerminal = "double-terminal": "sends the terminal message twice (§7.3)",
    NoTracePropagation = "no-trace-propagation": "drops the client's trace_id (§11)",
    NoSubsetCheck = "no-subset-check": "accepts delegation that expands the lease (§9.4)",
    CancelStatusError = "cancel-status-error": "reports a cancelled job with final_status error (§7.4)",
    SilentOnInvalid = "silent-on-invalid": "ignores malformed frames instead of answering INVALID_REQUEST (§12)",
    NoTimeout = "no-timeout": "ignores max_runtime_sec (§7.3)",
    ReuseCredentialValue = "reuse-credential-value": "reuses one credential value across jobs (§9.8.2)",
    NoSessionClosed = "no-session-closed": "does not answer session.close (§6.7)",
    CloseKillsJobs = "close-kills-jobs": "cancels in-flight jobs on session.close (§6.7)",
    NegativeProgress = "negative-progress": "emits progress with a negative current (§8.2.1)",
    NoAgentVersionSuffix = "no-agent-version-suffix": "reports the agent without @version (§7.5)",
    UnsubscribeIgnored = "unsubscribe-ignored": "keeps streaming after job.unsubscribe (§7.6)",
    BadErrorShape = "bad-error-shape": "sends error payloads without retryable (§12)",
    AcceptMissingAuth = "accept-missing-auth": "welcomes a hello without auth or token (§6.1)",
    AcceptAnyScheme = "accept-any-scheme": "ignores auth.scheme (§6.1)",
    RejectValidTokens = "reject-valid-tokens": "refuses every bearer token (§6.1)",
    BareWelcome = "bare-welcome": "omits heartbeat_interval_sec and agent versions from the welcome (§6.2)",
    ListJobsSubscribes = "list-jobs-subscribes": "subscribes the session to the jobs it lists (§6.6)",
    ListJobsNoRequestId = "list-jobs-no-request-id": "answers session.list_jobs without its request_id (§6.6)",
    AcceptUnknownAgent = "accept-unknown-agent": "runs echo for an unregistered agent (§7.5, §12)",
    WrongNotFoundCode = "wrong-not-found-code": "answers an unknown job_id with INVALID_REQUEST (§12)",
    IdempotencyByParams = "idempotency-by-params": "matches idempotent submissions by parameters, ignoring the key (§7.2)",
    BareAccepted = "bare-accepted": "omits lease, lease_constraints and budget from job.accepted (§7.1)",
    PhantomBudget = "phantom-budget": "reports budget counters for a lease without cost.budget (§7.1)",
    AcceptInvalidAmount = "accept-invalid-amount": "accepts malformed cost.budget amounts (§9.6)",
    IgnoreFromEventSeq = "ignore-from-event-seq": "replays all history whatever from_event_seq says (§7.6)",
    HistoryWhenFalse = "history-when-false": "replays history when history is false (§7.6)",
    SubscribeWithoutJobIdIgnored = "subscribe-without-job-id-ignored": "silently ignores job.subscribe without job_id (§7.6)",
    ResumedCannotCancel = "resumed-cannot-cancel": "refuses job.cancel from a resumed session (§7.7)",
    EventEnvelopeMissingField = "event-envelope-missing-field": "omits job_id from job.event envelopes (§8.1)",
    MangleEventBodies = "mangle-event-bodies": "empties the body of thought, status, metric and artifact_ref events (§8.2)",
    ToolResultCallIdMismatch = "tool-result-call-id-mismatch": "answers a tool_call with another call_id (§8.2)",
    NoDelegateEvent = "no-delegate-event": "starts sub-jobs without a delegate event (§10)",
    ChunkResultIdPerChunk = "chunk-result-id-per-chunk": "gives every result chunk its own result_id (§8.4)",
    MoreAlwaysTrue = "more-always-true": "marks the last chunk more: true (§8.4)",
    TerminalWithoutResultId = "terminal-without-result-id": "ends a streamed result without result_id (§8.4)",
    CorruptChunkData = "corrupt-chunk-data": "alters chunk data (§8.4)",
    WrongChunkEncoding = "wrong-chunk-encoding": "labels every chunk utf8 (§8.4)",
    InternalErrorNotRetryable = "internal-error-not-retryable": "sends INTERNAL_ERROR with retryable: false (§12)",
    LateCredentials = "late-credentials": "leaves credentials out of job.accepted (§9.8.2)",
    CredentialMissingFields = "credential-missing-fields": "issues credentials without id, scheme and endpoint (§9.8.1)",
    SilentRotation = "silent-rotation": "rotates a credential without the credential_rotated event (§9.8.2)",
    RedactCredentialsForSubmitter = "redact-credentials-for-submitter": "withholds credentials from the submitter's own subscriptions and listings (§7.6)",
    ListJobsLeaksCredentials = "list-jobs-leaks-credentials": "lists other principals' jobs with their credentials (§14)",
    AgentlessSubmit = "agentless-submit": "accepts job.submit without an agent (§7.1)",
    NoHelloRequired = "no-hello-required": "serves messages sent before session.hello (§6.2)",
    AcceptAnyVersion = "accept-any-version": "accepts any arcp envelope version (§5)",
    CrossPrincipalLeak = "cross-principal-leak": "lets other principals subscribe and sends them the submitter's credentials (§14)",
    ProgressOverTotal = "progress-over-total": "reports progress with current above total (§8.2.1)",
    MigrateAgentVersion = "migrate-agent-version": "shows a running job under another agent version in listings and subscriptions (§7.5)",
    IdempotentPayloadDiffers = "idempotent-payload-differs": "answers an idempotent resubmission with a job.accepted payload of its own (§7.2)",
    SkipRevocation = "skip-revocation": "never revokes credentials at the upstream (§9.8.2)",
    RevokeOnSuccessOnly = "revoke-on-success-only": "revokes credentials at the upstream only when a job succeeds (§9.8.2)",
    KeepRotatedValue = "keep-rotated-value": "leaves the prior value live at the upstream after a rotation (§9.8.2)",
    OrphanChildCredentials = "orphan-child-credentials": "leaves child credentials live at the upstream when the parent ends (§9.8.2)",
    NoRevocationRetry = "no-revocation-retry": "gives up revoking after one transient upstream failure (§9.8.2)",
    ForgetOutstandingCredentials = "forget-outstanding-credentials": "does not revoke what was outstanding before a restart (§14)",
    PresentCredentialElsewhere = "present-credential-elsewhere": "the agent also presents its credential to a URL other than its endpoint (§9.8.1)",
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The faults switched on in one runtime.
#[derive(Debug, Clone, Default)]
pub struct Faults(BTreeSet<Fault>);

impl Faults {
    pub fn none() -> Self {
        Faults::default()
    }

    pub fn with(mut self, f: Fault) -> Self {
        self.0.insert(f);
        self
    }

    pub fn on(&self, f: Fault) -> bool {
        self.0.contains(&f)
    }

    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Fault> for Faults {
    fn from_iter<I: IntoIterator<Item = Fault>>(iter: I) -> Self {
        Faults(iter.into_iter().collect())
    }
}
