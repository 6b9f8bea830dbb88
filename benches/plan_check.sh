#!/usr/bin/env bash
# Benchmark: `rune plan --check GOLDEN` on a large catalog costs one plan plus a
# linear compare. Times, on the release binary:
#
#   a) `rune plan DIR --format json` (the plan alone, printed) against
#      `rune plan DIR --check GOLDEN` with no drift (plan, read the golden file,
#      compare), paired run by run;
#   b) the same check with drift (one timeout changed in a copy of the catalog);
#   c) `rune diff GOLDEN GOLDEN` (read two plans, compare; the catalog is loaded
#      only to place changes, and there are none).
#
#   cargo build --release && benches/plan_check.sh [CATALOG_DIR]
#
# Without CATALOG_DIR it writes deps100k (100,000 modules, ~300,000 edges, 100
# files) with the scale benchmark's generator (a built `scale` bench binary, debug
# or release). Uses farm-bench when installed (median of N, min-max, peak memory),
# else bash's time. N runs each (default 5).
set -euo pipefail

RUNE=${RUNE:-target/release/rune}
N=${N:-5}
RUNE=$(cd "$(dirname "$RUNE")" && pwd)/$(basename "$RUNE")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

catalog=${1:-}
if [ -z "$catalog" ]; then
  gen=$(ls -t target/release/deps/scale-* target/debug/deps/scale-* 2>/dev/null | grep -v '\.d$' | head -n 1 || true)
  if [ -z "$gen" ]; then
    echo "build the scale bench first (cargo bench --bench scale --no-run) or pass a catalog directory" >&2
    exit 2
  fi
  RUNE_BENCH_GENERATE="$dir/gen" "$gen" >/dev/null
  catalog=$dir/gen/deps100k
fi
at=2026-01-05T10:00:00Z
golden=$dir/golden.json
"$RUNE" plan "$catalog" --at "$at" --out "$golden" >/dev/null 2>&1
echo "catalog: $catalog ($(du -sh "$catalog" | cut -f1)); golden plan: $(du -h "$golden" | cut -f1)"

# A drifted copy: one module's ready timeout changed.
cp -R "$catalog" "$dir/drifted"
first=$(ls "$dir/drifted" | head -n 1)
if grep -q 'ready_ms: ' "$dir/drifted/$first"; then
  sed -i '0,/ready_ms: [0-9]*/s//ready_ms: 4321/' "$dir/drifted/$first"
else
  sed -i '0,/^      runtime: builtin$/s//      runtime: builtin\n      timeouts: { ready_ms: 4321 }/' "$dir/drifted/$first"
fi

run() {
  local what=$1; shift
  echo "== $what"
  if command -v farm-bench >/dev/null 2>&1; then
    farm-bench -n "$N" --timeout 900 "$@"
  else
    for _ in $(seq "$N"); do /usr/bin/env time -f '%e s %M KiB' "${@:2}" >/dev/null 2>&1 || true; done
  fi
}

if command -v farm-bench >/dev/null 2>&1; then
  run "plan --check (no drift) vs plan --format json" \
    --vs "sh -c 'exec $RUNE plan $catalog --at $at --format json >/dev/null'" \
    -- sh -c "exec $RUNE plan $catalog --check $golden >/dev/null"
  run "plan --check (one timeout drifted; exit 1)" \
    -- sh -c "$RUNE plan $dir/drifted --check $golden >/dev/null; test \$? = 1"
  run "diff GOLDEN GOLDEN" -- sh -c "exec $RUNE diff $golden $golden >/dev/null"
else
  run "plan --format json" -- "$RUNE" plan "$catalog" --at "$at" --format json
  run "plan --check" -- "$RUNE" plan "$catalog" --check "$golden"
  run "diff" -- "$RUNE" diff "$golden" "$golden"
fi
