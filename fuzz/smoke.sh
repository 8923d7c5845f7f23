#!/bin/sh
# Bounded smoke run of every fuzz target, for CI:
#   fuzz/smoke.sh [SECONDS per target]        (default: $FUZZ_SMOKE_SECS, else 30)
# With cargo-fuzz installed it runs libFuzzer on the stable toolchain
# (RUSTC_BOOTSTRAP=1). Without it, it runs the same target bodies on
# proptest-generated inputs: `cargo test --release --test fuzz_smoke`
# (tests/fuzz_smoke.rs); FUZZ_SMOKE_FALLBACK=1 forces that. Either way a
# panic fails the script.
set -eu
secs="${1:-${FUZZ_SMOKE_SECS:-30}}"
here="$(cd "$(dirname "$0")" && pwd)"
targets="envelope_decode case_load matcher runtime_frames"

if [ -z "${FUZZ_SMOKE_FALLBACK:-}" ] && cargo fuzz --version >/dev/null 2>&1; then
    cd "$here"
    # Seed the case loader with the suite's cases.
    mkdir -p corpus/case_load
    find ../cases -name '*.yaml' -exec cp {} corpus/case_load/ \;
    for t in $targets; do
        echo "== fuzz target $t: ${secs}s"
        RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -- \
            -max_total_time="$secs" -dict=dict/arcp.dict -timeout=10 -max_len=8192
    done
else
    echo "cargo-fuzz is not installed: running the target bodies on generated inputs"
    echo "(tests/fuzz_smoke.rs), ${secs}s per target"
    cd "$here/.."
    FUZZ_SMOKE_SECS="$secs" cargo test --release --test fuzz_smoke -- --nocapture --test-threads 1
fi
