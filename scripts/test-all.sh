#!/usr/bin/env bash
# The whole test suite across the runtime matrix. Build and checks first (typecheck, edge typecheck, lint,
# package lint, unused exports), then vitest on each runtime against one real PostgreSQL (started here,
# thrown away after) and headless Chromium:
#   node24    the whole suite (primary runtime)
#   node20    the suite again on the oldest supported Node (the machine's own), except what does not depend
#             on the Node version and already ran on Node 24 (NODE20_SKIPS below): the server's PostgreSQL
#             half, the Chromium dashboard tests, the README type-check and three logic-only server suites
#   node22    the packages' tests (packages/*) and the runtime scenario
#   node26    the same on the newest Node
#   bun, deno, workerd   the runtime scenario (tests/runtimes): a Hono app with @drip/hono, core's default
#             entry, the outbox's delivery and its SIGTERM/beforeExit shutdown, against a loopback Drip API
#   ai-sdk7   @drip/ai's tests on the real AI SDK 7 (it declares Node >= 22), on Node 24
#   consumers packed tarballs installed with npm into empty projects (tests/consumers)
#   quickstarts  each README's quick start run as written from packed tarballs against the packed server
# Each step prints its own "<step>: N passed, N failed, N skipped (Ns)"; the last line sums them all.
#   npm test                            -> everything
#   npm test -- --runtime node24        -> only one step (repeat the flag, or a comma list, for several)
#   DRIP_RUNTIMES=bun,deno npm test     -> the same through the environment
#   npm test -- --no-checks             -> skip typecheck/lint/knip (the build always runs)
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 NEXT_TELEMETRY_DISABLED=1 WRANGLER_SEND_METRICS=false DENO_NO_UPDATE_CHECK=1

ALL_STEPS=(node24 node20 node22 node26 bun deno workerd ai-sdk7 consumers quickstarts)
selected="${DRIP_RUNTIMES:-}"
checks=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runtime) selected="${selected:+$selected,}${2:?--runtime needs a name}"; shift 2 ;;
    --runtime=*) selected="${selected:+$selected,}${1#--runtime=}"; shift ;;
    --no-checks) checks=0; shift ;;
    --) shift ;; # `pnpm run test:all -- ...` passes the separator on
    *) echo "unknown argument $1 (known: --runtime <${ALL_STEPS[*]}>, --no-checks)" >&2; exit 2 ;;
  esac
done
if [ -n "$selected" ]; then IFS=, read -r -a steps <<<"$selected"; else steps=("${ALL_STEPS[@]}"); fi
for s in "${steps[@]}"; do
  [[ " ${ALL_STEPS[*]} " == *" $s "* ]] || { echo "unknown runtime $s (known: ${ALL_STEPS[*]})" >&2; exit 2; }
done
wants() { [[ " ${steps[*]} " == *" $1 "* ]]; }

bash scripts/system-deps.sh
tools=()
for s in node24 node22 node26 bun deno; do wants "$s" && tools+=("$s"); done
# vitest itself runs on Node 24 for the non-Node runtimes and the consumer fixtures.
if wants bun || wants deno || wants workerd || wants ai-sdk7 || wants consumers || wants quickstarts; then
  tools+=(node24)
