#!/usr/bin/env bash
# purge-archives: delete the collected log archives in the work directory's
# archives/ (all of them, or those older than older_than_minutes). Remediation, high
# impact: the evidence collect-logs gathered is gone for good, so policy asks for
# break glass. A dry run reports what it would delete and deletes nothing.
. "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
bpcs_init "$@"
bpcs_work_dir

bpcs_uint older older_than_minutes 0
dry=false
bpcs_dry_run && dry=true
archives="$BPCS_WORK/archives"

removed=0 freed=0 kept=0
if [ -d "$archives" ]; then
  cutoff=$(($(date +%s) - older * 60))
  shopt -s nullglob
  for archive in "$archives"/logs-*.tar.gz; do
    [ -f "$archive" ] || continue
    read -r size mtime < <(stat -c '%s %Y' -- "$archive")
    if [ "$older" -gt 0 ] && [ "$mtime" -gt "$cutoff" ]; then
      kept=$((kept + 1))
      continue
    fi
    if [ "$dry" = false ]; then
      rm -f -- "$archive" || bpcs_failure 2 "cannot delete $archive"
    fi
    removed=$((removed + 1))
    freed=$((freed + size))
  done
fi

bpcs_success "$(jq -c -n --arg dir "$archives" --argjson removed "$removed" --argjson kept "$kept" \
  --argjson freed "$freed" --argjson dry "$dry" \
  '{archives_dir: $dir, removed: $removed, kept: $kept, freed_bytes: $freed, dry_run: $dry}')"
