//! The reference client: handshake, submit, subscribe, ack, resume, cancel,
//! list_jobs, close, with automatic pongs, idle heartbeats and gap detection
//! (§6–§8). [`ClientFault`]s break one rule each on purpose, so the client
//! suite (`arcp-conform client`) can prove each of its cases able to fail.

use crate::transport::{Conn, Inbound, TransportError};
use crate::wire::{Envelope, ErrorPayload, Feature, MessageType};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("peer answered {code}: {message}", code = .0.code, message = .0.message)]
    Remote(ErrorPayload),
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// §8.3: an unexpected `event_seq` gap; the session should be resumed.
    #[error("event_seq gap: expected {expected}, got {got}")]
    Gap { expected: u64, got: u64 },
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub token: String,
    pub features: Vec<String>,
    pub client_name: String,
    pub client_version: String,
    /// Deadline for each awaited reply.
    pub timeout: Duration,
    pub auto_pong: bool,
    /// Faults switched on (none by default).
    pub faults: ClientFaults,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            token: crate::runtime::TOKEN_ALICE.into(),
            features: Feature::all_names(),
            client_name: "arcp-conform".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
            timeout: Duration::from_secs(10),
            auto_pong: true,
            faults: ClientFaults::default(),
        }
    }
}

pub struct Client {
    conn: Conn,
    pub opts: ClientOptions,
    pub session_id: String,
    pub resume_token: String,
    /// Effective features: hello ∩ welcome.
    pub features: Vec<String>,
    pub welcome: Value,
    /// Highest event_seq received.
    pub last_seq: u64,
    inbox: VecDeque<Envelope>,
}

impl Client {
    /// Open a session: send `session.hello`, await `session.welcome`.
    pub async fn connect(conn: Conn, opts: ClientOptions) -> Result<Client, ClientError> {
        let hello = Envelope::new(
            MessageType::SessionHello.as_str(),
            json!({
                "client": {"name": opts.client_name, "version": opts.client_version},
                "auth": {"scheme": "bearer", "token": opts.token},
                "capabilities": {"encodings": ["json"], "features": opts.features},
            }),
        );
        Client::handshake(conn, opts, hello, 0).await
    }

    /// Resume a session on a new transport (§6.3) with the latest token.
    pub async fn resume(
        conn: Conn,
        opts: ClientOptions,
        session_id: &str,
        resume_token: &str,
        last_event_seq: u64,
    ) -> Result<Client, ClientError> {
        let env = Envelope::new(
            MessageType::SessionResume.as_str(),
            json!({"session_id": session_id, "resume_token": resume_token, "last_event_seq": last_event_seq}),
        )
        .session(session_id);
        Client::handshake(conn, opts, env, last_event_seq).await
    }

    async fn handshake(
        conn: Conn,
        opts: ClientOptions,
        first: Envelope,
        last_seq: u64,
    ) -> Result<Client, ClientError> {
        let mut c = Client {
            conn,
            opts,
            session_id: String::new(),
            resume_token: String::new(),
            features: vec![],
            welcome: Value::Null,
            last_seq,
            inbox: VecDeque::new(),
        };
        c.conn.send(first.encode()).await?;
        let reply = c.recv_raw().await?;
        match reply.message_type() {
            Some(MessageType::SessionWelcome) => {
                c.session_id = reply.session_id.clone().unwrap_or_default();
                c.resume_token = reply.payload_str("resume_token").unwrap_or_default().into();
                let theirs = crate::wire::feature::offered(&reply.payload);
                c.features = crate::wire::feature::intersect(&c.opts.features, &theirs);
                c.welcome = reply.payload;
                Ok(c)
            }
            Some(MessageType::SessionError) => Err(remote(&reply)),
            _ => Err(ClientError::Protocol(format!(
                "expected session.welcome, got {}",
                reply.kind
            ))),
        }
    }

    pub fn has(&self, f: Feature) -> bool {
        self.features.iter().any(|x| x == f.as_str())
    }

    pub fn heartbeat_interval(&self) -> Option<Duration> {
        self.welcome
            .get("heartbeat_interval_sec")
            .and_then(Value::as_f64)
            .map(Duration::from_secs_f64)
    }

    /// Send an envelope in this session.
    pub async fn send(&self, env: Envelope) -> Result<(), ClientError> {
        Ok(self
            .conn
            .send(env.session(&self.session_id).encode())
            .await?)
    }

