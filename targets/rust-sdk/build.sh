#!/usr/bin/env bash
# Build targets/rust-sdk/target/release/arcp-rust-sdk-target (the runtime adapter)
# and arcp-rust-sdk-driver (the client driver): release, pinned by Cargo.lock.
# Idempotent (cargo rebuilds only what changed), quiet on success, prints the
# build log on failure. One job: the CI machines are small.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! cargo build --release --locked -j "${CARGO_BUILD_JOBS:-1}" \
    --manifest-path "$here/Cargo.toml" --target-dir "$here/target" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
for bin in arcp-rust-sdk-target arcp-rust-sdk-driver; do
  test -x "$here/target/release/$bin" || { echo "build.sh: $bin missing" >&2; exit 1; }
done
