#!/usr/bin/env bash
# Compare `rune validate` with check-jsonschema (the tool a user would pick today to
# check YAML files against a JSON Schema) on the same generated catalogs.
#
#   scripts/bench-validate.sh [SIZES...]     default: 1000 10000
#
# Installs hyperfine (Debian) and check-jsonschema (PyPI) when missing. Prints
# medians; check-jsonschema checks the JSON Schema only, rune also runs every
# semantic check, so the comparison favours the peer.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ $# -eq 0 ] && sizes=(1000 10000)

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
command -v check-jsonschema >/dev/null || pip install -q check-jsonschema
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }

cargo build --release --quiet
cargo bench --bench validate --no-run --quiet 2>/dev/null
bench_bin=$(ls -t target/release/deps/validate-* | grep -v '\.d$' | head -1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-8s %10s %12s %14s %10s %8s\n' modules size rune_median peer_median ratio rune_rss
for n in "${sizes[@]}"; do
  dir="$work/c$n"
  RUNE_BENCH_GENERATE="$dir:$n" "$bench_bin" 2>/dev/null
  ./target/release/rune validate "$dir" >/dev/null 2>&1 || { echo "generated catalog of $n modules is not valid" >&2; exit 1; }
  size=$(du -sh "$dir" | cut -f1)
  hyperfine -N --warmup 1 --runs 5 --export-json "$work/rune$n.json" "./target/release/rune validate $dir" >/dev/null 2>&1
  rune=$(python3 -c "import json;print(json.load(open('$work/rune$n.json'))['results'][0]['median'])")
  runs=3; [ "$n" -gt 2000 ] && runs=1
  hyperfine -N --runs "$runs" --export-json "$work/peer$n.json" \
    "check-jsonschema --schemafile schemas/catalog.schema.json $(ls "$dir"/*.yaml | tr '\n' ' ')" >/dev/null 2>&1
  peer=$(python3 -c "import json;print(json.load(open('$work/peer$n.json'))['results'][0]['median'])")
  /usr/bin/time -f '%M' -o "$work/rss" ./target/release/rune validate "$dir" >/dev/null 2>&1
  rss=$(tail -1 "$work/rss")
  python3 -c "print(f'{$n:<8} {\"$size\":>10} {$rune:>11.3f}s {$peer:>13.3f}s {$peer/$rune:>9.1f}x {int($rss)/1024:>6.0f}MiB')"
done