    /// One decoded frame from the transport, answering pings on the way.
    async fn recv_raw(&mut self) -> Result<Envelope, ClientError> {
        loop {
            match self.conn.recv(self.opts.timeout).await? {
                Inbound::Frame(text) => {
                    if let Some(env) = self.frame(&text).await? {
                        return Ok(env);
                    }
                }
                Inbound::Fault(f) => return Err(ClientError::Protocol(f.to_string())),
                Inbound::Closed(reason) => return Err(TransportError::Closed(reason).into()),
            }
        }
    }

    /// Decode one frame: heartbeats are handled here (`None`), sequence
    /// numbers checked, anything else returned.
    async fn frame(&mut self, text: &str) -> Result<Option<Envelope>, ClientError> {
        if self.opts.faults.on(ClientFault::StrictEnvelope) {
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<Value>(text) {
                if let Some(k) = m
                    .keys()
                    .find(|k| !crate::wire::ENVELOPE_FIELDS.contains(&k.as_str()))
                {
                    return Err(ClientError::Protocol(format!(
                        "unknown envelope field `{k}`"
                    )));
                }
            }
        }
        let env = Envelope::decode(text)
            .map_err(|e| ClientError::Protocol(format!("undecodable frame: {e}")))?;
        if env.message_type() == Some(MessageType::SessionPing) {
            if self.opts.auto_pong && !self.opts.faults.on(ClientFault::NoPong) {
                let pong = Envelope::new(
                    MessageType::SessionPong.as_str(),
                    json!({"ping_nonce": env.payload.get("nonce"), "received_at": crate::clock::timestamp(chrono::Utc::now())}),
                )
                .session(&self.session_id);
                self.conn.send(pong.encode()).await?;
            }
            return Ok(None);
        }
        if env.message_type() == Some(MessageType::SessionPong) {
            return Ok(None);
        }
        if let Some(seq) = env.event_seq {
            // §8.3: an unexpected gap means the session is broken.
            if seq != self.last_seq + 1 && !self.opts.faults.on(ClientFault::IgnoreGaps) {
                return Err(ClientError::Gap {
                    expected: self.last_seq + 1,
                    got: seq,
                });
            }
            self.last_seq = seq;
        }
        Ok(Some(env))
    }

    /// Stay idle for `total`: answer pings, keep what arrives for `next()`,
    /// and — when `heartbeat` is negotiated — send a `session.ping` every
    /// half interval so a message flows each interval (§6.4). Returns early
    /// when the transport closes.
    pub async fn idle(&mut self, total: Duration) -> Result<(), ClientError> {
        let end = tokio::time::Instant::now() + total;
        let every = self
            .has(Feature::Heartbeat)
            .then(|| self.heartbeat_interval())
            .flatten()
            .filter(|_| !self.opts.faults.on(ClientFault::NoIdlePing))
            .map(|i| (i / 2).max(Duration::from_millis(50)));
        let mut next_ping = every.map(|e| tokio::time::Instant::now() + e);
        loop {
            let now = tokio::time::Instant::now();
            if now >= end {
                return Ok(());
            }
            if let Some(at) = next_ping.filter(|at| *at <= now) {
                let env = Envelope::new(
                    MessageType::SessionPing.as_str(),
                    json!({"nonce": crate::ids::nonce(), "sent_at": crate::clock::timestamp(chrono::Utc::now())}),
                )
                .session(&self.session_id);
                self.conn.send(env.encode()).await?;
                next_ping = every.map(|e| at.max(now) + e);
                continue;
            }
            let until = next_ping.map_or(end, |p| p.min(end));
            match self.conn.recv(until - now).await {
                Err(TransportError::Timeout(_)) => {}
                Err(e) => return Err(e.into()),
                Ok(Inbound::Frame(text)) => {
                    if let Some(env) = self.frame(&text).await? {
                        self.inbox.push_back(env);
                    }
                }
                Ok(Inbound::Fault(f)) => return Err(ClientError::Protocol(f.to_string())),
                Ok(Inbound::Closed(reason)) => return Err(TransportError::Closed(reason).into()),
            }
        }
    }

    /// The next message (stashed ones first).
    pub async fn next(&mut self) -> Result<Envelope, ClientError> {
        match self.inbox.pop_front() {
            Some(e) => Ok(e),
            None => self.recv_raw().await,
        }
    }

    /// Send and wait for a reply of type `expect`; `session.error` becomes
    /// `ClientError::Remote`. Other traffic is kept for `next()`.
    pub async fn request(
        &mut self,
        env: Envelope,
        expect: MessageType,
    ) -> Result<Envelope, ClientError> {
        self.send(env).await?;
        loop {
            let e = self.recv_raw().await?;
            match e.message_type() {
                Some(t) if t == expect => return Ok(e),
                Some(MessageType::SessionError) => return Err(remote(&e)),
                _ => self.inbox.push_back(e),
            }
        }
    }

