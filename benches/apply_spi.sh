#!/usr/bin/env bash
# Benchmark (c): SPI round trips per second to one module process.
#
# Starts one module process (apply_min_module.sh by default, or MODULE with
# its arguments), opens it as rune does (describe, initialize with a token), then
# times ROUNDS sequential `health` requests, each written as one JSON line on the
# module's stdin and its answer read as one line from its stdout before the next
# is sent (what rune's SPI client does: one request in flight per module). The
# harness is bash builtins only (no process per round trip), so the figure is the
# protocol's rate to a shell module over pipes: the bound any SPI client, rune's
# included, sees against that module.
#
#   benches/apply_spi.sh                      # ROUNDS=20000
#   ROUNDS=50000 benches/apply_spi.sh
#   MODULE="tests/fixtures/modules/spi-module.sh ok bench 1.0.0" benches/apply_spi.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-20000}
read -r -a module <<<"${MODULE:-$here/apply_min_module.sh bench 1.0.0}"

coproc spi { exec "${module[@]}" 2>/dev/null; }
out=${spi[0]}
in=${spi[1]}
pid=$spi_PID
id=0
call() { # METHOD PARAMS -> $reply
  id=$((id + 1))
  printf '{"id":%d,"jsonrpc":"2.0","method":"%s","params":%s}\n' "$id" "$1" "$2" >&"$in"
  IFS= read -r reply <&"$out"
}
call describe '{}'
[[ $reply == *'"module_name"'* ]] || { echo "describe failed: $reply" >&2; exit 1; }
call initialize '{"config":{},"spi_version":"1","token":"0123456789abcdef0123456789abcdef"}'
[[ $reply == *0123456789abcdef0123456789abcdef* ]] || { echo "initialize failed: $reply" >&2; exit 1; }

start=$(date +%s%N)
for ((r = 0; r < ROUNDS; r++)); do
  call health '{}'
done
end=$(date +%s%N)
[[ $reply == *'"id":'$id,* && $reply == *'"status":"ready"'* ]] || { echo "bad last answer: $reply" >&2; exit 1; }
call shutdown '{}'
wait "$pid" 2>/dev/null || true

ns=$((end - start))
printf 'round trips: %d in %d ms: %d per second, %d us each\n' \
  "$ROUNDS" $((ns / 1000000)) $((ROUNDS * 1000000000 / ns)) $((ns / ROUNDS / 1000))
