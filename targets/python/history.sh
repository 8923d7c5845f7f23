#!/usr/bin/env bash
# SDK release history: run the runtime suite (stdio) and the client suite against each
# released version of the Python SDK and keep the results under reports/python-sdk-history/.
#
#   bash targets/python/history.sh [VERSION...]      # default: every version in VERSIONS below
#
# Each version gets its own venv (targets/python/history/<version>/.venv) with the SDK at that
# version plus every dependency pinned in requirements.txt (the set resolved for the pinned SDK),
# so the only thing that changes between columns is the SDK. Installing the whole set matters:
# 1.1.1 and 1.1.2 declare the runtime's imports (PyJWT, aiosqlite) only under the `runtime` extra,
# while 1.1.3 makes them hard dependencies. The adapters
# (server.py, driver.py) are the current ones: when an adapter does not work on an older SDK,
# that is that version's result, recorded as such.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
VERSIONS=(1.1.1 1.1.2 1.1.3)
[ "$#" -gt 0 ] && VERSIONS=("$@")
B="${ARCP_CONFORM:-$root/target/release/arcp-conform}"
[ -x "$B" ] || (cd "$root" && cargo build --release --quiet)
out="$root/reports/python-sdk-history"
deps="$(mktemp)"
trap 'rm -f "$deps"' EXIT
grep -v '^agentruntimecontrolprotocol==' "$here/requirements.txt" >"$deps"

for v in "${VERSIONS[@]}"; do
  venv="$here/history/$v/.venv"
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import arcp, jwt, aiosqlite' 2>/dev/null; then
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      -r "$deps" "agentruntimecontrolprotocol==$v"
  fi
  got="$("$venv/bin/python" -m pip show agentruntimecontrolprotocol | sed -n 's/^Version: //p')"
  [ "$got" = "$v" ] || { echo "venv for $v has SDK $got" >&2; exit 1; }
  mkdir -p "$out/$v"
  "$venv/bin/python" -m pip freeze --disable-pip-version-check >"$out/$v/pip-freeze.txt"
  echo "== $v: runtime suite (stdio)"
  # Exit code 1 (failures) is a result, not an error of this script.
  # The pinned profile, renamed and pointed at this version's venv.
  profile="$here/history/$v/profile.yaml"
  sed -e "s|^name: .*|name: python-sdk-$v|" \
      -e "s|^target: .*|target: $venv/bin/python targets/python/server.py --stdio|" \
      "$here/profile.yaml" >"$profile"
  (cd "$root" && "$B" --profile "$profile" --timeout-scale 2 --quiet \
      --json "$out/$v/results.json" --junit "$out/$v/junit.xml") || [ $? -eq 1 ]
  echo "== $v: client suite"
  (cd "$root" && "$B" client --target "$venv/bin/python targets/python/driver.py" \
      --name "python-sdk-client-$v" --quiet \
      --json "$out/$v/client-results.json" --junit "$out/$v/client-junit.xml") || [ $? -eq 1 ]
done
