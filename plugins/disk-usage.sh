#!/usr/bin/env bash
# disk-usage: how full the file system holding a path is (df -Pk), and whether it is
# below a threshold. Diagnostic: reads only.
. "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
bpcs_init "$@"

path=$(bpcs_param path .)
bpcs_uint max_used max_used_percent 90
[ -e "$path" ] || bpcs_failure 2 "no such path: $path" "$(jq -c -n --arg p "$path" '{path: $p}')"

# -P: one line per file system, POSIX columns; -k: 1024-byte blocks.
if ! line=$(df -Pk -- "$path" 2>/dev/null | awk 'NR == 2'); then
  bpcs_failure 2 "df failed for $path"
fi
[ -n "$line" ] || bpcs_failure 2 "df printed nothing for $path"
read -r fs size used avail _pct mount <<<"$line"
[[ $size =~ ^[0-9]+$ && $used =~ ^[0-9]+$ && $avail =~ ^[0-9]+$ ]] ||
  bpcs_failure 2 "unexpected df output" "$(jq -c -n --arg l "$line" '{line: $l}')"

# Used percent as df computes it (used of used+available, rounded up), from the
# numbers rather than df's column so it is an integer even for an empty file system.
total=$((used + avail))
if [ "$total" -gt 0 ]; then pct=$(((used * 100 + total - 1) / total)); else pct=0; fi

bpcs_success "$(jq -c -n --arg path "$(realpath -- "$path")" \
  --arg fs "$fs" --arg mount "$mount" --argjson size "$size" --argjson used "$used" \
  --argjson avail "$avail" --argjson pct "$pct" --argjson max "$max_used" \
  '{path: $path, filesystem: $fs, mount_point: $mount, size_kb: $size, used_kb: $used,
    available_kb: $avail, used_percent: $pct, max_used_percent: $max, healthy: ($pct <= $max)}')"