fi
# The oldest supported Node is the machine's own when that is Node 20; otherwise it comes from npm too.
machine_node20=0
[[ "$(node --version)" == v20.* ]] && machine_node20=1
wants node20 && [ $machine_node20 = 0 ] && tools+=(node20)
node_of() {
  if [ "$1" = node20 ] && [ $machine_node20 = 1 ]; then command -v node; else echo ".tools/$1/node_modules/.bin/node"; fi
}
[ ${#tools[@]} -gt 0 ] && bash scripts/runtimes.sh "${tools[@]}"

t0=$SECONDS
echo "== build"
pnpm exec turbo run build --output-logs=errors-only
if [ $checks = 1 ]; then
  echo "== typecheck"
  pnpm exec turbo run typecheck --output-logs=errors-only
  echo "== edge typecheck (@drip/core's default entry without Node's types)"
  pnpm exec tsc -p packages/core/tsconfig.edge.json
  echo "== lint"
  pnpm exec biome check .
  echo "== package lint (publint, attw)"
  node scripts/lint-packages.mjs
  echo "== unused files, exports and dependencies (knip)"
  pnpm exec knip --no-progress
fi
echo "build and checks: $((SECONDS - t0))s"

mkdir -p test-results
rm -f test-results/*.json
PGDIR=""
if wants node24 || wants node20; then
  read -r PGPORT PGDIR < <(bash scripts/pg-tmp.sh)
  trap 'bash scripts/pg-tmp.sh stop "$PGDIR"' EXIT
  export DRIP_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:${PGPORT}/postgres"
fi

# The packages' vitest projects, read from their configs (a new package is picked up without an edit here).
package_projects=()
for cfg in packages/*/vitest.config.mts; do
  name=$(sed -n "s/.*name: '\([^']*\)'.*/\1/p" "$cfg" | head -1)
  [ -n "$name" ] && package_projects+=(--project "$name")
done

status=0
summary=()
reports=()
# vitest_step <step> <node binary> [vitest args...]: runs one step's vitest, its report to
# test-results/<step>.json; returns vitest's status.
vitest_step() {
  local step=$1 node=$2; shift 2
  echo "== $step: $("$node" --version 2>/dev/null | head -1) vitest $*"
  "$node" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json \
    --outputFile.json="$PWD/test-results/$step.json" "$@"
}
# step_done <step> <status> <seconds>: records a finished step and prints its line.
step_done() {
  reports+=("test-results/$1.json")
  [ "$2" = 0 ] || status=1
  summary+=("$(node scripts/vitest-summary.mjs "$1" "$3" "test-results/$1.json")")
  echo "${summary[-1]}"
}
# run_vitest <step> <node binary> [vitest args...]: one step, run and recorded.
run_vitest() {
  local start=$SECONDS rc=0
  vitest_step "$@" || rc=1
  step_done "$1" "$rc" "$((SECONDS - start))"
}

# What the node20 step leaves to node24, where it runs in full. Each is the same work on any Node:
# - the server's tests on PostgreSQL (DRIP_TEST_BACKENDS=pglite): the same server code as on PGlite, which
#   node20 runs, against another database; the PostgreSQL-only tests (two instances on one database, query
#   plans) still run, as PostgreSQL is up for them;
# - the dashboard's browser tests: Chromium drives pages the server renders (its routes and pages run on
#   node20 in dashboard-pages and dashboard-csrf);
# - the README type-check: TypeScript's verdict on the README blocks, whatever Node runs it;
# - three server suites that drive the same routes through many requests and wait on timers: the fuzz
#   (random bodies, queries and paths per route), the rate limit (token buckets, Retry-After) and key
#   rotation/revocation rules. They test SQL and route logic, which is the same JavaScript on every Node;
#   what differs between Nodes (the HTTP server and its parser edges, the CLI, the data-directory lock,
#   signals, PGlite's WebAssembly) keeps running on node20 (http-edges, cli, data-dir-lock, api, ...).
# The step then has 90 server tests and 38 README checks fewer than node24 (the PostgreSQL half is the bulk).
# (vitest matches --exclude against each project's own paths, hence the leading **/; each name is unique.)
NODE20_SKIPS=(
  --exclude '**/dashboard.test.ts'
  --exclude '**/dashboard-problems.test.ts'
  --exclude '**/dashboard-tokens-browser.test.ts'
  --exclude '**/readme-snippets.test.ts'
  --exclude '**/fuzz.test.ts'
  --exclude '**/rate-limit.test.ts'
  --exclude '**/key-security.test.ts'
)

# DRIP_TEST_RUNTIMES picks which runtimes tests/runtimes starts: each Node step runs the scenario on itself.
wants node24 && DRIP_TEST_RUNTIMES=node run_vitest node24 "$(node_of node24)"
wants node20 && DRIP_TEST_RUNTIMES=node DRIP_TEST_BACKENDS=pglite run_vitest node20 "$(node_of node20)" "${NODE20_SKIPS[@]}"
for n in node22 node26; do
  wants $n && DRIP_TEST_RUNTIMES=node run_vitest $n "$(node_of $n)" "${package_projects[@]}" --project runtimes
done
for r in bun deno workerd; do
  wants $r && DRIP_TEST_RUNTIMES=$r run_vitest $r "$(node_of node24)" --project runtimes
done
wants ai-sdk7 && run_vitest ai-sdk7 "$(node_of node24)" --root packages/ai --config vitest.node22.config.mts
# consumers and quickstarts spend most of their time in npm installs and a `next build` each, so they run side
# by side (about 2 minutes saved); each one's output is kept and printed whole when both have ended.
packed=()
for s in consumers quickstarts; do wants $s && packed+=("$s"); done
for s in "${packed[@]}"; do
  (
    start=$SECONDS
    rc=0
    vitest_step "$s" "$(node_of node24)" --root "tests/$s" || rc=1
    echo "$rc $((SECONDS - start))" >"test-results/$s.status"
  ) >"test-results/$s.log" 2>&1 &
done
wait
for s in "${packed[@]}"; do
  cat "test-results/$s.log"
  read -r rc secs <"test-results/$s.status" || { rc=1; secs=0; }
  step_done "$s" "$rc" "$secs"
done

echo "== results per runtime"
printf '%s\n' "${summary[@]}"
node scripts/vitest-summary.mjs --total "${reports[@]}"
exit $status
