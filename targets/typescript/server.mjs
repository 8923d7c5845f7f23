// ARCP v1.1 runtime on the TypeScript SDK (github agentruntimecontrolprotocol/typescript-sdk,
// package @agentruntimecontrolprotocol/sdk, built from ARCP_TS_SDK by setup.sh), hosting the
// arcp-conform `conformance` and `echo` agents (CONFORMANCE.md).
//
//   node server.mjs --stdio               one session over NDJSON on stdin/stdout; exits when stdin closes
//   node server.mjs --ws 127.0.0.1:PORT   WebSocket at ws://127.0.0.1:PORT/ (any path) until SIGTERM
//     [--heartbeat SEC] (default 3, env ARCP_HEARTBEAT_SEC)  [--resume-window SEC] (default 20)
//
// Everything protocol-level (handshake, auth, features, event_seq, leases, budgets, expiry timer,
// credentials, delegation, resume, subscribe, list_jobs, cancel) is the SDK's own (ARCPServer,
// JobContext). This file configures the server and implements the scripted agent on the SDK's agent
// API. Where the SDK has no API for something, the agent does the closest thing; each such place is
// marked ADAPTER and listed in README.md. stdout carries protocol frames only.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const sdkRoot = process.env.ARCP_TS_SDK;
if (!sdkRoot) {
  process.stderr.write("targets/typescript: skipped (set ARCP_TS_SDK=/path/to/typescript-sdk checkout to enable)\n");
  process.exit(0);
}
const sdk = await import(pathToFileURL(path.join(sdkRoot, "packages/sdk/dist/index.js")).href);
const {
  ARCPError,
  ARCPServer,
  InMemoryCredentialStore,
  LeaseExpiredError,
  StaticBearerVerifier,
  StdioTransport,
  silentLogger,
  rootLogger,
  startWebSocketServer,
  validateLeaseOp,
} = sdk;

const WAIT_LIMIT_MS = 3_600_000; // `wait` gives up after an hour, like the reference runtime
const TOKENS = new Map([
  ["tok-alice", { principal: "alice" }],
  ["tok-alice-2", { principal: "alice" }],
  ["tok-bob", { principal: "bob" }],
]);

const hex = (n) => randomBytes(n).toString("hex");
const warn = (msg) => process.stderr.write(`arcp-conform.typescript: ${msg}\n`);

// Deployment-side provisioner: one gateway credential (random value, never reused, §9.8.2) when
// the lease is cost-bearing (model.use or cost.budget), like the reference runtime; none otherwise.
const costBearing = (lease) => Boolean(lease?.["model.use"] || lease?.["cost.budget"]);
function constraintsFor(ctx) {
  const lease = ctx.lease ?? {};
  const constraints = {};
  if (lease["cost.budget"]) constraints["cost.budget"] = lease["cost.budget"];
  if (lease["model.use"]) constraints["model.use"] = lease["model.use"];
  if (ctx.leaseConstraints?.expires_at) constraints.expires_at = ctx.leaseConstraints.expires_at;
  return constraints;
}
const gatewayProvisioner = {
  async issue(ctx) {
    if (!costBearing(ctx.lease)) return [];
    const id = `cred_${hex(8)}`;
    return [
      {
        wire: { id, scheme: "bearer", value: `sk-${hex(16)}`, endpoint: "https://gateway.invalid/v1", profile: "openai", constraints: constraintsFor(ctx) },
        provisionerId: id,
      },
    ];
  },
  async revoke() {},
};

// ADAPTER: the credential upstream the harness plays (CONFORMANCE.md, "The credential upstream").
// With ARCP_CONFORM_UPSTREAM set, the SDK's CredentialProvisioner issues and revokes there; the SDK
// decides when to revoke and whether to retry (Job.revokeAll, once per terminal state), which is
// what the credentials.revocation.* cases measure. Error statuses throw, so the SDK sees them.
const UPSTREAM = (process.env.ARCP_CONFORM_UPSTREAM ?? "").replace(/\/+$/, "");
const STATE_DIR = process.env.ARCP_CONFORM_STATE_DIR ?? "";

async function upstreamCall(p, body = {}) {
  const res = await fetch(UPSTREAM + p, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`upstream ${p.replace(/cred[^/]*/, "{id}")}: HTTP ${res.status}`);
  const text = await res.text();
  return text ? JSON.parse(text) : {};
}

