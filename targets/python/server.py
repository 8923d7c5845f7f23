"""ARCP v1.1 runtime on the Python SDK (PyPI `agentruntimecontrolprotocol`, import `arcp`),
hosting the arcp-conform `conformance` and `echo` agents (CONFORMANCE.md).

    server.py --stdio               one session over NDJSON on stdin/stdout, exit when stdin closes
    server.py --ws 127.0.0.1:PORT   WebSocket at ws://127.0.0.1:PORT/arcp until SIGTERM

Everything protocol-level (handshake, auth, features, event_seq, leases, budgets, expiry
watchdog, credentials, resume, subscribe, list_jobs, cancel) is the SDK's own. This file only
configures the runtime and implements the scripted agent on the SDK's agent API (JobContext).
Where the SDK has no API for something the contract asks for, the agent does the closest thing;
each such place is marked ADAPTER and listed in README.md.

stdout carries protocol frames only; logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from arcp import (
    ARCPError,
    Envelope,
    LeaseConstraints,
    LeaseExpiredError,
    RuntimeInfo,
    StdioTransport,
    error_class_for,
    serve_websocket,
)
from arcp.runtime import (
    ARCPRuntime,
    Credential,
    CredentialConstraints,
    InMemoryCredentialProvisioner,
    InMemoryRevocationLog,
    JobContext,
    JobCredentialContext,
    StaticBearerVerifier,
    assert_lease_subset,
)

# Not exported publicly; see README ("private SDK entry points").
from arcp._messages.execution import JobResultPayload, JobSubmitPayload
from arcp._runtime._handlers import _build_job_and_accept
from arcp._ulid import new_result_id

LOG = logging.getLogger("arcp-conform.python")

CONFORMANCE = "conformance"
ECHO = "echo"
WAIT_LIMIT_SEC = 3600.0  # `wait` gives up after an hour, like the reference runtime

TOKENS = {"tok-alice": "alice", "tok-alice-2": "alice", "tok-bob": "bob"}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- credentials


def _constraints(lease: dict[str, list[str]], ctx: JobCredentialContext) -> CredentialConstraints:
    return CredentialConstraints(
        cost_budget=tuple(lease.get("cost.budget", ())),
        model_use=tuple(lease.get("model.use", ())),
        expires_at=ctx.lease_constraints.expires_at if ctx.lease_constraints else None,
    )


def _issue_for_lease(lease: dict[str, list[str]], ctx: JobCredentialContext) -> tuple[Credential, ...]:
    """Deployment-side provisioner policy: a gateway credential for cost-bearing leases
    (model.use / cost.budget), like the reference runtime; none otherwise. Values are
    random per job (§9.8.2: never reused)."""
    if "model.use" not in lease and "cost.budget" not in lease:
        return ()
    constraints = _constraints(lease, ctx)
    return (
        Credential(
            id=f"cred_{secrets.token_hex(8)}",
            scheme="bearer",
            value=f"sk-virt-{secrets.token_urlsafe(24)}",
            endpoint="https://gateway.example.test/v1",
            profile="openai",
            constraints=constraints,
        ),
    )


# ADAPTER: the credential upstream the harness plays (CONFORMANCE.md, "The credential upstream").
# With ARCP_CONFORM_UPSTREAM set, the SDK's CredentialProvisioner hook issues and revokes there;
# the SDK itself decides when to revoke and how often to retry (what the cases measure).
UPSTREAM = os.environ.get("ARCP_CONFORM_UPSTREAM", "").rstrip("/")
STATE_DIR = os.environ.get("ARCP_CONFORM_STATE_DIR", "")


def _upstream_call(method: str, path: str, body: dict | None = None) -> dict:
    """One JSON call to the upstream; raises on an error status (the SDK retries)."""
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(
        UPSTREAM + path, data=data, method=method, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read() or b"{}")


class UpstreamProvisioner:
    """The SDK's CredentialProvisioner protocol, backed by the harness's upstream."""

    async def issue(self, lease: dict[str, list[str]], ctx: JobCredentialContext) -> tuple[Credential, ...]:
        if "model.use" not in lease and "cost.budget" not in lease:
            return ()
        body = {"job_id": ctx.job_id, "principal": ctx.submitter_principal, "agent": ctx.agent}
        r = await asyncio.to_thread(_upstream_call, "POST", "/v1/credentials", body)
        constraints = _constraints(lease, ctx)
        return (
            Credential(
                id=r["id"], scheme=r.get("scheme", "bearer"), value=r["value"],
                endpoint=r["endpoint"], constraints=constraints,
            ),
        )

    async def revoke(self, credential_id: str) -> None:
        await asyncio.to_thread(_upstream_call, "POST", f"/v1/credentials/{credential_id}/revoke")

    async def rotate(self, credential_id: str) -> str:
        r = await asyncio.to_thread(_upstream_call, "POST", f"/v1/credentials/{credential_id}/rotate")
        return r["value"]


class FileRevocationLog:
    """The SDK's RevocationLog protocol in a JSON file (ids only), so a restarted process can
    revoke what its predecessor left outstanding (§14). The SDK never reads `outstanding()`
    itself: `revoke_outstanding` below is the deployment's part."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _load(self) -> set[tuple[str, str]]:
        try:
            with open(self.path) as f:
                return {tuple(x) for x in json.load(f)}
        except (OSError, ValueError):
            return set()

    def _save(self, items: set[tuple[str, str]]) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(sorted(items), f)
        os.replace(tmp, self.path)

    async def record(self, job_id: str, credential_id: str) -> None:
        self._save(self._load() | {(job_id, credential_id)})

    async def forget(self, job_id: str, credential_id: str) -> None:
        self._save(self._load() - {(job_id, credential_id)})

    async def outstanding(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self._load()))


