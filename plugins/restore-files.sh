#!/usr/bin/env bash
# restore-files: put a quarantine batch (quarantine-files) back into the work
# directory's logs/ and remove the emptied batch directory. A file that was written
# again meanwhile (a module reopens its log for every line) keeps both: the
# quarantined lines first, then the new ones. Remediation, low impact.
. "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
bpcs_init "$@"
bpcs_work_dir

batch=$(bpcs_param batch '')
[[ $batch =~ ^batch-[0-9A-Za-z-]+$ ]] || bpcs_failure 1 "parameter batch must name a quarantine batch (batch-...)" \
  "$(jq -c -n --arg b "$batch" '{batch: $b}')"
dir="$BPCS_WORK/quarantine/$batch"
[ -d "$dir" ] || bpcs_failure 2 "no such quarantine batch: $batch" "$(jq -c -n --arg d "$dir" '{dir: $d}')"
logs="$BPCS_WORK/logs"
mkdir -p -- "$logs" || bpcs_failure 2 "cannot create $logs"

restored=() merged=0
while IFS= read -r -d '' file; do
  name=${file##*/}
  target="$logs/$name"
  if [ -e "$target" ]; then
    tmp=$(mktemp "$logs/.restore.XXXXXX") || bpcs_failure 2 "cannot write in $logs"
    cat -- "$file" "$target" >"$tmp" && mv -f -- "$tmp" "$target" && rm -f -- "$file" ||
      bpcs_failure 2 "cannot merge $name back into $logs"
    merged=$((merged + 1))
  else
    mv -- "$file" "$target" || bpcs_failure 2 "cannot move $name back into $logs"
  fi
  restored+=("$name")
done < <(find "$dir" -maxdepth 1 -type f -print0 | sort -z)
rmdir -- "$dir" 2>/dev/null || bpcs_failure 2 "the batch directory $dir is not empty after the restore"

bpcs_success "$(jq -c -n --arg batch "$batch" --arg to "$logs" --argjson merged "$merged" '$ARGS.positional as $r |
  {batch: $batch, to: $to, restored: ($r | length), files: $r, merged: $merged}' --args "${restored[@]}")"
