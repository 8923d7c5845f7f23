//! The reference driver: the reference client ([`crate::client`]) following
//! the driver contract of `docs/client-driver.md`, with switchable
//! [`ClientFault`]s. `arcp-conform driver [--fault NAME]...` runs it.

use crate::client::{Client, ClientError, ClientFault, ClientFaults, ClientOptions};
use crate::transport::{self, Conn, TransportError, TransportOptions};
use crate::wire::{Envelope, EventKind, Feature, MessageType};
use serde_json::{json, Value};
use std::time::Duration;

/// What the harness told the driver, from its environment.
#[derive(Debug, Clone)]
pub struct DriverEnv {
    pub url: Option<String>,
    pub runtime_cmd: Option<String>,
    pub scenario: String,
    pub token: String,
    pub agent: String,
    pub input: Value,
    pub job: String,
}

impl DriverEnv {
    /// Read `ARCP_CONFORM_*` (docs/client-driver.md).
    pub fn from_env() -> Result<DriverEnv, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let transport = var("ARCP_CONFORM_TRANSPORT").unwrap_or_else(|| "ws".into());
        let (url, runtime_cmd) = match transport.as_str() {
            "ws" => (
                Some(var("ARCP_CONFORM_URL").ok_or("ARCP_CONFORM_URL is not set")?),
                None,
            ),
            "stdio" => (
                None,
                Some(var("ARCP_CONFORM_RUNTIME_CMD").ok_or("ARCP_CONFORM_RUNTIME_CMD is not set")?),
            ),
            other => {
                return Err(format!(
                    "ARCP_CONFORM_TRANSPORT={other}: expected ws or stdio"
                ))
            }
        };
        let input = match var("ARCP_CONFORM_INPUT") {
            Some(t) => serde_json::from_str(&t).map_err(|e| format!("ARCP_CONFORM_INPUT: {e}"))?,
            None => json!({}),
        };
        Ok(DriverEnv {
            url,
            runtime_cmd,
            scenario: var("ARCP_CONFORM_SCENARIO").ok_or("ARCP_CONFORM_SCENARIO is not set")?,
            token: var("ARCP_CONFORM_TOKEN").unwrap_or_default(),
            agent: var("ARCP_CONFORM_AGENT").unwrap_or_else(|| "echo".into()),
            input,
            job: var("ARCP_CONFORM_JOB").unwrap_or_default(),
        })
    }
}

/// One line of the contract on stdout.
fn out(line: impl AsRef<str>) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{}", line.as_ref());
    let _ = o.flush();
}

struct Driver {
    env: DriverEnv,
    faults: ClientFaults,
    opts: ClientOptions,
}

/// Run the scenario; the exit code (0: the scenario completed).
pub async fn run(env: DriverEnv, faults: ClientFaults) -> i32 {
    let token = if faults.on(ClientFault::WrongToken) {
        "tok-not-the-one-given".to_string()
    } else {
        env.token.clone()
    };
    let opts = ClientOptions {
        token,
        faults: faults.clone(),
        timeout: Duration::from_secs(30),
        ..ClientOptions::default()
    };
    let d = Driver { env, faults, opts };
    match d.scenario().await {
        Ok(code) => code,
        Err(e) => {
            d.surface(&e);
            1
        }
    }
}

impl Driver {
    fn on(&self, f: ClientFault) -> bool {
        self.faults.on(f)
    }

    /// ERROR <code> for a remote error, FAILED <why> for anything else.
    fn surface(&self, e: &ClientError) {
        match e {
            ClientError::Remote(p) => self.error_line(&p.code, &p.message),
            other => {
                eprintln!("driver: {other}");
                out(format!("FAILED {other}"));
            }
        }
    }

    fn error_line(&self, code: &str, message: &str) {
        if self.on(ClientFault::ErrorMessageNotCode) {
            out(format!("ERROR {message}"));
        } else {
            out(format!("ERROR {code}"));
        }
    }

    async fn connect(&self) -> Result<Conn, TransportError> {
        let opts = TransportOptions::default();
        match (&self.env.url, &self.env.runtime_cmd) {
            (Some(url), _) => transport::ws::connect(url, &opts).await,
            (_, Some(cmd)) => transport::stdio::connect(cmd, &opts).await,
            _ => Err(TransportError::Connect(
                "no URL and no runtime command".into(),
            )),
        }
    }

    async fn scenario(&self) -> Result<i32, ClientError> {
        let conn = self.connect().await?;
        let mut client = Client::connect(conn, self.opts.clone()).await?;
        match self.env.scenario.as_str() {
            "submit" | "resume" | "cancel" => self.job(client).await,
            "idle" => {
                out("IDLE");
                match client.idle(Duration::from_secs(120)).await {
                    Ok(()) | Err(ClientError::Transport(TransportError::Closed(_))) => Ok(0),
                    Err(e) => Err(e),
                }
            }
            "subscribe" => {
                if !client.has(Feature::Subscribe) && !self.on(ClientFault::SubscribeUnnegotiated) {
                    out("NOT_NEGOTIATED subscribe");
                    close(client).await;
                    return Ok(0);
                }
                let job = self.env.job.clone();
                client.subscribe(&job, true, None).await?;
                out(format!("SUBSCRIBED {job}"));
                self.consume(client, &job, None).await
            }
            other => {
                out(format!("UNSUPPORTED scenario {other}"));
                Ok(0)
            }
        }
    }

