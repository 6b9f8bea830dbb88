#!/usr/bin/env bash
# collect-logs: gather the readable log files under a directory into a compressed
# tar archive in the work directory's archives/. Diagnostic: reads the logs, writes
# only its own archive.
. "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
bpcs_init "$@"
bpcs_work_dir

source=$(bpcs_param source "$BPCS_WORK/logs")
# The default is our own work directory's logs/, which exists once a module has run;
# before that it is simply empty, not an error.
[ "$source" = "$BPCS_WORK/logs" ] && mkdir -p -- "$source"
pattern=$(bpcs_param pattern '*.log')
bpcs_uint max_files max_files 200
bpcs_uint depth max_depth 2
[ -d "$source" ] || bpcs_failure 2 "no such directory: $source" "$(jq -c -n --arg s "$source" '{source: $s}')"
source=$(cd -- "$source" && pwd -P)

archives="$BPCS_WORK/archives"
mkdir -p -- "$archives" || bpcs_failure 2 "cannot create $archives"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
archive="$archives/logs-$stamp-$$.tar.gz"
list=$(mktemp "$archives/.list.XXXXXX") || bpcs_failure 2 "cannot write in $archives"
trap 'rm -f -- "$list"' EXIT

# NUL-separated names: a log file name may hold any byte but NUL. Unreadable files
# (root-only logs) are counted and skipped rather than failing the whole collection;
# the archives directory itself is never collected.
files=0 skipped=0
while IFS= read -r -d '' file; do
  if [ "$files" -ge "$max_files" ] || [ ! -r "$file" ]; then
    skipped=$((skipped + 1))
    continue
  fi
  printf '%s\0' "$file" >>"$list"
  files=$((files + 1))
done < <(find "$source" -maxdepth "$depth" -path "$archives" -prune -o -type f -name "$pattern" -print0 2>/dev/null | sort -z)

# GNU tar exits 1 when a file changed while it was read (a log being written): the
# archive is still complete up to that moment.
tar --null -T "$list" -czf "$archive" --warning=no-file-changed 2>/dev/null
status=$?
if [ "$status" -gt 1 ]; then
  rm -f -- "$archive"
  bpcs_failure 2 "tar failed with status $status" "$(jq -c -n --arg a "$archive" '{archive: $a}')"
fi
bytes=$(stat -c %s -- "$archive")

bpcs_success "$(jq -c -n --arg archive "$archive" --arg source "$source" --arg pattern "$pattern" \
  --argjson files "$files" --argjson skipped "$skipped" --argjson bytes "$bytes" \
  '{archive: $archive, source: $source, pattern: $pattern, files: $files, skipped: $skipped, bytes: $bytes}')"