async def revoke_outstanding(rt: ARCPRuntime) -> None:
    if rt.revocation_log is None or rt.credential_provisioner is None:
        return
    for job_id, cred_id in await rt.revocation_log.outstanding():
        try:
            await rt.credential_provisioner.revoke(cred_id)
            await rt.revocation_log.forget(job_id, cred_id)
        except Exception as e:  # noqa: BLE001 - logged, kept for the next start
            LOG.warning("credential %s not revoked on start: %s", cred_id, e)


# --------------------------------------------------------------------------- agents


async def echo_agent(inp: Any, ctx: JobContext) -> Any:
    return inp


class _Finished(Exception):
    """The script ended the job itself (finish after streamed chunks)."""


class Script:
    """The conformance agent: runs `input.steps` (CONFORMANCE.md) on one JobContext."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.calls = 0
        self.result_id: str | None = None
        self.next_chunk_seq = 0
        self.result_size = 0

    # -- helpers ---------------------------------------------------------------------
    async def warn(self, message: str) -> None:
        await self.ctx.log("warn", message)

    async def tool_error(self, call_id: str, err: ARCPError) -> None:
        await self.ctx.tool_result({"call_id": call_id, "error": err.to_payload()})

    async def guarded(self, tool: str, args: Any, authorize) -> str | None:
        """tool_call, then the SDK's lease check. Returns the call id when allowed; emits
        the tool_result error and returns None when refused. LEASE_EXPIRED is re-raised
        so the SDK's job runner ends the job with job.error LEASE_EXPIRED (§9.5)."""
        self.calls += 1
        call_id = f"call_{self.calls}"
        await self.ctx.tool_call({"tool": tool, "args": args, "call_id": call_id})
        try:
            authorize()
        except ARCPError as e:
            await self.tool_error(call_id, e)
            if isinstance(e, LeaseExpiredError):
                raise
            return None
        return call_id

    # -- ops -------------------------------------------------------------------------
    async def run(self, inp: Any) -> Any:
        steps = inp.get("steps") if isinstance(inp, dict) else None
        if not isinstance(steps, list):
            steps = []
        for step in steps:
            if not isinstance(step, dict):
                await self.warn(f"conformance agent: step {step!r} is not an object")
                continue
            op = step.get("op")
            if op == "finish":
                return await self.finish(step)
            if op == "fail":
                code = step.get("code") or "INTERNAL_ERROR"
                cls = error_class_for(str(code))
                raise cls(str(step.get("message") or "agent failed"))
            handler = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
            if handler is None:
                await self.warn(f"conformance agent: unknown op `{op}`")
                continue
            await handler(step)
        return await self.finish({})

    async def op_event(self, step: dict) -> None:
        body = step.get("body", {})
        # JobContext has typed emitters only; Job.emit_event emits any kind as is.
        await self.ctx.job.emit_event(str(step.get("kind") or "log"), body if body is not None else {})

    async def op_log(self, step: dict) -> None:
        await self.ctx.log(step.get("level") or "info", str(step.get("message", "")))

    async def op_progress(self, step: dict) -> None:
        try:
            await self.ctx.progress(
                step.get("current", 0),
                total=step.get("total"),
                units=step.get("units"),
                message=step.get("message"),
            )
        except ValueError as e:  # the SDK refuses the body (negative, > total, non-integer)
            await self.warn(f"progress rejected by the SDK: {e}")

    async def op_cost(self, step: dict) -> None:
        name = step.get("name") or "cost.inference"
        unit = step.get("unit") or "USD"
        value = step.get("value", 0)
        # The SDK refuses a negative cost.* metric by raising ValueError before it emits or
        # decrements anything; the agent reports that and goes on.
        try:
            await self.ctx.metric({"name": name, "value": value, "unit": unit})
        except ValueError as e:
            await self.warn(f"negative cost {value} {unit} rejected: {e}")

    async def op_tool(self, step: dict) -> None:
        capability = step.get("capability")
        if isinstance(capability, str):
            namespace, resource = capability, str(step.get("resource", ""))
        else:
            namespace, resource = "tool.call", str(step.get("tool", ""))
        tool = step.get("tool") or namespace
        args = step.get("args", {})
        if capability is not None:
            args = {**(args if isinstance(args, dict) else {}), "resource": resource}
        call_id = await self.guarded(tool, args, lambda: self.ctx.authorize(namespace, resource))
        if call_id is None:
            return
        result = step["result"] if "result" in step else {"ok": True}
        await self.ctx.tool_result({"call_id": call_id, "result": result})
        if isinstance(step.get("cost"), dict):
            await self.op_cost(step["cost"])

    async def op_model(self, step: dict) -> None:
        model = str(step.get("model", ""))
        call_id = await self.guarded(
            "model.invoke", {"model": model}, lambda: self.ctx.authorize_model(model)
        )
        if call_id is None:
            return
        await self.ctx.tool_result({"call_id": call_id, "result": {"model": model, "text": "ok"}})
        if isinstance(step.get("cost"), dict):
            await self.op_cost(step["cost"])

    async def op_delegate(self, step: dict) -> None:
        ctx = self.ctx
        runtime = ctx.runtime
        agent = str(step.get("agent") or ECHO)
        child_lease = step.get("lease") or {}
        child_lc_raw = step.get("lease_constraints")
        call_id = await self.guarded(
            "agent.delegate",
            {"agent": agent, "lease": child_lease},
            lambda: ctx.authorize("agent.delegate", agent),
        )
        if call_id is None:
            return
        try:
            child_lc = LeaseConstraints.model_validate(child_lc_raw) if child_lc_raw else None
            # §9.4 via the SDK's subset check (patterns, remaining budget, expiry).
            assert_lease_subset(
                child_lease,
                ctx.lease,
                parent_budget_remaining=ctx.budget,
                parent_constraints=ctx.lease_constraints,
                child_constraints=child_lc,
            )
            # ADAPTER: the SDK has no agent-side delegation API. The child is created through
            # the SDK's own submit path (job record, credentials, job.accepted payload) in the
            # parent's session, with parent_job_id set and the parent's trace id, and run by the
            # SDK's job runner. Its job.accepted is not sent (no client asked for it); the
            # delegate event announces it instead, as in the reference runtime.
            agent_fn, name, version = runtime._resolve_agent(agent)
            effective_lc = _min_expiry(child_lc, ctx.lease_constraints)
            submit = JobSubmitPayload(
                agent=agent,
                input=step.get("input"),
                lease_request=child_lease,
                lease_constraints=effective_lc,
                parent_job_id=ctx.job_id,
            )
            synthetic = Envelope(
                id=_new_id(),
                type="job.submit",
                session_id=ctx.session_id,
                trace_id=ctx.trace_id,
                payload=submit.model_dump(mode="json", exclude_none=True),
            )
            child, _accepted = await _build_job_and_accept(
                runtime, ctx.job.session, synthetic, submit, name, version
            )
        except ARCPError as e:
            await self.tool_error(call_id, e)
            return
        except (ValueError, TypeError) as e:  # pydantic validation of the child's lease
            from arcp import InvalidRequestError

            await self.tool_error(call_id, InvalidRequestError(str(e)))
            return
        body: dict[str, Any] = {
            "child_job_id": child.job_id,
            "agent": child.agent_ref,
            "lease": child_lease,
        }
        if effective_lc is not None:
            body["lease_constraints"] = effective_lc.model_dump(mode="json", exclude_none=True)
        if ctx.trace_id is not None:
            body["trace_id"] = ctx.trace_id
        await ctx.job.emit_event("delegate", body)
        task = asyncio.create_task(
            runtime._run_job(child, agent_fn, step.get("input"), max_runtime_sec=None)
        )
        runtime._job_tasks[child.job_id] = task
        await ctx.tool_result({"call_id": call_id, "result": {"child_job_id": child.job_id}})

    async def op_result_chunks(self, step: dict) -> None:
        chunks = [c for c in (step.get("chunks") or []) if isinstance(c, str)]
        if not chunks:
            return
        encoding = step.get("encoding") or "utf8"
        last = step.get("last", True) is not False
        if self.result_id is None:
            self.result_id = new_result_id()  # the SDK's result-id minting
        for i, data in enumerate(chunks):
            # ADAPTER: JobContext.result_chunk (validated, size-capped, no-mix enforced), not
            # ResultStream: ResultStream can only end a result with an extra empty chunk and
            # emits job.result at once, so it cannot honour `last` or a later `finish`.
            await self.ctx.result_chunk(
                {
                    "result_id": self.result_id,
                    "chunk_seq": self.next_chunk_seq,
                    "data": data,
                    "encoding": encoding,
                    "more": not (last and i + 1 == len(chunks)),
                }
            )
            self.next_chunk_seq += 1
            self.result_size += _decoded_len(data, encoding)

    async def op_rotate_credential(self, step: dict) -> None:
        creds = self.ctx.credentials
        if not creds:
            return
        prov = self.ctx.runtime.credential_provisioner
        if isinstance(prov, UpstreamProvisioner):
            value = await prov.rotate(creds[0].id)
        else:
            value = f"sk-virt-{secrets.token_urlsafe(24)}"
        await self.ctx.rotate_credential(creds[0].id, value)

    async def op_use_credential(self, step: dict) -> None:
        creds = self.ctx.credentials
        if not creds:
            return
        url = step.get("url") or creds[0].endpoint + str(step.get("path", ""))
        req = urllib.request.Request(url, headers={"authorization": f"Bearer {creds[0].value}"})

        def present() -> str:
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    return str(resp.status)
            except urllib.error.HTTPError as e:
                return str(e.code)
            except OSError as e:
                return str(e)

        status = await asyncio.to_thread(present)
        await self.ctx.job.emit_event("log", {"level": "info", "message": f"credential {creds[0].id} presented: {status}"})

    async def op_crash(self, step: dict) -> None:
        # The process dies as a crashed one would: nothing revoked, no terminal message.
        os._exit(70)

    async def op_sleep(self, step: dict) -> None:
        ms = step.get("ms", 0)
        if isinstance(ms, (int, float)) and ms > 0:
            await asyncio.sleep(ms / 1000.0)

    async def op_wait(self, step: dict) -> None:
        await asyncio.sleep(WAIT_LIMIT_SEC)

    async def finish(self, step: dict) -> Any:
        summary = step.get("summary")
        if self.result_id is not None:
            # A streamed result: job.result references it and carries no inline result.
            await self.ctx.job.emit_result(
                JobResultPayload(
                    final_status="success",
                    result_id=self.result_id,
                    result_size=self.result_size,
                    summary=summary if isinstance(summary, str) else "streamed result",
                    completed_at=_now_iso(),
                )
            )
            return None
        if isinstance(summary, str):
            await self.ctx.job.emit_result(
                JobResultPayload(
                    final_status="success",
                    result=step.get("result"),
                    summary=summary,
                    completed_at=_now_iso(),
                )
            )
            return None
        # The usual path: the SDK's job runner turns the return value into job.result.
        return step.get("result")