const upstreamProvisioner = {
  async issue(ctx) {
    if (!costBearing(ctx.lease)) return [];
    const r = await upstreamCall("/v1/credentials", { job_id: ctx.jobId, principal: ctx.principal });
    return [
      {
        wire: { id: r.id, scheme: r.scheme ?? "bearer", value: r.value, endpoint: r.endpoint, constraints: constraintsFor(ctx) },
        provisionerId: r.id,
      },
    ];
  },
  async revoke(provisionerId) {
    await upstreamCall(`/v1/credentials/${provisionerId}/revoke`);
  },
  // Not part of the SDK's CredentialProvisioner (it has no rotation): the agent's
  // rotate_credential op uses these.
  async rotate(provisionerId) {
    return (await upstreamCall(`/v1/credentials/${provisionerId}/rotate`)).value;
  },
  async revokeValue(provisionerId, value) {
    await upstreamCall(`/v1/credentials/${provisionerId}/revoke`, { value });
  },
};
const provisioner = UPSTREAM ? upstreamProvisioner : gatewayProvisioner;

/**
 * The SDK's CredentialStore in a JSON file (ids only, never values), so a restarted process finds
 * what its predecessor left outstanding. The SDK itself never reads `listOutstanding()` at start
 * ("used by recovery tooling"): `revokeOutstanding` below is that tooling (§14).
 */
class FileCredentialStore {
  constructor(file) {
    this.file = file;
  }
  load() {
    try {
      return JSON.parse(fs.readFileSync(this.file, "utf8"));
    } catch {
      return [];
    }
  }
  save(entries) {
    fs.writeFileSync(`${this.file}.tmp`, JSON.stringify(entries));
    fs.renameSync(`${this.file}.tmp`, this.file);
  }
  async add(entry) {
    this.save([...this.load(), entry]);
  }
  async removeByJob(jobId) {
    const all = this.load();
    this.save(all.filter((e) => e.jobId !== jobId));
    return all.filter((e) => e.jobId === jobId);
  }
  async listOutstanding() {
    return this.load();
  }
}

// ADAPTER: the SDK has no start-up recovery sweep; the deployment revokes what the store holds.
async function revokeOutstanding(store) {
  const left = [];
  for (const e of await store.listOutstanding()) {
    try {
      await provisioner.revoke(e.provisionerId);
    } catch (err) {
      warn(`credential ${e.credentialId} not revoked on start: ${err.message}`);
      left.push(e);
    }
  }
  if (store instanceof FileCredentialStore) store.save(left);
}

function errorPayload(e) {
  if (e instanceof ARCPError) return e.toPayload();
  return { code: "INTERNAL_ERROR", message: String(e?.message ?? e), retryable: false };
}

/** The conformance agent: runs `input.steps` (CONFORMANCE.md) on one JobContext. */
class Script {
  constructor(ctx, server) {
    this.ctx = ctx;
    this.server = server;
    this.calls = 0;
    this.resultId = undefined;
    this.chunkSeq = 0;
  }

  async run(input) {
    const steps = Array.isArray(input?.steps) ? input.steps : [];
    for (const step of steps) {
      if (step === null || typeof step !== "object") {
        await this.ctx.log("warn", `conformance agent: step ${JSON.stringify(step)} is not an object`);
        continue;
      }
      const op = step.op;
      if (op === "finish") return this.finish(step);
      if (op === "fail") {
        // retryable is left to the SDK's per-code default (§12: INTERNAL_ERROR is always retryable).
        throw new ARCPError({ code: step.code ?? "INTERNAL_ERROR", message: step.message ?? "agent failed" });
      }
      const fn = typeof op === "string" ? this[`op_${op}`] : undefined;
      if (typeof fn !== "function") {
        await this.ctx.log("warn", `conformance agent: unknown op \`${op}\``);
        continue;
      }
      await fn.call(this, step);
    }
    return this.finish({});
  }

  /** tool_call, then the SDK's lease check (validateLeaseOp), as CONFORMANCE.md orders them. */
  async guarded(tool, args, capability, target) {
    this.calls += 1;
    const callId = `call_${this.calls}`;
    // ADAPTER: ctx.toolCall checks only `tool.call` and, on denial, emits a tool_result error
    // without telling the caller; other namespaces (fs.*, model.use) have no ctx API. The
    // agent emits tool_call itself and asks the SDK's exported validateLeaseOp.
    await this.ctx.emitEvent("tool_call", { tool, args, call_id: callId });
    try {
      validateLeaseOp({
        lease: this.ctx.lease,
        capability,
        target,
        ctx: { constraints: this.ctx.leaseConstraints, budgetRemaining: this.ctx.budget },
      });
    } catch (e) {
      await this.ctx.toolResult({ call_id: callId, error: errorPayload(e) });
      if (e instanceof LeaseExpiredError) throw e; // §9.5: the job ends with LEASE_EXPIRED
      return undefined;
    }
    return callId;
  }

