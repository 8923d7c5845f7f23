#!/usr/bin/env bash
# Run one of this directory's Ruby scripts inside the Debian sid chroot made by setup.sh, with the
# Ruby SDK checkout (ARCP_RUBY_SDK) bind-mounted read-only at /arcp/sdk and this directory at
# /arcp/adapter. stdin/stdout/stderr pass straight through (NDJSON over stdio works), the network
# namespace is the host's (WebSocket on 127.0.0.1 works).
#   targets/ruby/run.sh server.rb --stdio
#   targets/ruby/run.sh server.rb --ws 127.0.0.1:47392
#   targets/ruby/run.sh driver.rb
# Mounts live in a private mount namespace, so they vanish with the process. Every step execs, so
# the PID the harness holds is the Ruby process: its signals and exit status are Ruby's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${ARCP_RUBY_SDK:-}" ]]; then
  echo "targets/ruby: skipped (set ARCP_RUBY_SDK=/path/to/ruby-sdk checkout to enable)" >&2
  exit 0
fi
if [[ $# -lt 1 ]]; then
  echo "usage: targets/ruby/run.sh SCRIPT.rb [ARGS...]" >&2
  exit 2
fi
sdk="$(cd "$ARCP_RUBY_SDK" && pwd)"
root="${ARCP_RUBY_CHROOT:-$here/.chroot}"
if [[ ! -f "$root/.arcp-conform-packages" ]]; then
  echo "targets/ruby/run.sh: no chroot at $root; run: ARCP_RUBY_SDK=$sdk bash targets/ruby/setup.sh" >&2
  exit 2
fi
# The harness's per-case state directory (ARCP_CONFORM_STATE_DIR: the outstanding-credential store
# that must survive a restart) is a host path too: bind it read-write at the same path.
state=""
if [[ -n "${ARCP_CONFORM_STATE_DIR:-}" && "$ARCP_CONFORM_STATE_DIR" == /* && -d "$ARCP_CONFORM_STATE_DIR" ]]; then
  state="$ARCP_CONFORM_STATE_DIR"
fi
# shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
exec unshare --mount --propagation private -- bash -c '
  set -e
  r="$1" here="$2" sdk="$3" state="$4"; shift 4
  mkdir -p "$r/arcp/adapter" "$r/arcp/sdk"
  mount --bind -o ro "$here" "$r/arcp/adapter"
  mount --bind -o ro "$sdk" "$r/arcp/sdk"
  mount -t proc proc "$r/proc"
  mount --rbind /dev "$r/dev"
  if [[ -n "$state" ]]; then
    mkdir -p "$r$state"
    mount --bind "$state" "$r$state"
  fi
  script="$1"; shift
  cd "$r/arcp/adapter"
  exec chroot "$r" /usr/bin/env -C /arcp/adapter ruby -I/arcp/sdk/lib "/arcp/adapter/$script" "$@"
' _ "$root" "$here" "$sdk" "$state" "$@"
