#!/usr/bin/env bash
# Build the TypeScript SDK checkout named by ARCP_TS_SDK (pnpm install + pnpm build, in place).
# Idempotent and quiet on success: rebuilds only when a source file is newer than the build.
# Needs node (20 works; the SDK asks for 22 and pnpm only warns) and pnpm 9 (from the npm
# registry: `npm i -g pnpm@9`; without it, `npx pnpm@9.15.0` is used).
set -euo pipefail
if [[ -z "${ARCP_TS_SDK:-}" ]]; then
  echo "targets/typescript: skipped (set ARCP_TS_SDK=/path/to/typescript-sdk checkout to enable)"
  exit 0
fi
sdk="$(cd "$ARCP_TS_SDK" && pwd)"
built="$sdk/packages/sdk/dist/index.js"
if [[ -f "$built" && -d "$sdk/node_modules" ]] \
  && [[ -z "$(find "$sdk/packages" -path '*/node_modules' -prune -o -path '*/src/*' -newer "$built" -print -quit)" ]]; then
  exit 0
fi
if command -v pnpm >/dev/null && [[ "$(pnpm --version)" == 9.* ]]; then
  pnpm=(pnpm)
else
  pnpm=(npx --yes pnpm@9.15.0)
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
(cd "$sdk" && "${pnpm[@]}" install --frozen-lockfile && "${pnpm[@]}" build) >"$log" 2>&1 \
  || { tail -n 40 "$log" >&2; exit 1; }
[[ -f "$built" ]] || { echo "targets/typescript/setup.sh: build produced no $built" >&2; exit 1; }
