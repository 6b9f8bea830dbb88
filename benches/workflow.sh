#!/usr/bin/env bash
# Benchmark (issue 10): a workflow of STEPS no-op plugin steps against `make -j2`.
#
# Generates, in DIR, a one-action catalog whose plugin is a no-op /bin/sh script
# (it reads its request and prints one success object), a workflow `bench` of
# STEPS steps in 10 layers (each step of a layer needs 1-3 steps of the layer
# before, chosen by a seeded generator), and a Makefile with the same DAG whose
# recipes run the same plugin on a captured request. Then compare, e.g.:
#
#   cargo build --release
#   benches/workflow.sh DIR 1000          # generate (STEPS defaults to 1000)
#   target/release/rune apply --catalog DIR/catalog.yaml --workflow bench --parallelism 2
#   make -j2 -s -f DIR/Makefile
#
# `rune apply` includes everything: catalog load, validation, planning (policy for
# every step), startup, the run, the report. See benches/README.md for figures.
#
# OUTPUT_BYTES=N (environment; default 0) makes the plugin print an output object
# of about N bytes ({"blob": "xxx..."}) instead of an empty one: the shape for
# checking that apply's memory does not hold every step's output, e.g.
#
#   OUTPUT_BYTES=50000 benches/workflow.sh DIR 5000
set -euo pipefail

dir=${1:?usage: benches/workflow.sh DIR [STEPS] [SEED]}
steps=${2:-1000}
seed=${3:-10}
layers=10
width=$((steps / layers))
[ "$width" -ge 1 ] || { echo "STEPS must be at least $layers" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

output_bytes=${OUTPUT_BYTES:-0}
if [ "$output_bytes" -gt 0 ]; then
  # The answer, written once beside the plugin, which copies it out.
  blob=$(head -c "$output_bytes" /dev/zero | tr '\0' x)
  printf '{"payload":{"result":"success","output_data":{"blob":"%s"}},"error":null}\n' "$blob" \
    >"$dir/answer.json"
  cat >"$dir/noop.sh" <<'PLUGIN'
#!/bin/sh
# A no-op BPCS plugin with a big output: read the request, answer answer.json.
cat >/dev/null
cat "$(dirname "$0")/answer.json"
PLUGIN
else
  cat >"$dir/noop.sh" <<'PLUGIN'
#!/bin/sh
# A no-op BPCS plugin: read the request, answer success.
cat >/dev/null
printf '%s\n' '{"payload":{"result":"success","output_data":{}},"error":null}'
PLUGIN
fi
chmod +x "$dir/noop.sh"

{
  cat <<'CATALOG'
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
workflows:
  bench:
    description: Layers of no-op steps
    steps:
CATALOG
} >"$dir/catalog.yaml"

# The DAG, once, for both: "id need need ..." per line.
RANDOM=$seed
: >"$dir/dag.txt"
for ((l = 0; l < layers; l++)); do
  for ((i = 0; i < width; i++)); do
    line="s${l}_$i"
    if [ "$l" -gt 0 ]; then
      n=$((1 + RANDOM % 3))
      picked=" "
      for ((k = 0; k < n; k++)); do
        j=$((RANDOM % width))
        case $picked in *" $j "*) continue ;; esac
        picked="$picked$j "
        line="$line s$((l - 1))_$j"
      done
    fi
    echo "$line" >>"$dir/dag.txt"
  done
done

# One request as rune would write it (the plugin ignores it, but reads it all).
cat >"$dir/request.json" <<'REQUEST'
{"message_metadata":{"version":"1.0","message_id":"00000000-0000-4000-8000-000000000001","correlation_id":"00000000-0000-4000-8000-000000000000","parent_message_id":null,"created_at":"2026-01-01T00:00:00Z"},"payload":{"input_parameters":{},"context":{"node":"localhost","action":"noop","module":"bench","step":1,"attempt":1,"timeout_ms":30000,"requested_by":"bench","dry_run":false}},"observability":{"trace_id":"00000000000000000000000000000001","span_id":"0000000000000001"}}
REQUEST

awk '{
  printf "      - { id: %s, action: noop", $1
  if (NF > 1) { printf ", needs: ["; for (i = 2; i <= NF; i++) printf "%s%s", (i > 2 ? ", " : ""), $i; printf "]" }
  print " }"
}' "$dir/dag.txt" >>"$dir/catalog.yaml"

{
  echo ".PHONY: all $(awk '{printf "%s ", $1}' "$dir/dag.txt")"
  echo "all: $(awk '{printf "%s ", $1}' "$dir/dag.txt")"
  awk -v d="$dir" '{
    printf "%s:", $1; for (i = 2; i <= NF; i++) printf " %s", $i; print ""
    printf "\t@%s/noop.sh < %s/request.json > /dev/null\n", d, d
  }' "$dir/dag.txt"
} >"$dir/Makefile"
echo "generated $dir: $(wc -l <"$dir/dag.txt") steps in $layers layers"
