#!/usr/bin/env bash
# The whole test suite: build, typecheck, lint, package lint, then every vitest project against a real
# PostgreSQL (started here, thrown away after) and headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 NEXT_TELEMETRY_DISABLED=1 WRANGLER_SEND_METRICS=false

bash scripts/system-deps.sh

echo "== build"
pnpm exec turbo run build --output-logs=errors-only
echo "== typecheck"
pnpm exec turbo run typecheck --output-logs=errors-only
echo "== lint"
pnpm exec biome check .
echo "== package lint (publint, attw)"
node scripts/lint-packages.mjs

read -r PGPORT PGDIR < <(bash scripts/pg-tmp.sh)
trap 'bash scripts/pg-tmp.sh stop "$PGDIR"' EXIT
export DRIP_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:${PGPORT}/postgres"
echo "== tests (PostgreSQL on port ${PGPORT})"
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=vitest.json || status=$?
node -e "const r=require('./vitest.json');console.log(r.numPassedTests+' passed, '+r.numFailedTests+' failed, '+(r.numPendingTests+r.numTodoTests)+' skipped')"
exit $status