  async op_event(step) {
    await this.ctx.emitEvent(String(step.kind ?? "log"), step.body ?? {});
  }

  async op_log(step) {
    await this.ctx.log(step.level ?? "info", String(step.message ?? ""));
  }

  async op_progress(step) {
    try {
      const opts = {};
      for (const k of ["total", "units", "message"]) if (step[k] !== undefined) opts[k] = step[k];
      await this.ctx.progress(step.current ?? 0, opts);
    } catch (e) {
      await this.ctx.log("warn", `progress rejected by the SDK: ${e.message}`);
    }
  }

  async op_cost(step) {
    try {
      await this.ctx.metric({ name: step.name ?? "cost.inference", value: step.value ?? 0, unit: step.unit ?? "USD" });
    } catch (e) {
      await this.ctx.log("warn", `cost rejected by the SDK: ${e.message}`);
    }
  }

  async op_tool(step) {
    const capability = typeof step.capability === "string" ? step.capability : "tool.call";
    const target = typeof step.capability === "string" ? String(step.resource ?? "") : String(step.tool ?? "");
    const tool = step.tool ?? capability;
    let args = step.args ?? {};
    if (typeof step.capability === "string") args = { ...(typeof args === "object" ? args : {}), resource: target };
    const callId = await this.guarded(tool, args, capability, target);
    if (callId === undefined) return;
    await this.ctx.toolResult({ call_id: callId, result: "result" in step ? step.result : { ok: true } });
    if (step.cost && typeof step.cost === "object") await this.op_cost(step.cost);
  }

  async op_model(step) {
    const model = String(step.model ?? "");
    const callId = await this.guarded("model.invoke", { model }, "model.use", model);
    if (callId === undefined) return;
    await this.ctx.toolResult({ call_id: callId, result: { model, text: "ok" } });
    if (step.cost && typeof step.cost === "object") await this.op_cost(step.cost);
  }

  // The SDK delegates natively: ctx.delegate() emits the delegate event, checks the subset and
  // runs the child (parent_job_id, parent trace id); a refusal comes back as a tool_result
  // error whose call_id is the delegate_id.
  async op_delegate(step) {
    this.calls += 1;
    const body = { delegate_id: `call_${this.calls}`, agent: String(step.agent ?? "echo"), input: step.input ?? null };
    if (step.lease) body.lease_request = step.lease;
    if (step.lease_constraints) body.lease_constraints = step.lease_constraints;
    await this.ctx.delegate(body);
  }

  async op_result_chunks(step) {
    const chunks = (step.chunks ?? []).filter((c) => typeof c === "string");
    if (chunks.length === 0) return;
    const encoding = step.encoding ?? "utf8";
    const last = step.last !== false;
    this.resultId ??= `res_${hex(12)}`;
    for (let i = 0; i < chunks.length; i++) {
      // ADAPTER: ctx.resultChunk, not ResultStream: ResultStream ends a result with an extra
      // chunk and job.result at once, so it cannot honour `last` or a later `finish`.
      await this.ctx.resultChunk({
        result_id: this.resultId,
        chunk_seq: this.chunkSeq++,
        data: chunks[i],
        encoding,
        more: !(last && i === chunks.length - 1),
      });
    }
  }

  /** The job's first credential (wire form), as rotated by this script if it was. */
  credential() {
    const cred = this.server.globalJobs.get(this.ctx.jobId)?.credentials?.[0];
    if (!cred) return undefined;
    return { ...cred.wire, value: this.rotatedValue ?? cred.wire.value, provisionerId: cred.provisionerId };
  }

