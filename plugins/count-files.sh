#!/usr/bin/env bash
# count-files: count the files matching a pattern (find -name) under a directory of
# the work directory (logs, quarantine or archives) and fail (business failure,
# exit 3) when there are more than max_count: a verification step. Diagnostic.
. "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
bpcs_init "$@"
bpcs_work_dir

area=$(bpcs_param dir logs)
case $area in
  logs | quarantine | archives) ;;
  *) bpcs_failure 1 "parameter dir must be logs, quarantine or archives" "$(jq -c -n --arg d "$area" '{dir: $d}')" ;;
esac
pattern=$(bpcs_param pattern '*')
bpcs_uint max_count max_count 0
dir="$BPCS_WORK/$area"
mkdir -p -- "$dir" || bpcs_failure 2 "cannot create $dir"
count=$(find "$dir" -type f -name "$pattern" 2>/dev/null | wc -l)
details=$(jq -c -n --arg dir "$dir" --arg pattern "$pattern" --argjson count "$count" --argjson max "$max_count" \
  '{dir: $dir, pattern: $pattern, count: $count, max_count: $max}')
[ "$count" -le "$max_count" ] ||
  bpcs_failure 3 "$count files match $pattern under $area, more than the $max_count allowed" "$details"
bpcs_success "$details"