async def conformance_agent(inp: Any, ctx: JobContext) -> Any:
    return await Script(ctx).run(inp)


def _new_id() -> str:
    from arcp._ulid import new_envelope_id

    return new_envelope_id()


def _decoded_len(data: str, encoding: str) -> int:
    if encoding == "base64":
        try:
            return len(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            return 0
    return len(data.encode("utf-8"))


def _min_expiry(child: LeaseConstraints | None, parent: LeaseConstraints | None) -> LeaseConstraints | None:
    """§9.4: the child's effective expiry is min(child, parent)."""
    c = child.expires_at if child is not None else None
    p = parent.expires_at if parent is not None else None
    if c is None and p is None:
        return child
    if c is None or p is None:
        return LeaseConstraints(expires_at=c or p)
    pick = c if datetime.fromisoformat(c) <= datetime.fromisoformat(p) else p
    return LeaseConstraints(expires_at=pick)


# --------------------------------------------------------------------------- runtime


def make_runtime(heartbeat: int, resume_window: int) -> ARCPRuntime:
    rt = ARCPRuntime(
        runtime=RuntimeInfo(name="arcp-python-sdk", version="1.1.3"),
        bearer=StaticBearerVerifier(TOKENS),
        heartbeat_interval_sec=heartbeat,
        resume_window_sec=resume_window,
        credential_provisioner=(
            UpstreamProvisioner() if UPSTREAM else InMemoryCredentialProvisioner(factory=_issue_for_lease)
        ),
        revocation_log=(
            FileRevocationLog(os.path.join(STATE_DIR, "revocation-log.json"))
            if UPSTREAM and STATE_DIR
            else InMemoryRevocationLog()
        ),
    )
    rt.register_agent_version(CONFORMANCE, "1.0.0", conformance_agent)
    rt.register_agent_version(CONFORMANCE, "2.0.0", conformance_agent)
    rt.set_default_agent_version(CONFORMANCE, "2.0.0")
    rt.register_agent_version(ECHO, "1.0.0", echo_agent)
    return rt


async def serve_stdio(rt: ARCPRuntime) -> None:
    transport = await StdioTransport.from_std_streams()
    await rt.accept(transport)  # one session; returns when stdin closes or on session.bye


async def serve_ws(rt: ARCPRuntime, host: str, port: int) -> None:
    server = await serve_websocket(rt.accept, host=host, port=port, path="/arcp")
    print(f"listening on ws://{host}:{port}/arcp", file=sys.stderr, flush=True)
    try:
        await server.serve_forever()
    finally:
        server.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--stdio", action="store_true", help="one session over NDJSON on stdin/stdout")
    mode.add_argument("--ws", metavar="HOST:PORT", help="WebSocket server (127.0.0.1 only)")
    ap.add_argument("--heartbeat", type=int, default=int(os.environ.get("ARCP_HEARTBEAT_SEC", "3")))
    ap.add_argument("--resume-window", type=int, default=int(os.environ.get("ARCP_RESUME_WINDOW_SEC", "20")))
    a = ap.parse_args()

    rt = make_runtime(a.heartbeat, a.resume_window)
    await revoke_outstanding(rt)
    main_task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)
    try:
        if a.stdio:
            await serve_stdio(rt)
        else:
            host, _, port = a.ws.rpartition(":")
            if host not in ("127.0.0.1", "localhost", ""):
                ap.error("--ws listens on 127.0.0.1 only")
            await serve_ws(rt, "127.0.0.1", int(port))
    except asyncio.CancelledError:
        pass
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(rt.close(), timeout=2)


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("ARCP_LOG_LEVEL", "WARNING"))
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    # Do not wait on stdin reader threads or half-closed pipes.
    sys.stderr.flush()
    os._exit(0)
