# shellcheck shell=bash
# A small module SPI library for the example module processes (written for rune;
# sourced, not run).
#
# The SPI is JSON-RPC 2.0, one message per line: rune writes requests on our stdin and
# reads our answers on stdout; stderr is diagnostics. rune calls describe, initialize,
# ready (until ready), health, execute, drain and shutdown. A module defines:
#   SPI_NAME, SPI_VERSION      what describe answers (must equal the catalog)
#   module_initialize CONFIG   check and apply the module-scoped config (JSON); on
#                              failure call spi_fail CODE MESSAGE [DATA] and return 1
#   module_ready               set READY (true|false) and STATUS (text)
#   module_health              set HEALTH (ready|degraded) and DETAILS (JSON object)
#   module_execute ACTION PARAMS   set OUTPUT (JSON object), or spi_fail and return 1
# and then calls `spi_main "$@"`.
#
# Besides answering, every module keeps two files in the work directory the catalog
# names (--work-dir, relative to the catalog file's directory, the module's working
# directory): run/NAME.status (its pid, phase and last health, rewritten on every
# call, removed at shutdown; the probe-module plugin reads it) and logs/NAME.log (one
# line per call, reopened each time so rotate-logs can rotate it under us).

set -uo pipefail

SPI_WORK=''
SPI_PHASE=registered
SPI_CONFIG='{}'
SPI_ERROR=''
READY=false STATUS='' HEALTH=ready DETAILS='{}' OUTPUT='{}' RESULT='{}'

spi_log() {
  printf '%s %s\n' "$SPI_NAME:" "$*" >&2
  # printf's own clock: no `date` process per line.
  [ -n "$SPI_WORK" ] && TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T %s\n' -1 "$*" >>"$SPI_WORK/logs/$SPI_NAME.log" 2>/dev/null
  return 0
}

# Record an error for the current request: CODE (JSON-RPC), MESSAGE, DATA (JSON).
spi_fail() {
  SPI_ERROR=$(jq -c -n --argjson code "$1" --arg message "$2" --argjson data "${3:-null}" \
    '{code: $code, message: $message} + (if $data == null then {} else {data: $data} end)')
}

# Rewrite run/NAME.status atomically (a reader never sees half a file).
spi_status() {
  [ -n "$SPI_WORK" ] || return 0
  local tmp="$SPI_WORK/run/.$SPI_NAME.status.$$"
  jq -c -n --argjson pid "$$" --arg mod "$SPI_NAME" --arg version "$SPI_VERSION" \
    --arg status "$1" --arg phase "$SPI_PHASE" --argjson now "${EPOCHSECONDS:-$(date +%s)}" --argjson details "$DETAILS" \
    '{"module": $mod, version: $version, pid: $pid, phase: $phase, status: $status,
      updated_at_epoch: $now, details: $details}' >"$tmp" 2>/dev/null && mv -f -- "$tmp" "$SPI_WORK/run/$SPI_NAME.status"
}

spi_answer() {
  local id=$1 result=$2
  if [ -n "$SPI_ERROR" ]; then
    jq -c -n --argjson id "$id" --argjson error "$SPI_ERROR" '{jsonrpc: "2.0", id: $id, error: $error}'
  else
    jq -c -n --argjson id "$id" --argjson result "$result" '{jsonrpc: "2.0", id: $id, result: $result}'
  fi
}

spi_cleanup() {
  [ -n "$SPI_WORK" ] && rm -f -- "$SPI_WORK/run/$SPI_NAME.status"
}

