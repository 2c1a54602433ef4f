#!/usr/bin/env bash
# The shared outcome suite (tests/outcome-suite) for @drip/hono on Bun and Deno, in process and over each
# runtime's own server (workerd runs in the hono vitest project: packages/hono/test/outcome-workerd.test.ts).
# Installs the runtimes into .tools/ when missing (scripts/runtimes.sh) and needs @drip/core built.
#   bash scripts/outcome-runtimes.sh          -> bun and deno
#   bash scripts/outcome-runtimes.sh bun      -> one
set -euo pipefail
cd "$(dirname "$0")/.."
want=("$@")
[ ${#want[@]} -eq 0 ] && want=(bun deno)
bash scripts/runtimes.sh "${want[@]}"
entry=packages/hono/test/outcome-runtimes.ts
status=0
for name in "${want[@]}"; do
  case "$name" in
    bun) (cd packages/hono && ../../.tools/bun/node_modules/.bin/bun run "test/outcome-runtimes.ts") || status=1 ;;
    deno) (cd packages/hono && ../../.tools/deno/node_modules/.bin/deno run --sloppy-imports --allow-net --allow-env --allow-read --allow-sys "test/outcome-runtimes.ts") || status=1 ;;
    *) echo "unknown runtime $name (bun, deno)"; exit 2 ;;
  esac
done
[ -f "$entry" ] || exit 2
exit $status