    /// Submit a job; `payload` is the `job.submit` payload. Returns `job.accepted`'s.
    pub async fn submit(&mut self, payload: Value) -> Result<Value, ClientError> {
        let env = Envelope::new(MessageType::JobSubmit.as_str(), payload);
        Ok(self.request(env, MessageType::JobAccepted).await?.payload)
    }

    /// Events of a job until its terminal message, which is returned last.
    pub async fn wait_job(&mut self, job_id: &str) -> Result<Vec<Envelope>, ClientError> {
        let mut out = vec![];
        let mut rest = VecDeque::new();
        let mut stash = std::mem::take(&mut self.inbox);
        loop {
            let e = match stash.pop_front() {
                Some(e) => e,
                None => self.recv_raw().await?,
            };
            if e.job_id.as_deref() != Some(job_id) {
                rest.push_back(e);
                continue;
            }
            let terminal = e.message_type().is_some_and(MessageType::is_terminal);
            out.push(e);
            if terminal {
                rest.extend(stash);
                self.inbox = rest;
                return Ok(out);
            }
        }
    }

    pub async fn cancel(&mut self, job_id: &str) -> Result<Value, ClientError> {
        let env =
            Envelope::new(MessageType::JobCancel.as_str(), json!({"job_id": job_id})).job(job_id);
        Ok(self.request(env, MessageType::JobCancelled).await?.payload)
    }

    pub async fn subscribe(
        &mut self,
        job_id: &str,
        history: bool,
        from_event_seq: Option<u64>,
    ) -> Result<Value, ClientError> {
        let mut p = json!({"job_id": job_id, "history": history});
        if let Some(f) = from_event_seq {
            p["from_event_seq"] = json!(f);
        }
        let env = Envelope::new(MessageType::JobSubscribe.as_str(), p);
        Ok(self.request(env, MessageType::JobSubscribed).await?.payload)
    }

    pub async fn unsubscribe(&mut self, job_id: &str) -> Result<(), ClientError> {
        self.send(Envelope::new(
            MessageType::JobUnsubscribe.as_str(),
            json!({"job_id": job_id}),
        ))
        .await
    }

    pub async fn ack(&mut self, seq: u64) -> Result<(), ClientError> {
        self.send(Envelope::new(
            MessageType::SessionAck.as_str(),
            json!({"last_processed_seq": seq}),
        ))
        .await
    }

    pub async fn list_jobs(&mut self, payload: Value) -> Result<Value, ClientError> {
        let env = Envelope::new(MessageType::SessionListJobs.as_str(), payload);
        Ok(self.request(env, MessageType::SessionJobs).await?.payload)
    }

    pub async fn ping(&mut self) -> Result<Value, ClientError> {
        let nonce = crate::ids::nonce();
        let env = Envelope::new(
            MessageType::SessionPing.as_str(),
            json!({"nonce": nonce, "sent_at": crate::clock::timestamp(chrono::Utc::now())}),
        )
        .session(&self.session_id);
        self.conn.send(env.encode()).await?;
        loop {
            match self.conn.recv(self.opts.timeout).await? {
                Inbound::Frame(text) => {
                    let e = Envelope::decode(&text)
                        .map_err(|e| ClientError::Protocol(e.to_string()))?;
                    if e.message_type() == Some(MessageType::SessionPong) {
                        return Ok(e.payload);
                    }
                    if let Some(seq) = e.event_seq {
                        self.last_seq = self.last_seq.max(seq);
                    }
                    self.inbox.push_back(e);
                }
                Inbound::Fault(f) => return Err(ClientError::Protocol(f.to_string())),
                Inbound::Closed(r) => return Err(TransportError::Closed(r).into()),
            }
        }
    }

    /// Close gracefully: `session.close`, await `session.closed`.
    pub async fn close(mut self) -> Result<(), ClientError> {
        let env = Envelope::new(MessageType::SessionClose.as_str(), json!({}));
        self.request(env, MessageType::SessionClosed).await?;
        Ok(())
    }

    /// Give up the transport without closing the session (to resume later).
    pub fn into_conn(self) -> Conn {
        self.conn
    }
}

fn remote(env: &Envelope) -> ClientError {
    match serde_json::from_value::<ErrorPayload>(env.payload.clone()) {
        Ok(e) => ClientError::Remote(e),
        Err(e) => ClientError::Protocol(format!("malformed {}: {e}", env.kind)),
    }
}