    /// submit, resume, cancel: submit one job and see it through.
    async fn job(&self, mut client: Client) -> Result<i32, ClientError> {
        let accepted = client
            .submit(json!({"agent": self.env.agent, "input": self.env.input}))
            .await?;
        if self.on(ClientFault::LogCredentials) {
            eprintln!("driver: job.accepted {accepted}");
        }
        if self.on(ClientFault::PersistCredentials) {
            persist(&accepted);
        }
        let job = accepted["job_id"].as_str().unwrap_or_default().to_string();
        out(format!("ACCEPTED {job}"));
        if self.env.scenario == "cancel" {
            let target = if self.on(ClientFault::CancelWrongJob) {
                crate::ids::job_id()
            } else {
                job.clone()
            };
            client
                .send(
                    Envelope::new(MessageType::JobCancel.as_str(), json!({"job_id": target}))
                        .job(target.clone()),
                )
                .await?;
        }
        let first_token = client.resume_token.clone();
        self.consume(client, &job, Some(first_token)).await
    }

    /// Print the job's events until its terminal message; resume after a
    /// drop or a gap when the scenario is `resume`.
    async fn consume(
        &self,
        mut client: Client,
        job: &str,
        first_token: Option<String>,
    ) -> Result<i32, ClientError> {
        let mut chunks: Vec<Envelope> = vec![];
        let mut resumes = 0;
        loop {
            let env = match client.next().await {
                Ok(e) => e,
                Err(e) if self.resumable(&e) && resumes < 5 => {
                    resumes += 1;
                    eprintln!("driver: {e}; resuming");
                    let token = match (&first_token, self.on(ClientFault::ResumeOldToken)) {
                        (Some(t), true) => t.clone(),
                        _ => client.resume_token.clone(),
                    };
                    let last = if self.on(ClientFault::ResumeWrongSeq) {
                        client.last_seq.saturating_sub(1)
                    } else {
                        client.last_seq
                    };
                    let sid = client.session_id.clone();
                    drop(client.into_conn());
                    let conn = self.connect().await?;
                    client = Client::resume(conn, self.opts.clone(), &sid, &token, last).await?;
                    out(format!("RESUMED {last}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            match env.message_type() {
                Some(MessageType::JobEvent) => {
                    let kind = env.payload_str("kind").unwrap_or("").to_string();
                    if EventKind::parse(&kind).is_none() && self.on(ClientFault::RejectUnknownKind)
                    {
                        return Err(ClientError::Protocol(format!(
                            "unknown event kind `{kind}`"
                        )));
                    }
                    out(format!("EVENT {kind}"));
                    if kind == "result_chunk" {
                        chunks.push(env.clone());
                    }
                    if let Some(seq) = env.event_seq {
                        if client.has(Feature::Ack) || self.on(ClientFault::AckUnnegotiated) {
                            // A drop can surface here first (the ack's write
                            // fails): the next read sees it too, and resumes.
                            if let Err(e) = client.ack(seq).await {
                                if !self.resumable(&e) {
                                    return Err(e);
                                }
                            }
                        }
                    }
                }
                Some(MessageType::JobCancelled) => out("CANCELLED"),
                Some(MessageType::JobResult) if env.job_id.as_deref().is_none_or(|j| j == job) => {
                    let result = match env.payload_str("result_id") {
                        Some(rid) => Value::from(self.assemble(&chunks, rid)),
                        None => env.payload.get("result").cloned().unwrap_or(Value::Null),
                    };
                    out(format!("RESULT {result}"));
                    close(client).await;
                    return Ok(0);
                }
                Some(MessageType::JobError) if env.job_id.as_deref().is_none_or(|j| j == job) => {
                    self.error_line(
                        env.payload_str("code").unwrap_or(""),
                        env.payload_str("message").unwrap_or(""),
                    );
                    close(client).await;
                    return Ok(0);
                }
                Some(MessageType::SessionError) => {
                    self.error_line(
                        env.payload_str("code").unwrap_or(""),
                        env.payload_str("message").unwrap_or(""),
                    );
                    return Ok(1);
                }
                _ => {}
            }
        }
    }

    fn resumable(&self, e: &ClientError) -> bool {
        self.env.scenario == "resume"
            && !self.on(ClientFault::NoResume)
            && matches!(
                e,
                ClientError::Gap { .. } | ClientError::Transport(TransportError::Closed(_))
            )
    }

    /// §8.4: the chunks' decoded data in chunk_seq order, as text.
    fn assemble(&self, chunks: &[Envelope], result_id: &str) -> String {
        use base64::Engine;
        let mut parts: Vec<(u64, Vec<u8>)> = chunks
            .iter()
            .map(|e| &e.payload["body"])
            .filter(|b| b["result_id"].as_str() == Some(result_id))
            .map(|b| {
                let data = b["data"].as_str().unwrap_or_default();
                let bytes = if b["encoding"] == "base64" && !self.on(ClientFault::NoBase64Decode) {
                    base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .unwrap_or_default()
                } else {
                    data.as_bytes().to_vec()
                };
                (b["chunk_seq"].as_u64().unwrap_or(0), bytes)
            })
            .collect();
        if !self.on(ClientFault::ChunksArrivalOrder) {
            parts.sort_by_key(|p| p.0);
        }
        let bytes: Vec<u8> = parts.into_iter().flat_map(|p| p.1).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Close politely without waiting long for `session.closed`.
async fn close(client: Client) {
    let _ = tokio::time::timeout(Duration::from_secs(1), client.close()).await;
}

/// The `persist-credentials` fault: keep the job's credentials in a cache file.
fn persist(accepted: &Value) {
    let Some(dir) = std::env::var_os("XDG_CACHE_HOME") else {
        return;
    };
    let dir = std::path::Path::new(&dir).join("arcp-conform-driver");
    if std::fs::create_dir_all(&dir).is_ok() {
        let creds = accepted.get("credentials").cloned().unwrap_or_default();
        let _ = std::fs::write(dir.join("credentials.json"), creds.to_string());
    }
}
