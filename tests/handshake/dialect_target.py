"""A scripted stdio target speaking the hello dialects of v1.0-lineage SDKs.

Modes (argv[1]):
  ruby    requires an envelope session_id on every frame and raises when it is
          missing (like the Ruby SDK); echoes it in a flat-identity welcome with
          `heartbeat_interval_sec: null`; resume inside hello reads `resume.token`
          and otherwise starts a fresh session named by the envelope; session.bye closes, no answer;
          session.close is answered with session.error.
  crash   raises on the first frame, a Ruby-style backtrace on stderr.
  nullhb  spec-shaped hello and close, but `heartbeat_interval_sec: null`.
  late-resume STATE N
          spec-shaped; refuses the first N session.resume (counted in the file
          STATE, across processes) with PERMISSION_DENIED "no resumable
          session", as a runtime that has not yet noticed the drop; then
          welcomes the resumed session.
"""
import os
import json
import sys
import uuid

MODE = sys.argv[1]


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def crash(message):
    sys.stderr.write("server.rb:45:in `validate!': " + message + " (Arcp::Errors::InvalidRequest)\n")
    for i in range(12):
        sys.stderr.write("\tfrom lib/arcp/frame%d.rb:%d:in `run'\n" % (i, i))
    sys.exit(1)


def welcome(sid, flat):
    payload = {
        "resume_token": "rt_" + uuid.uuid4().hex,
        "heartbeat_interval_sec": None,
        "capabilities": {"encodings": ["json"], "features": ["heartbeat"], "agents": []},
    }
    if flat:
        payload.update({"runtime_name": "dialect-target", "runtime_version": "0"})
    else:
        payload["runtime"] = {"name": "dialect-target", "version": "0"}
    return {"arcp": "1.1", "id": "msg_" + uuid.uuid4().hex, "type": "session.welcome",
            "session_id": sid, "payload": payload}


for line in sys.stdin:
    env = json.loads(line)
    kind = env.get("type")
    sid = env.get("session_id")
    if MODE == "crash":
        crash("boom")
    if MODE == "ruby" and not isinstance(sid, str):
        crash("envelope session_id must be a String")
    if kind == "session.hello":
        resume = env["payload"].get("resume")
        if MODE == "ruby" and isinstance(resume, dict) and "token" in resume:
            sid = resume.get("session_id", sid)
        send(welcome(sid or "sess_1", MODE == "ruby"))
    elif kind == "session.resume" and MODE == "late-resume":
        state, limit = sys.argv[2], int(sys.argv[3])
        seen = int(open(state).read() or 0) if os.path.exists(state) else 0
        with open(state, "w") as f:
            f.write(str(seen + 1))
        old = env["payload"].get("session_id")
        if seen < limit:
            send({"arcp": "1.1", "id": "msg_" + uuid.uuid4().hex, "type": "session.error",
                  "session_id": old, "payload": {"code": "PERMISSION_DENIED",
                                                 "message": "no resumable session for session_id=%r" % old}})
        else:
            send(welcome(old, False))
    elif kind == "session.ping":
        send({"arcp": "1.1", "id": "msg_" + uuid.uuid4().hex, "type": "session.pong",
              "session_id": sid, "payload": {"ping_nonce": env["payload"].get("nonce"),
                                             "received_at": "2026-01-01T00:00:00Z"}})
    elif kind == "session.bye" and MODE == "ruby":
        sys.exit(0)
    elif kind == "session.close" and MODE == "ruby":
        send({"arcp": "1.1", "id": "msg_" + uuid.uuid4().hex, "type": "session.error",
              "session_id": sid, "payload": {"code": "INVALID_REQUEST", "message": "unknown type"}})
    elif kind == "session.close":
        send({"arcp": "1.1", "id": "msg_" + uuid.uuid4().hex, "type": "session.closed",
              "session_id": sid, "payload": {}})
