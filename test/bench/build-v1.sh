#!/bin/sh
# Builds sync protocol v1 (commit 4aac33c, the last before v2) outside the checkout, as the
# baseline of `npm run bench`'s protocol section (docs/bench.md):
#
#   test/bench/build-v1.sh [DIR]       (default: a new temp dir)
#   HAMSYNC_BENCH_V1=DIR npm run bench
#
# DIR must be new or empty; it gets the commit's files (git archive: no worktree, no .git),
# its locked dependencies (npm ci) and its build (dist/). Prints DIR last.
set -eu
commit=4aac33c
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
dest=${1:-$(mktemp -d "${TMPDIR:-/tmp}/hamsync-v1.XXXXXX")}
if [ -e "$dest/dist/src/cli/main.js" ]; then
  echo "build-v1: $dest is built already" >&2
  echo "$dest"
  exit 0
fi
mkdir -p "$dest"
if [ -n "$(ls -A "$dest")" ]; then
  echo "build-v1: $dest is not empty; give a new or empty directory" >&2
  exit 1
fi
git -C "$repo" archive --format=tar "$commit" | tar -x -C "$dest"
cd "$dest"
npm ci --no-audit --no-fund >&2
npx tsc -p tsconfig.json >&2
echo "$dest"
