#!/usr/bin/env bash
# probe-module: is an example module process running and healthy? The module
# processes (modules/) write their status file to the work directory's run/ on every
# SPI call; the probe reads it, checks that the process it names is alive and is that
# module (not a recycled pid), and how old the status is. Diagnostic: reads only.
. "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
bpcs_init "$@"
bpcs_work_dir

module=$(bpcs_param module '')
[[ $module =~ ^[a-z][a-z0-9-]{0,62}$ ]] || bpcs_failure 1 "parameter module must be a module name"
bpcs_uint max_age max_age_seconds 300
status_file="$BPCS_WORK/run/$module.status"

answer() {
  bpcs_success "$(jq -c -n --arg mod "$module" --arg file "$status_file" \
    --argjson running "$1" --argjson healthy "$2" --arg status "$3" --argjson pid "$4" \
    --argjson age "$5" --argjson details "$6" \
    '{"module": $mod, running: $running, healthy: $healthy, status: $status,
      status_file: $file, details: $details}
     + (if $pid == null then {} else {pid: $pid} end)
     + (if $age == null then {} else {age_seconds: $age} end)')"
}

if [ ! -e "$status_file" ]; then
  answer false false not-running null null '{"reason":"no status file: the module has not run or has shut down"}'
fi
if ! status=$(jq -c 'select(type == "object")' "$status_file" 2>/dev/null) || [ -z "$status" ]; then
  answer false false unreadable null null '{"reason":"the status file is not a JSON object"}'
fi
pid=$(jq -r '.pid | select(type == "number" and . > 0 and . == floor)' <<<"$status")
state=$(jq -r '.status // "unknown" | tostring' <<<"$status")
updated=$(jq -r '.updated_at_epoch | select(type == "number") | floor' <<<"$status")
details=$(jq -c '.details // {} | if type == "object" then . else {} end' <<<"$status")
now=$(date +%s)
age=null
[ -n "$updated" ] && age=$((now - updated))
[ -n "$pid" ] || answer false false "$state" null "$age" "$details"

# Alive, and its command line names the module (a pid can be reused after a crash).
running=false
if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$module"; then
  running=true
fi
healthy=false
if [ "$running" = true ] && [ "$state" = ready ] && [ "$age" != null ] && [ "$age" -le "$max_age" ]; then
  healthy=true
fi
answer "$running" "$healthy" "$state" "$pid" "$age" "$details"
