#!/usr/bin/env bash
# Benchmark: the supervisor's budgets on the release binary.
#
#   a) rune's CPU (user + sys) while its one plugin hangs for 10 s (budget < 20 ms
#      above start-up; start-up is measured with a plugin that answers at once);
#   b) threads per running plugin: rune's thread count while K plugins run at once,
#      K = 1 and K = 4 (budget <= 2 per plugin).
#
#   cargo build --release && benches/supervisor.sh
#   RUNE=path/to/rune N=5 benches/supervisor.sh
set -euo pipefail

RUNE=${RUNE:-target/release/rune}
N=${N:-5}
RUNE=$(cd "$(dirname "$RUNE")" && pwd)/$(basename "$RUNE")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cat >"$dir/wait.sh" <<'PLUGIN'
#!/bin/sh
# Reads its request, waits SECONDS (the first argument), answers.
cat >/dev/null
sleep "$1"
printf '%s\n' '{"payload":{"result":"success","output_data":{}},"error":null}'
PLUGIN
chmod +x "$dir/wait.sh"

{
  cat <<'CATALOG'
catalog_version: "1"
modules:
  - module_identity: { module_name: bench, module_class: Bench, module_type: plugin_host, module_version: 1.0.0, description: Waiting plugins }
    capability_declaration:
      actions:
        - { action: hang10, description: Waits 10 s, category: diagnostic, impact: low, exec: ["./wait.sh", "10"], timeout_ms: 60000 }
        - { action: now, description: Answers at once, category: diagnostic, impact: low, exec: ["./wait.sh", "0"] }
        - { action: wait3, description: Waits 3 s, category: diagnostic, impact: low, exec: ["./wait.sh", "3"], timeout_ms: 60000 }
workflows:
  one:
    description: One waiting plugin
    steps:
      - { id: a, action: wait3 }
  four:
    description: Four waiting plugins at once
    steps:
      - { id: a, action: wait3 }
      - { id: b, action: wait3 }
      - { id: c, action: wait3 }
      - { id: d, action: wait3 }
CATALOG
} >"$dir/catalog.yaml"


sample() { # PID -> "tid ns" per thread, ns being its time on a CPU so far
  for t in /proc/"$1"/task/*; do
    echo "${t##*/} $(cut -d' ' -f1 "$t/schedstat" 2>/dev/null || echo 0)"
  done
}

waiting_cpu_us() { # ACTION FROM TO -> rune's own CPU between FROM and TO seconds, in us
  # Every thread's time on a CPU (/proc/PID/task/*/schedstat, in ns), sampled twice
  # in the same run: precise, unlike /proc/PID/stat's 10 ms ticks, and rune's alone
  # (its children are not counted).
  local pid
  "$RUNE" run "$1" --catalog "$dir/catalog.yaml" >/dev/null 2>&1 &
  pid=$!
  sleep "$2"
  sample "$pid" >"$dir/before"
  sleep "$(echo "$3 - $2" | bc)"
  sample "$pid" >"$dir/after"
  wait "$pid"
  awk 'NR == FNR { b[$1] = $2; next } { s += $2 - ($1 in b ? b[$1] : 0) } END { print int(s / 1000) }' \
    "$dir/before" "$dir/after"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "a) rune's own CPU while its plugin hangs, 0.3 s to 9.8 s after start (us), median of $N:"
echo "   $(for _ in $(seq "$N"); do waiting_cpu_us hang10 0.3 9.8; done | tee "$dir/runs" | median) us (runs: $(tr '\n' ' ' <"$dir/runs"))"
echo "   start-up and one answered request, for scale: rune run of an answering plugin"
/usr/bin/time -f '   %e s wall, %U s user, %S s sys (plugin included)' "$RUNE" run now --catalog "$dir/catalog.yaml" >/dev/null

threads_while() { # WORKFLOW -> rune's threads 1.5 s in (its plugins wait 3 s)
  local pid n
  "$RUNE" apply --workflow "$1" --catalog "$dir/catalog.yaml" --parallelism 4 >/dev/null 2>&1 &
  pid=$!
  sleep 1.5
  n=$(ls "/proc/$pid/task" | wc -l)
  wait "$pid" || true
  echo "$n"
}

one=$(threads_while one)
four=$(threads_while four)
echo "b) threads while 1 plugin runs: $one; while 4 run: $four; per plugin: $(( (four - one) / 3 ))"
