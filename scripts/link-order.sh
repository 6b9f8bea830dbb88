#!/usr/bin/env bash
# Regenerate link/rune.order: the functions rune runs for its common commands,
# which build.rs asks the linker to place first and together in the release
# binary (see link/README.md for why and when).
#
#   scripts/link-order.sh            # needs perf, valgrind, jq and python3
#
# What it records, all on the release build:
#   - exactly, with callgrind: `run --dry-run`, `validate`, `plan`, `--version`,
#     `--help` (valgrind has no pidfd_open, so no command that starts a child);
#   - by sampling stacks with perf: real `rune run` of a no-op plugin and a small
#     `rune apply` workflow (what callgrind cannot run).
# Then it writes one mangled symbol per line: what `rune run` needs first (its
# budget is start-up bound), then validate, plan and apply.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in perf valgrind jq python3; do
  command -v "$tool" >/dev/null || { echo "link-order: $tool is required" >&2; exit 2; }
done

# The profiling builds leave the order out (RUNE_LINK_ORDER=0): names do not
# depend on it, and the rounds below link with their own.
export RUNE_LINK_ORDER=0
cargo build --release --quiet
bin=$(pwd)/target/release/rune
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

benches/run_overhead.sh --keep "$work/run" >/dev/null
benches/workflow.sh "$work/wf" 40 >/dev/null

# Callgrind: every function executed, by name as in the symbol table.
grind() { # name, then the command's arguments
  local name=$1
  shift
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/$name.cg" \
    "$bin" "$@" >/dev/null 2>&1 || true
}
(cd "$work/run" && grind dry run noop --catalog catalog.yaml --dry-run)
grind version --version
grind help --help
grind validate validate catalogs
grind plan plan --catalog catalogs

# perf: functions on sampled stacks (each sample names its whole call chain).
sample() { # name, runs, then the command's arguments
  local name=$1 runs=$2
  shift 2
  perf record -q --call-graph dwarf,16384 -F 20000 -o "$work/$name.perf" -- \
    bash -c 'for ((i = 0; i < $0; i++)); do "$@" >/dev/null 2>&1 || true; done' \
    "$runs" "$bin" "$@" 2>/dev/null
  perf script -i "$work/$name.perf" --no-demangle -F ip,sym,dso 2>/dev/null \
    | awk -v bin="($bin)" '$NF == bin { print $2 }' >"$work/$name.syms"
}
(cd "$work/run" && sample run 150 run noop --catalog catalog.yaml)
(cd "$work/wf" && sample apply 3 apply --catalog catalog.yaml --workflow bench --parallelism 2)

python3 - "$work" "$bin" >"$work/order" <<'PY'
import re, subprocess, sys
work, binary = sys.argv[1], sys.argv[2]

def grind(name):
    """Functions of the rune binary in a callgrind profile."""
    obs, fns, cur, out = {}, {}, None, []
    for line in open(f"{work}/{name}.cg", errors="replace"):
        m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            kind, key, text = m.groups()
            if text:
                obs[key] = text
            if kind == "ob":
                cur = key
            continue
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            kind, key, text = m.groups()
            if text:
                fns[key] = text
            if kind == "fn" and obs.get(cur, "") == binary:
                out.append(fns[key])
    return out

def sampled(name):
    return [l.strip() for l in open(f"{work}/{name}.syms") if l.strip()]

# Only names the symbol table has (a stale or inlined name would only be noise).
symtab = set()
for line in subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        symtab.add(parts[2])

seen = set()
# "--" marks where `rune run`'s part ends: the rounds below add to that part.
for group in (sampled("run"), grind("dry"), ["--"], grind("version"), grind("help"),
              grind("validate"), grind("plan"), sampled("apply")):
    for name in group:
        if name == "--" or (name in symtab and name not in seen):
            seen.add(name)
            print(name)
PY

# Rounds: link with the order so far, run `rune run` and move every function it
# still faults in from outside the first part into that part, until none is left
# (sampled stacks miss small functions; a fault names exactly the one it needed).
for round in 1 2 3 4 5 6 7 8; do
  grep -vx -- -- "$work/order" >"$work/order.flat"
  cargo rustc --release --quiet --bin rune -- \
    -C link-arg=-Wl,--symbol-ordering-file="$work/order.flat" \
    -C link-arg=-Wl,--no-warn-symbol-ordering
  (cd "$work/run" && for i in 1 2 3; do
    perf record -q -e page-faults -c 1 -d --no-inherit -o "$work/faults.$i" \
      "$bin" run noop --catalog catalog.yaml >/dev/null 2>&1
  done)
  for i in 1 2 3; do
    # Fields: address, its symbol, (its file), instruction, symbol, (file). An
    # instruction fetch that faulted has the instruction's own address.
    perf script -i "$work/faults.$i" --no-demangle -F ip,addr,sym,dso 2>/dev/null \
      | awk -v bin="($bin)" '$1 == $4 && $3 == bin { print $2 }'
  done | sort -u >"$work/faulted"
  added=$(python3 - "$work/order" "$work/faulted" <<'PY'
import sys
order = [l.rstrip("\n") for l in open(sys.argv[1])]
cut = order.index("--")
first = set(order[:cut])
new = [n for n in (l.strip() for l in open(sys.argv[2])) if n and n not in first]
rest = [n for n in order[cut:] if n not in new]
open(sys.argv[1], "w").write("\n".join(order[:cut] + new + rest) + "\n")
print(len(new))
PY
)
  echo "link-order: round $round: $added more functions for rune run" >&2
  [ "$added" = 0 ] && break
done

grep -vx -- -- "$work/order" >link/rune.order
unset RUNE_LINK_ORDER
cargo build --release --quiet
echo "link/rune.order: $(wc -l <link/rune.order) functions" >&2
