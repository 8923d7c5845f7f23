#!/usr/bin/env bash
# Prepare a Debian sid chroot with Ruby >= 3.3 and async 2.x (Debian packages only) for the Ruby SDK.
# Idempotent and quiet on success. Needs root (debootstrap, chroot) and a Debian mirror.
#   ARCP_RUBY_CHROOT  where the chroot lives (default: targets/ruby/.chroot, git-ignored)
#   ARCP_DEBIAN_MIRROR  mirror URL (default: the first deb.* URI apt on this host uses)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${ARCP_RUBY_SDK:-}" ]]; then
  echo "targets/ruby: skipped (set ARCP_RUBY_SDK=/path/to/ruby-sdk checkout to enable)"
  exit 0
fi
root="${ARCP_RUBY_CHROOT:-$here/.chroot}"
# Packages the SDK's gemspec needs that Debian has; opentelemetry-api is optional at runtime
# (lib/arcp/trace.rb rescues LoadError) and not packaged.
pkgs=(ruby ruby-async ruby-async-http ruby-async-websocket ruby-base64 ruby-bigdecimal ruby-logger ruby-sqlite3)
stamp="$root/.arcp-conform-packages"
want="${pkgs[*]}"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
if [[ $EUID -ne 0 ]]; then
  echo "targets/ruby/setup.sh: needs root (debootstrap and chroot)" >&2
  exit 2
fi
command -v debootstrap >/dev/null || { echo "targets/ruby/setup.sh: install debootstrap (apt-get install -y debootstrap)" >&2; exit 2; }
mirror="${ARCP_DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  # Only live entries (`URIs:` / `deb` lines), never commented ones; skip security and third-party repos.
  mirror="$(grep -rhE '^(URIs:|deb) ' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if [[ ! -x "$root/usr/bin/apt-get" ]]; then
  mkdir -p "$root"
  debootstrap --variant=minbase sid "$root" "$mirror" >"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }
fi
# Private mount namespace: /proc and /dev mounts vanish with the process, nothing leaks.
# shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
unshare --mount --propagation private -- bash -c '
  set -e
  r="$1"; shift
  mount -t proc proc "$r/proc"
  mount --rbind /dev "$r/dev"
  cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
  # The host clock may be ahead of the mirror Valid-Until date; the archive is still signed.
  chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false update -qq
  chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
' _ "$root" "${pkgs[@]}" >"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }
chroot "$root" ruby -e 'require "async"; require "async/http"; require "async/websocket"; abort "ruby too old" if RUBY_VERSION < "3.3"' \
  >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
echo "$want" >"$stamp"
