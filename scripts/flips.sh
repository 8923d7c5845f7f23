#!/usr/bin/env bash
# Verdict stability of the embedded suite: run it RUNS times in a row
# (default 20), then LOADED_RUNS times (default 5) with the machine loaded by
# two busy loops, and count the cases whose verdict differs between any two
# runs (a "flip"). Prints each flipping case and the flip count; exits 1 when
# anything flipped.
#
#   scripts/flips.sh [RUNS] [LOADED_RUNS] [-- extra arcp-conform flags]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
LOADED_RUNS=${2:-5}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
cargo build --release --quiet
BIN=target/release/arcp-conform
OUT=$(mktemp -d)
BUSY=()
cleanup() {
    for p in "${BUSY[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$OUT"
}
trap cleanup EXIT INT TERM

# One line per case: "<id> <VERDICT>", from the console's per-case lines.
run_once() {
    local name=$1 start=$SECONDS
    shift
    "$BIN" --color never "$@" >"$OUT/$name.log" 2>&1 || true
    awk '/^\[ *[0-9]+\/[0-9]+\] / { sub(/^\[[ 0-9\/]+\] /, ""); print $2, $1 }' "$OUT/$name.log" | sort >"$OUT/$name.v"
    printf '%-10s %3d cases in %3ds: %s%d flaky\n' "$name" "$(wc -l <"$OUT/$name.v")" $((SECONDS - start)) \
        "$(awk '{print $2}' "$OUT/$name.v" | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')" \
        "$(grep -c '\[flaky: ' "$OUT/$name.log" || true)"
    grep '\[flaky: ' "$OUT/$name.log" | sed 's/^/    /' || true
}

for i in $(seq 1 "$RUNS"); do run_once "idle-$i" "$@"; done
for _ in 1 2; do ( while :; do :; done ) & BUSY+=($!); done
for i in $(seq 1 "$LOADED_RUNS"); do run_once "loaded-$i" "$@"; done
for p in "${BUSY[@]}"; do kill "$p" 2>/dev/null || true; done
BUSY=()

# A case flips when it has more than one distinct verdict over all runs.
cat "$OUT"/*.v | sort -u | awk '{ n[$1]++; v[$1] = v[$1] " " $2 } END {
    flips = 0
    for (id in n) if (n[id] > 1) { flips++; print "flip:", id, "->" v[id] }
    print "flips:", flips
    exit flips > 0
}'
