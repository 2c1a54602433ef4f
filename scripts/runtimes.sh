#!/usr/bin/env bash
# Installs the other runtimes the test matrix uses from the npm registry (no system install) into
# .tools/<name>/, once; later runs reuse them. Prints nothing when everything is already there.
#   bash scripts/runtimes.sh            -> all of them but node20 (the test command uses the machine's
#                                          Node for it when that is Node 20)
#   bash scripts/runtimes.sh node24     -> one
# Binaries: .tools/node22/node_modules/.bin/node, .tools/node24/..., .tools/node26/...,
#           .tools/bun/node_modules/.bin/bun, .tools/deno/node_modules/.bin/deno
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A PKG=(
  [node20]="node@20.20.2"
  [node22]="node@22.23.3"
  [node24]="node@24.21.0"
  [node26]="node@26.10.0"
  [bun]="bun@1.4.5"
  [deno]="deno@2.9.6"
)
declare -A BIN=([node20]=node [node22]=node [node24]=node [node26]=node [bun]=bun [deno]=deno)
want=("$@")
[ ${#want[@]} -eq 0 ] && want=(node24 node22 node26 bun deno)
for name in "${want[@]}"; do
  spec=${PKG[$name]:?unknown runtime $name}
  dir=.tools/$name
  bin=$dir/node_modules/.bin/${BIN[$name]}
  if [ -x "$bin" ] && [ "$(cat "$dir/.spec" 2>/dev/null)" = "$spec" ]; then continue; fi
  echo "Installing $spec into $dir"
  rm -rf "$dir"; mkdir -p "$dir"
  echo '{"private":true}' > "$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$spec" >/dev/null
  "$bin" --version >/dev/null
  echo "$spec" > "$dir/.spec"
done