  // ADAPTER: the SDK has no rotation API and JobContext exposes no credentials; the agent reads
  // the job's issued credentials from the server's public globalJobs map, gets a new value from
  // the upstream, revokes the prior value there and emits the §9.8.2 status event itself. With
  // no upstream the value is made up and nothing is revoked. Rotation verdicts measure this
  // adapter, not the SDK.
  async op_rotate_credential() {
    const cred = this.credential();
    if (!cred) {
      await this.ctx.log("warn", "rotate_credential: job has no credential");
      return;
    }
    let value = `sk-${hex(16)}`;
    if (UPSTREAM) {
      value = await upstreamProvisioner.rotate(cred.provisionerId);
      await upstreamProvisioner.revokeValue(cred.provisionerId, cred.value);
    }
    this.rotatedValue = value;
    await this.ctx.emitEvent("status", { phase: "credential_rotated", id: cred.id, value });
  }

  // Present the job's first credential at its endpoint (+ path), or at `url`; log the status only.
  async op_use_credential(step) {
    const cred = this.credential();
    if (!cred) {
      await this.ctx.log("warn", "use_credential: job has no credential");
      return;
    }
    const url = typeof step.url === "string" ? step.url : `${cred.endpoint}${step.path ?? ""}`;
    let status;
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${cred.value}` }, signal: AbortSignal.timeout(5000) });
      status = String(res.status);
    } catch (e) {
      status = e?.name ?? "error";
    }
    await this.ctx.log("info", `credential ${cred.id} presented: ${status}`);
  }

  // The process dies as a crashed one would: nothing revoked, no terminal message.
  async op_crash() {
    process.exit(70);
  }

  async op_sleep(step) {
    const ms = Number(step.ms ?? 0);
    if (ms > 0) await abortableSleep(ms, this.ctx.signal);
  }

  async op_wait() {
    await abortableSleep(WAIT_LIMIT_MS, this.ctx.signal);
  }

  async finish(step) {
    // A streamed result: return nothing; the SDK's runner emits job.result with result_id
    // (and an extra closing chunk when the last one said more: true).
    if (this.resultId !== undefined) return undefined;
    return step.result ?? null;
  }
}

function abortableSleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason ?? new Error("aborted"));
    }, { once: true });
  });
}

function makeServer(heartbeat, resumeWindow, store) {
  const server = new ARCPServer({
    runtime: { name: "arcp-typescript-sdk", version: "2.0.0" },
    capabilities: { encodings: ["json"] },
    bearer: new StaticBearerVerifier(TOKENS),
    logger: process.env.ARCP_LOG_LEVEL ? rootLogger : silentLogger,
    heartbeatIntervalSeconds: heartbeat,
    resumeWindowSeconds: resumeWindow,
    credentialProvisioner: provisioner,
    credentialStore: store,
  });
  const conformance = (input, ctx) => new Script(ctx, server).run(input);
  server.registerAgentVersion("conformance", "1.0.0", conformance);
  server.registerAgentVersion("conformance", "2.0.0", conformance);
  server.setDefaultAgentVersion("conformance", "2.0.0");
  server.registerAgentVersion("echo", "1.0.0", async (input) => input);
  server.setDefaultAgentVersion("echo", "1.0.0");
  return server;
}

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const heartbeat = Number(opt("--heartbeat", process.env.ARCP_HEARTBEAT_SEC ?? "3"));
const resumeWindow = Number(opt("--resume-window", process.env.ARCP_RESUME_WINDOW_SEC ?? "20"));
const store =
  UPSTREAM && STATE_DIR ? new FileCredentialStore(path.join(STATE_DIR, "credentials.json")) : new InMemoryCredentialStore();
// ARCP_TS_NO_RECOVERY=1 leaves the sweep out, to show the SDK's own behaviour after a restart.
if (process.env.ARCP_TS_NO_RECOVERY !== "1") await revokeOutstanding(store);
const server = makeServer(heartbeat, resumeWindow, store);
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));

if (argv.includes("--stdio")) {
  const transport = StdioTransport.fromProcess();
  server.accept(transport);
  // One session: when stdin closes, the session is over.
  process.stdin.on("end", () => setTimeout(() => process.exit(0), 100));
  process.stdin.on("close", () => setTimeout(() => process.exit(0), 100));
} else if (opt("--ws")) {
  const addr = opt("--ws");
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i) || "127.0.0.1";
  if (!["127.0.0.1", "localhost"].includes(host)) {
    warn("--ws listens on loopback only");
    process.exit(2);
  }
  const handle = await startWebSocketServer({ host, port: Number(addr.slice(i + 1)), onTransport: (t) => server.accept(t) });
  warn(`listening on ${handle.url}/`);
} else {
  warn("usage: server.mjs --stdio | --ws 127.0.0.1:PORT");
  process.exit(2);
}
