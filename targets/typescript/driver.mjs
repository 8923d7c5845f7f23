// arcp-conform client driver on the TypeScript SDK's ARCPClient, following docs/client-driver.md.
//
//   arcp-conform client --target 'node targets/typescript/driver.mjs'
//   arcp-conform client --transport stdio --target 'node targets/typescript/driver.mjs'
//
// Everything protocol-level (hello, features, heartbeats, acks, gap detection, resume, chunk
// assembly, error mapping) is the SDK's own ARCPClient; this file maps the scenarios onto its API
// and prints the contract's lines. stdout carries those lines only; logs go to stderr.

import { spawn } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";

const sdkRoot = process.env.ARCP_TS_SDK;
if (!sdkRoot) {
  process.stderr.write("targets/typescript: skipped (set ARCP_TS_SDK=/path/to/typescript-sdk checkout to enable)\n");
  process.exit(0);
}
const { ARCPClient, ARCPError, StdioTransport, WebSocketTransport, silentLogger } = await import(
  pathToFileURL(path.join(sdkRoot, "packages/sdk/dist/index.js")).href
);

const env = process.env;
const SCENARIO = env.ARCP_CONFORM_SCENARIO ?? "";
const TOKEN = env.ARCP_CONFORM_TOKEN ?? "";
const AGENT = env.ARCP_CONFORM_AGENT ?? "echo";
const INPUT = JSON.parse(env.ARCP_CONFORM_INPUT || "{}");
const JOB = env.ARCP_CONFORM_JOB ?? "";
const children = [];

const out = (line) => process.stdout.write(`${line}\n`);
const log = (msg) => process.stderr.write(`driver: ${msg}\n`);
const finish = (code) => {
  for (const c of children) c.kill("SIGTERM");
  process.exit(code);
};

async function openTransport() {
  if ((env.ARCP_CONFORM_TRANSPORT ?? "ws") === "stdio") {
    const child = spawn("sh", ["-c", env.ARCP_CONFORM_RUNTIME_CMD], { stdio: ["pipe", "pipe", "inherit"] });
    children.push(child);
    return StdioTransport.fromChild(child);
  }
  return WebSocketTransport.connect(env.ARCP_CONFORM_URL);
}

let brokenToken;
let onBroken = () => {};
const broken = new Promise((r) => {
  onBroken = r;
});
const newClient = () =>
  new ARCPClient({
    client: { name: "arcp-conform-driver", version: "0" },
    authScheme: "bearer",
    token: TOKEN,
    logger: silentLogger,
    onSessionBroken: (info) => {
      brokenToken = info?.resumeToken;
      onBroken();
    },
  });

function printEvents(client, jobId) {
  client.on("job.event", (e) => {
    if (e.type === "job.event" && e.job_id === jobId) out(`EVENT ${e.payload.kind}`);
  });
}

/** RESULT or ERROR for a handle's outcome. */
async function outcome(handle) {
  try {
    const res = await handle.done;
    if (res.result_id !== undefined) {
      const data = await handle.collectChunks();
      const text = Buffer.isBuffer(data) ? data.toString("utf8") : String(data);
      out(`RESULT ${JSON.stringify(text)}`);
    } else {
      out(`RESULT ${JSON.stringify(res.result ?? null)}`);
    }
  } catch (e) {
    if (e instanceof ARCPError) out(`ERROR ${e.code}`);
    else throw e;
  }
}

async function main() {
  const client = newClient();
  const transport = await openTransport();
  try {
    await client.connect(transport);
  } catch (e) {
    if (e instanceof ARCPError) {
      out(`ERROR ${e.code}`);
      return 1;
    }
    throw e;
  }
  if (SCENARIO === "idle") {
    out("IDLE");
    await new Promise((r) => setTimeout(r, 120_000));
    return 0;
  }
  if (SCENARIO === "subscribe") {
    if (!client.hasFeature("subscribe")) {
      out("NOT_NEGOTIATED subscribe");
      return 0;
    }
    printEvents(client, JOB);
    // ADAPTER: a JobSubscription has no outcome promise (JobHandle.done is for submitted jobs
    // only); the driver listens for the job's terminal envelope with client.on().
    const ended = new Promise((r) => {
      client.on("job.result", (e) => {
        if (e.job_id !== JOB) return;
        out(`RESULT ${JSON.stringify(e.payload.result ?? null)}`);
        r();
      });
      client.on("job.error", (e) => {
        if (e.job_id !== JOB) return;
        out(`ERROR ${e.payload.code}`);
        r();
      });
    });
    const sub = await client.subscribe(JOB, { history: true });
    out(`SUBSCRIBED ${sub.jobId}`);
    await ended;
    return 0;
  }
  if (!["submit", "cancel", "resume"].includes(SCENARIO)) {
    out(`UNSUPPORTED scenario ${SCENARIO}`);
    return 0;
  }
  let handle;
  try {
    handle = await client.submit({ agent: AGENT, input: INPUT });
  } catch (e) {
    if (e instanceof ARCPError) {
      out(`ERROR ${e.code}`);
      return 1;
    }
    throw e;
  }
  out(`ACCEPTED ${handle.jobId}`);
  printEvents(client, handle.jobId);
  client.on("job.cancelled", (e) => {
    if (e.job_id === handle.jobId) out("CANCELLED");
  });
  if (SCENARIO === "cancel") await client.cancelJob(handle.jobId);
  if (SCENARIO === "resume") {
    // The SDK resumes on a fresh transport with client.resume(); it does not reconnect by itself,
    // and it tells the caller neither about a dropped transport nor (without onSessionBroken)
    // about a gap. ADAPTER: the driver chains its own close handler behind the client's
    // (Transport.onClose keeps one handler) and uses onSessionBroken for gaps.
    const sessionId = client.state.id;
    const token = client.welcomePayload?.resume_token;
    const dropped = new Promise((r) => {
      const prev = transport.closeHandler;
      transport.onClose((err) => {
        prev?.(err);
        r();
      });
      broken.then(r);
    });
    const first = await Promise.race([outcome(handle).then(() => "done"), dropped.then(() => "dropped")]);
    if (first === "done") return 0;
    const last = client.lastEventSeqObserved;
    const resumed = newClient();
    printEvents(resumed, handle.jobId);
    await resumed.resume(await openTransport(), { session_id: sessionId, resume_token: brokenToken ?? token, last_event_seq: last });
    out(`RESUMED ${last}`);
    await new Promise((r) => setTimeout(r, 5000));
    return 0;
  }
  await outcome(handle);
  await Promise.race([client.close(), new Promise((r) => setTimeout(r, 1000))]).catch(() => {});
  return 0;
}

const guard = setTimeout(() => {
  log("gave up after 150 s");
  finish(1);
}, 150_000);
guard.unref();
main().then(finish, (e) => {
  log(String(e?.stack ?? e));
  out(`FAILED ${e?.name ?? "Error"}: ${String(e?.message ?? e).split("\n")[0]}`);
  finish(1);
});