/// §8.4: the assembled result of a streamed job, chunks concatenated in
/// `chunk_seq` order after decoding.
pub fn assemble_result(events: &[Envelope], result_id: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let mut chunks: Vec<(u64, Vec<u8>)> = vec![];
    for e in events {
        if e.payload.get("kind").and_then(Value::as_str) != Some("result_chunk") {
            continue;
        }
        let b = &e.payload["body"];
        if b.get("result_id").and_then(Value::as_str) != Some(result_id) {
            continue;
        }
        let seq = b
            .get("chunk_seq")
            .and_then(Value::as_u64)
            .ok_or("chunk without chunk_seq")?;
        let data = b
            .get("data")
            .and_then(Value::as_str)
            .ok_or("chunk without data")?;
        let bytes = match b.get("encoding").and_then(Value::as_str) {
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| format!("chunk {seq}: {e}"))?,
            Some("utf8") => data.as_bytes().to_vec(),
            other => return Err(format!("chunk {seq}: unknown encoding {other:?}")),
        };
        chunks.push((seq, bytes));
    }
    chunks.sort_by_key(|c| c.0);
    for (i, (seq, _)) in chunks.iter().enumerate() {
        if *seq != i as u64 {
            return Err(format!("missing chunk {i} (have {seq})"));
        }
    }
    Ok(chunks.into_iter().flat_map(|c| c.1).collect())
}

macro_rules! client_faults {
    ($($variant:ident = $name:literal : $what:literal),* $(,)?) => {
        /// A switchable fault of the reference client and its driver
        /// (`arcp-conform driver --fault NAME`): each breaks one rule.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ClientFault { $($variant),* }
        impl ClientFault {
            pub const ALL: &'static [ClientFault] = &[$(ClientFault::$variant),*];
            pub fn name(self) -> &'static str { match self { $(ClientFault::$variant => $name),* } }
            /// The rule this fault breaks.
            pub fn describe(self) -> &'static str { match self { $(ClientFault::$variant => $what),* } }
            pub fn parse(s: &str) -> Option<ClientFault> {
                match s { $($name => Some(ClientFault::$variant),)* _ => None }
            }
        }
    };
}

client_faults! {
    WrongToken = "wrong-token": "presents a bearer token other than the one it was given (§6.1)",
    AckUnnegotiated = "ack-unnegotiated": "sends session.ack although `ack` was not negotiated (§6.2)",
    SubscribeUnnegotiated = "subscribe-unnegotiated": "sends job.subscribe although `subscribe` was not negotiated (§6.2)",
    NoPong = "no-pong": "does not answer session.ping (§6.4)",
    NoIdlePing = "no-idle-ping": "sends nothing while idle with heartbeat negotiated (§6.4)",
    StrictEnvelope = "strict-envelope": "rejects frames with unknown top-level envelope fields (§5)",
    RejectUnknownKind = "reject-unknown-kind": "gives up on an event of an unknown kind (§8.2)",
    NoResume = "no-resume": "gives up after a transport drop instead of resuming (§6.3)",
    ResumeOldToken = "resume-old-token": "resumes with the first resume token, not the latest (§6.3)",
    ResumeWrongSeq = "resume-wrong-seq": "resumes with a last_event_seq below the last event received (§6.3)",
    IgnoreGaps = "ignore-gaps": "accepts an event_seq gap instead of resuming (§8.3)",
    ChunksArrivalOrder = "chunks-arrival-order": "assembles result chunks in arrival order, not chunk_seq order (§8.4)",
    NoBase64Decode = "no-base64-decode": "concatenates base64 chunk data without decoding it (§8.4)",
    CancelWrongJob = "cancel-wrong-job": "names a job it did not submit in job.cancel (§7.4)",
    LogCredentials = "log-credentials": "writes provisioned credential values to its log (§14)",
    PersistCredentials = "persist-credentials": "stores provisioned credential values in its cache directory beyond the job (§9.8.2, §14)",
    ErrorMessageNotCode = "error-message-not-code": "surfaces an error's message instead of its code (§12)",
}

impl std::fmt::Display for ClientFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The faults switched on in one client.
#[derive(Debug, Clone, Default)]
pub struct ClientFaults(std::collections::BTreeSet<ClientFault>);

impl ClientFaults {
    pub fn with(mut self, f: ClientFault) -> Self {
        self.0.insert(f);
        self
    }

    pub fn on(&self, f: ClientFault) -> bool {
        self.0.contains(&f)
    }
}

impl FromIterator<ClientFault> for ClientFaults {
    fn from_iter<I: IntoIterator<Item = ClientFault>>(iter: I) -> Self {
        ClientFaults(iter.into_iter().collect())
    }
}
