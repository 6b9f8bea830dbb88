#!/usr/bin/env bash
# rotate-logs: rotate the module log files in the work directory's logs/: every
# NAME.log of at least min_bytes becomes NAME.log.1 (older generations shift up, the
# ones beyond keep are deleted). The modules reopen their log for every line, so they
# continue in a fresh NAME.log. Remediation, medium impact: it deletes old
# generations. A dry run reports what it would do and changes nothing.
. "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
bpcs_init "$@"
bpcs_work_dir

bpcs_uint min_bytes min_bytes 0
bpcs_uint keep keep 3
[ "$keep" -ge 1 ] || bpcs_failure 1 "parameter keep must be at least 1"
dry=false
bpcs_dry_run && dry=true
logs="$BPCS_WORK/logs"
mkdir -p -- "$logs" || bpcs_failure 2 "cannot create $logs"

act() {
  [ "$dry" = true ] && return 0
  "$@" || bpcs_failure 2 "failed: $*"
}

rotated=() removed=0 freed=0
shopt -s nullglob
for log in "$logs"/*.log; do
  [ -f "$log" ] || continue
  size=$(stat -c %s -- "$log")
  [ "$size" -ge "$min_bytes" ] && [ "$size" -gt 0 ] || continue
  # Drop generations at or beyond keep, then shift the rest up by one.
  for old in "$log".*; do
    n=${old##*.}
    [[ $n =~ ^[0-9]+$ ]] || continue
    if [ "$n" -ge "$keep" ]; then
      freed=$((freed + $(stat -c %s -- "$old")))
      removed=$((removed + 1))
      act rm -f -- "$old"
    fi
  done
  for ((n = keep - 1; n >= 1; n--)); do
    [ -e "$log.$n" ] && act mv -f -- "$log.$n" "$log.$((n + 1))"
  done
  act mv -f -- "$log" "$log.1"
  rotated+=("${log##*/}")
done

bpcs_success "$(jq -c -n --arg dir "$logs" --argjson removed "$removed" --argjson freed "$freed" \
  --argjson dry "$dry" --argjson keep "$keep" '$ARGS.positional as $r |
  {logs_dir: $dir, rotated: ($r | length), files: $r, removed: $removed, freed_bytes: $freed,
   keep: $keep, dry_run: $dry}' --args "${rotated[@]}")"