# One request: METHOD and PARAMS (JSON); sets RESULT (JSON) or SPI_ERROR. It runs in
# this shell, not in $(...), so the phase and config it sets stay set.
spi_dispatch() {
  local method=$1 params=$2
  case $method in
    describe)
      RESULT=$(jq -c -n --arg n "$SPI_NAME" --arg v "$SPI_VERSION" \
        '{module_name: $n, module_version: $v, spi_versions: ["1"]}')
      ;;
    initialize)
      local spi token config
      spi=$(jq -r '.spi_version // "" | tostring' <<<"$params")
      token=$(jq -r '.token // "" | tostring' <<<"$params")
      config=$(jq -c '.config // {} | if type == "object" then . else {} end' <<<"$params")
      if [ "$SPI_PHASE" != registered ]; then
        spi_fail -32600 "initialize called twice"
      elif [ "$spi" != 1 ]; then
        spi_fail -32602 "unsupported SPI version" "$(jq -c -n --arg v "$spi" '{requested: $v, supported: ["1"]}')"
      elif [[ ! $token =~ ^[0-9a-f]{32}$ ]]; then
        spi_fail -32602 "the token must be 32 hex digits"
      elif module_initialize "$config"; then
        SPI_CONFIG=$config
        SPI_PHASE=initialized
        spi_log "initialized with $(jq -c . <<<"$config")"
        spi_status initialized
        RESULT=$(jq -c -n --arg t "$token" '{spi_version: "1", token: $t}')
      fi
      ;;
    ready)
      if [ "$SPI_PHASE" = registered ]; then
        READY=false STATUS="not initialized"
      else
        module_ready
      fi
      [ "$READY" = true ] && [ "$SPI_PHASE" = initialized ] && SPI_PHASE=ready
      spi_status "$([ "$READY" = true ] && echo ready || echo starting)"
      RESULT=$(jq -c -n --argjson r "$READY" --arg s "$STATUS" '{ready: $r, status: $s}')
      ;;
    health)
      if [ "$SPI_PHASE" = draining ]; then
        HEALTH=draining DETAILS='{}'
      elif [ "$SPI_PHASE" = registered ]; then
        HEALTH=degraded DETAILS='{"reason":"not initialized"}'
      else
        module_health
      fi
      spi_log "health: $HEALTH $DETAILS"
      spi_status "$HEALTH"
      RESULT=$(jq -c -n --arg s "$HEALTH" --argjson d "$DETAILS" '{status: $s, details: $d}')
      ;;
    execute)
      local action input
      action=$(jq -r '.action // "" | tostring' <<<"$params")
      input=$(jq -c '.input_parameters // {}' <<<"$params")
      if [ "$SPI_PHASE" != ready ]; then
        spi_fail -32002 "not ready: phase $SPI_PHASE"
      elif module_execute "$action" "$input"; then
        spi_log "executed $action"
        RESULT=$(jq -c -n --argjson o "$OUTPUT" '{output_data: $o}')
      fi
      ;;
    drain)
      SPI_PHASE=draining
      spi_log "draining"
      spi_status draining
      RESULT='{"status":"draining"}'
      ;;
    shutdown)
      spi_log "shutting down"
      RESULT='{}'
      ;;
    *)
      spi_fail -32601 "method not found" "$(jq -c -n --arg m "$method" '{method: $m}')"
      ;;
  esac
}

spi_main() {
  command -v jq >/dev/null 2>&1 || { printf '%s\n' "$SPI_NAME: jq is required" >&2; exit 2; }
  while [ $# -gt 0 ]; do
    case $1 in
      --stdio) shift ;;
      --work-dir)
        [ $# -ge 2 ] || { printf '%s\n' "$SPI_NAME: --work-dir needs a directory" >&2; exit 4; }
        mkdir -p -- "$2/run" "$2/logs" || exit 2
        SPI_WORK=$(cd -- "$2" && pwd -P) || exit 2
        shift 2
        ;;
      *) printf '%s\n' "$SPI_NAME: unknown option: $1" >&2; exit 4 ;;
    esac
  done
  trap spi_cleanup EXIT
  trap 'exit 143' TERM
  spi_log "started (pid $$)"
  local line request id method params
  # The last line may lack its newline: `|| [ -n "$line" ]` still handles it.
  while IFS= read -r line || [ -n "$line" ]; do
    SPI_ERROR=''
    # One jq process per message (they dominate the time of a call): exactly one
    # JSON object, as three lines: the id, the method (a JSON string, "" when
    # absent) and the params (an object).
    if ! request=$(jq -c -s 'if length == 1 and (.[0] | type) == "object" then .[0] else error("no") end
        | (.id // null), (.method // "" | tostring), (.params // {} | if type == "object" then . else {} end)' \
        <<<"$line" 2>/dev/null) || [ -z "$request" ]; then
      printf '%s\n' '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}'
      continue
    fi
    { IFS= read -r id; IFS= read -r method; IFS= read -r params; } <<<"$request"
    # A message without method is rune's answer to something we sent: nothing to do.
    [ "$method" != '""' ] || continue
    # Methods are plain names; anything else stays quoted and is not found.
    [[ $method =~ ^\"[A-Za-z_][A-Za-z0-9_./-]*\"$ ]] && method=${method:1:-1}
    RESULT='{}'
    spi_dispatch "$method" "$params"
    # A notification (no id) gets no answer.
    [ "$id" = null ] && continue
    spi_answer "$id" "$RESULT"
    [ "$method" = shutdown ] && [ -z "$SPI_ERROR" ] && exit 0
  done
  spi_log "stdin closed; exiting"
}
