#!/usr/bin/env bash
# collect-logs: gather the readable log files under a directory into a compressed
# tar archive in the work directory's archives/. Diagnostic: reads the logs, writes
# only its own archive.
#
# It reads only under the directories its catalog entry allows: COLLECT_LOGS_ALLOW
# (set under the action's `env:`), a colon-separated list, relative entries against
# the catalog file's directory. A source outside them (after resolving symbolic
# links and `..`) is invalid input; no list at all is a configuration error. Logs
# hold secrets and personal data, so archives are written 0600 in a 0700 directory.
. "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
umask 077
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

[ -n "${COLLECT_LOGS_ALLOW:-}" ] ||
  bpcs_failure 4 "the catalog allows no directory to collect from (env COLLECT_LOGS_ALLOW)"
allowed=false
IFS=: read -r -a allow <<<"$COLLECT_LOGS_ALLOW"
for dir in "${allow[@]}"; do
  [ -n "$dir" ] && [ -d "$dir" ] || continue
  dir=$(cd -- "$dir" && pwd -P) || continue
  case $source/ in
    "${dir%/}"/*) allowed=true ;;
  esac
done
$allowed || bpcs_failure 1 "$source is not under a directory the catalog allows" \
  "$(jq -c -n --arg s "$source" --arg a "$COLLECT_LOGS_ALLOW" '{source: $s, allowed: ($a | split(":"))}')"

archives="$BPCS_WORK/archives"
mkdir -p -- "$archives" || bpcs_failure 2 "cannot create $archives"
# An archives directory made by an older version (or another umask) is made private.
chmod 700 -- "$archives" || bpcs_failure 2 "cannot make $archives private"
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
chmod 600 -- "$archive" 2>/dev/null
if [ "$status" -gt 1 ]; then
  rm -f -- "$archive"
  bpcs_failure 2 "tar failed with status $status" "$(jq -c -n --arg a "$archive" '{archive: $a}')"
fi
bytes=$(stat -c %s -- "$archive")

bpcs_success "$(jq -c -n --arg archive "$archive" --arg source "$source" --arg pattern "$pattern" \
  --argjson files "$files" --argjson skipped "$skipped" --argjson bytes "$bytes" \
  '{archive: $archive, source: $source, pattern: $pattern, files: $files, skipped: $skipped, bytes: $bytes}')"
