"""arcp-conform client driver on the Python SDK client (PyPI `agentruntimecontrolprotocol`,
import `arcp`), following docs/client-driver.md.

    arcp-conform client --target 'targets/python/.venv/bin/python targets/python/driver.py'
    arcp-conform client --transport stdio --target 'targets/python/.venv/bin/python targets/python/driver.py'

Everything protocol-level (hello, features, heartbeats, acks, resume, chunk assembly, error
mapping) is the SDK's own `ARCPClient`; this file only maps the scenarios onto its API and prints
the contract's lines. stdout carries those lines only; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from arcp import ARCPError, ClientInfo, SessionResume, StdioTransport, WebSocketTransport
from arcp.client import ARCPClient


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def log(msg: str) -> None:
    print(f"driver: {msg}", file=sys.stderr, flush=True)


ENV = os.environ
SCENARIO = ENV.get("ARCP_CONFORM_SCENARIO", "")
TOKEN = ENV.get("ARCP_CONFORM_TOKEN", "")
AGENT = ENV.get("ARCP_CONFORM_AGENT", "echo")
INPUT: Any = json.loads(ENV.get("ARCP_CONFORM_INPUT") or "{}")
JOB = ENV.get("ARCP_CONFORM_JOB", "")


async def open_transport() -> Any:
    if ENV.get("ARCP_CONFORM_TRANSPORT", "ws") == "stdio":
        proc = await asyncio.create_subprocess_shell(
            ENV["ARCP_CONFORM_RUNTIME_CMD"],
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return await StdioTransport.from_process_pipes(proc)
    return await WebSocketTransport.connect(ENV["ARCP_CONFORM_URL"])


def new_client() -> ARCPClient:
    return ARCPClient(client=ClientInfo(name="arcp-conform-driver", version="0"), token=TOKEN)


async def see_through(handle: Any) -> None:
    """EVENT lines, then RESULT or ERROR for the job behind `handle`."""

    async def events() -> None:
        async for ev in handle.events():
            out(f"EVENT {ev.get('kind')}")

    chunks: list[dict[str, Any]] = []

    async def collect() -> None:
        async for c in handle.chunks():
            out("EVENT result_chunk")
            chunks.append(c)

    pumps = asyncio.gather(events(), collect())
    try:
        res = await handle.done
    except ARCPError as e:
        out(f"ERROR {e.code}")
        return
    finally:
        await asyncio.wait_for(pumps, 5)
    if getattr(res, "result_id", None):
        import base64

        data = b"".join(
            base64.b64decode(c["data"]) if c.get("encoding") == "base64" else c["data"].encode()
            for c in sorted(chunks, key=lambda c: c.get("chunk_seq", 0))
        )
        out("RESULT " + json.dumps(data.decode("utf-8", "replace")))
    else:
        out("RESULT " + json.dumps(getattr(res, "result", None), separators=(",", ":")))


async def main() -> int:
    client = new_client()
    try:
        await client.connect(await open_transport())
    except ARCPError as e:
        out(f"ERROR {e.code}")
        return 1
    if SCENARIO == "idle":
        out("IDLE")
        await asyncio.sleep(120)
        return 0
    if SCENARIO == "subscribe":
        if not client.has_feature("subscribe"):
            out("NOT_NEGOTIATED subscribe")
            return 0
        sub = await client.subscribe(JOB, history=True)
        out(f"SUBSCRIBED {JOB}")
        await see_through(sub.handle)
        return 0
    if SCENARIO not in ("submit", "resume", "cancel"):
        out(f"UNSUPPORTED scenario {SCENARIO}")
        return 0
    try:
        handle = await client.submit(agent=AGENT, input=INPUT)
    except ARCPError as e:
        out(f"ERROR {e.code}")
        return 1
    out(f"ACCEPTED {handle.job_id}")
    if SCENARIO == "cancel":
        await client.cancel_job(handle.job_id)
    if SCENARIO == "resume":
        # The SDK's resume lives on a new client object (docs: `ARCPClient.resume`).
        token = client.welcome.resume_token if client.welcome else ""
        try:
            await see_through(handle)
            return 0
        except Exception as e:  # the transport dropped
            log(f"resuming after {e!r}")
        resumed = new_client()
        last = client.latest_event_seq
        await resumed.resume(
            await open_transport(),
            resume=SessionResume(
                session_id=client.session_id or "", resume_token=token, last_event_seq=last
            ),
        )
        out(f"RESUMED {last}")
        await asyncio.sleep(5)
        return 0
    await see_through(handle)
    try:
        await asyncio.wait_for(client.close(), 1)
    except Exception:  # noqa: BLE001 - closing is best effort
        pass
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except Exception as e:  # noqa: BLE001 - the contract's FAILED line
        log(repr(e))
        out(f"FAILED {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        sys.exit(1)
