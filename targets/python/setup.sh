#!/usr/bin/env bash
# Create targets/python/.venv with the pinned Python SDK. Idempotent, quiet on success.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >"$log" 2>&1 \
  || { cat "$log" >&2; exit 1; }
"$venv/bin/python" -c 'import arcp' >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
echo "$want" >"$stamp"
