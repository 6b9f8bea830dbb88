#!/usr/bin/env bash
# Benchmark (a): what `rune run` adds to one BPCS plugin request.
#
# Generates, in a temporary directory, a one-action catalog whose plugin is a
# no-op /bin/sh script (it reads its request and prints one success object), and
# captures the exact request rune writes to it (from rune's journal). Then it
# times N runs of
#   A: rune run noop --catalog DIR/catalog.yaml          (start-up, catalog load,
#      validation, policy, spawn, parse, report: everything)
#   B: DIR/noop.sh < DIR/request.json                     (the plugin alone, same stdin)
# and prints the mean wall time of each and the difference per request.
#
#   cargo build --release && benches/run_overhead.sh          # N=200 by default
#   RUNE=path/to/rune N=500 benches/run_overhead.sh
#   PAIRED=1 N=300 benches/run_overhead.sh   # paired runs, medians (needs python3)
#   benches/run_overhead.sh --keep DIR   # leave the files in DIR, e.g. for hyperfine:
#   hyperfine -N --warmup 5 "target/release/rune run noop --catalog DIR/catalog.yaml" \
#             "sh -c 'exec DIR/noop.sh < DIR/request.json'"
set -euo pipefail

RUNE=${RUNE:-target/release/rune}
# Absolute: the paired runs start it from the benchmark's directory.
[[ "$RUNE" == */* ]] && RUNE=$(cd "$(dirname "$RUNE")" && pwd)/$(basename "$RUNE")
N=${N:-200}
if [[ "${1:-}" == "--keep" ]]; then
  dir=${2:?--keep needs a directory}
  mkdir -p "$dir"
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
dir=$(cd "$dir" && pwd)

cat >"$dir/noop.sh" <<'PLUGIN'
#!/bin/sh
# A no-op BPCS plugin: read the request, answer success.
cat >/dev/null
printf '%s\n' '{"payload":{"result":"success","output_data":{}},"error":null}'
PLUGIN
chmod +x "$dir/noop.sh"

cat >"$dir/catalog.yaml" <<'CATALOG'
catalog_version: "1"
modules:
  - module_identity:
      module_name: bench
      module_class: Bench
      module_type: plugin_host
      module_version: 1.0.0
      description: One no-op action
    capability_declaration:
      actions:
        - action: noop
          description: Does nothing
          category: diagnostic
          impact: low
          exec: ["./noop.sh"]
    lifecycle:
      runtime: none
CATALOG

rm -f "$dir/journal.jsonl"
"$RUNE" run noop --catalog "$dir/catalog.yaml" --journal "$dir/journal.jsonl" >/dev/null
jq -c 'select(.event == "message" and .direction == "request") | .message' \
  "$dir/journal.jsonl" >"$dir/request.json"

now() { date +%s%N; }
time_loop() { # name, then the command as words
  local name=$1 start end
  shift
  "$@" >/dev/null 2>&1 # warm-up
  start=$(now)
  for ((i = 0; i < N; i++)); do "$@" >/dev/null 2>&1; done
  end=$(now)
  echo $(((end - start) / N / 1000))
}
plugin() { "$dir/noop.sh" <"$dir/request.json"; }
rune_run() { "$RUNE" run noop --catalog "$dir/catalog.yaml"; }

if [[ "${PAIRED:-0}" == 1 ]]; then
  # Paired: the two commands in turn, N times each, from one Python process (no
  # `date` per run); prints the medians and the median of the per-pair differences,
  # which holds when the machine's speed drifts during the call.
  exec python3 - "$RUNE" "$dir" "$N" <<'PY'
import os, statistics, subprocess, sys, time
rune, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
request = open(os.path.join(d, "request.json"), "rb").read()
def timed(argv, stdin=None):
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
    return time.perf_counter() - start
a = [rune, "run", "noop", "--catalog", os.path.join(d, "catalog.yaml")]
b = [os.path.join(d, "noop.sh")]
for _ in range(5):
    timed(a); timed(b, request)
ra, rb = [], []
for _ in range(n):
    ra.append(timed(a)); rb.append(timed(b, request))
diff = [x - y for x, y in zip(ra, rb)]
q = statistics.quantiles(diff, n=4)
print(f"runs: {n} pairs")
print(f"plugin alone: {statistics.median(rb) * 1e3:.2f} ms (median)")
print(f"rune run:     {statistics.median(ra) * 1e3:.2f} ms (median)")
print(f"rune adds:    {statistics.median(diff) * 1e3:.2f} ms (median of pairs; quartiles {q[0] * 1e3:.2f}-{q[2] * 1e3:.2f})")
PY
fi

direct_us=$(time_loop direct plugin)
rune_us=$(time_loop rune rune_run)
printf 'runs: %d each\n' "$N"
printf 'plugin alone:  %6d us per request\n' "$direct_us"
printf 'rune run:      %6d us per request\n' "$rune_us"
printf 'rune adds:     %6d us per request\n' "$((rune_us - direct_us))"
