#!/usr/bin/env bash
# quarantine-files: move the files of the work directory's logs/ whose names match a
# pattern (find -name) into a batch directory of their own under quarantine/, so
# they can be inspected, deleted later, or put back (restore-files, the workflow's
# compensation). Remediation, low impact: nothing is deleted, and the batch name in
# the output is all restore-files needs. A dry run reports what it would move.
. "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
bpcs_init "$@"
bpcs_work_dir

pattern=$(bpcs_param pattern '*.log.*')
bpcs_uint max_files max_files 1000
dry=false
bpcs_dry_run && dry=true
logs="$BPCS_WORK/logs"
mkdir -p -- "$logs" || bpcs_failure 2 "cannot create $logs"
batch="batch-$(date -u +%Y%m%dT%H%M%SZ)-$$"
dir="$BPCS_WORK/quarantine/$batch"
[ "$dry" = true ] || mkdir -p -- "$dir" || bpcs_failure 2 "cannot create $dir"

moved=() bytes=0
while IFS= read -r -d '' file; do
  [ "${#moved[@]}" -lt "$max_files" ] || break
  name=${file##*/}
  bytes=$((bytes + $(stat -c %s -- "$file")))
  if [ "$dry" = false ]; then
    mv -- "$file" "$dir/$name" || bpcs_failure 2 "cannot move $name into $dir" \
      "$(jq -c -n --arg b "$batch" '{batch: $b}')"
  fi
  moved+=("$name")
done < <(find "$logs" -maxdepth 1 -type f -name "$pattern" -print0 2>/dev/null | sort -z)

bpcs_success "$(jq -c -n --arg batch "$batch" --arg dir "$dir" --arg from "$logs" --arg pattern "$pattern" \
  --argjson bytes "$bytes" --argjson dry "$dry" '$ARGS.positional as $m |
  {batch: $batch, dir: $dir, from: $from, pattern: $pattern, moved: ($m | length), files: $m,
   bytes: $bytes, dry_run: $dry}' --args "${moved[@]}")"
