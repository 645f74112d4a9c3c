#!/usr/bin/env bash
# Installs sst's platform types (.sst/platform) offline, once: what `tsc -p stacks/tsconfig.json` needs
# to type-check sst.config.ts and stacks/. Run by `npm test` (pretest) and .ci/run; a no-op when
# .sst/platform is already there. Quiet when it works; prints sst's output and fails when it does not.
#
# The variables keep sst from downloading Pulumi and bun from outside the npm registry (see
# ../shared/TOOLCHAIN.md): with them, `sst install` only unpacks the platform from node_modules/sst.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f .sst/platform/config.d.ts ]; then
  exit 0
fi

if [ ! -x node_modules/.bin/sst ]; then
  echo "sst-install: node_modules/.bin/sst is missing: run npm ci first" >&2
  exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! SST_NO_BUN=1 SST_SKIP_DEPENDENCY_CHECK=1 SST_TELEMETRY_DISABLED=1 SST_STAGE=ci \
  node_modules/.bin/sst install >"$log" 2>&1; then
  echo "sst-install: \`sst install\` failed; its output:" >&2
  cat "$log" >&2
  exit 1
fi
if [ ! -f .sst/platform/config.d.ts ]; then
  echo "sst-install: \`sst install\` finished but wrote no .sst/platform/config.d.ts; its output:" >&2
  cat "$log" >&2
  exit 1
fi
