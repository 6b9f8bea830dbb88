#!/usr/bin/env bash
# memory-status: memory and swap of this machine from /proc/meminfo, and whether the
# available share is above a threshold. Diagnostic: reads only.
. "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
bpcs_init "$@"

bpcs_uint min_avail min_available_percent 10
[ "$min_avail" -le 100 ] || bpcs_failure 1 "min_available_percent must be at most 100"
[ -r /proc/meminfo ] || bpcs_failure 2 "/proc/meminfo is not readable (not Linux?)"

declare -A kb=()
while read -r key value _unit; do
  kb[${key%:}]=$value
done </proc/meminfo
total=${kb[MemTotal]:-}
[[ $total =~ ^[0-9]+$ && $total -gt 0 ]] || bpcs_failure 2 "/proc/meminfo has no MemTotal"
# MemAvailable exists since Linux 3.14; older kernels: free + buffers + cache.
avail=${kb[MemAvailable]:-$((${kb[MemFree]:-0} + ${kb[Buffers]:-0} + ${kb[Cached]:-0}))}
avail_pct=$((avail * 100 / total))

bpcs_success "$(jq -c -n --argjson total "$total" --argjson avail "$avail" \
  --argjson free "${kb[MemFree]:-0}" --argjson swap_total "${kb[SwapTotal]:-0}" \
  --argjson swap_free "${kb[SwapFree]:-0}" --argjson pct "$avail_pct" --argjson min "$min_avail" \
  '{total_kb: $total, available_kb: $avail, free_kb: $free, used_percent: (100 - $pct),
    available_percent: $pct, swap_total_kb: $swap_total, swap_free_kb: $swap_free,
    min_available_percent: $min, healthy: ($pct >= $min)}')"
