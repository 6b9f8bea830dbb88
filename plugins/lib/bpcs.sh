# shellcheck shell=bash
# A small BPCS library for the example plugins (written for rune; sourced, not run).
#
# A plugin reads one JSON request object on stdin and writes exactly one JSON
# response object on stdout; stderr is for diagnostics. Exit codes follow the BPCS
# conventions: 0 success, 1 invalid input, 2 resource or dependency error,
# 3 business logic failure, 4 configuration error.
#
# Usage in a plugin:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/bpcs.sh"
#   bpcs_init "$@"            # reads the request, parses --work-dir DIR
#   path=$(bpcs_param path .) # a parameter, or a default
#   bpcs_uint keep keep 3     # an integer parameter into $keep, or a failure
#   bpcs_work_dir             # $BPCS_WORK: the catalog's work directory
#   bpcs_success "$output_json"
#   bpcs_failure 2 "message" '{"detail":1}'

set -uo pipefail

BPCS_REQUEST='{}'
BPCS_WORK_DIR=''
BPCS_WORK=''

# Print a diagnostic line on stderr (never on stdout: stdout is the response).
bpcs_log() {
  printf '%s %s\n' "${0##*/}:" "$*" >&2
}

# The response envelope around PAYLOAD and ERROR (both JSON), echoing the request's
# correlation and trace ids so the answer can be matched to its request.
bpcs_respond() {
  local payload=$1 error=$2
  jq -c -n \
    --argjson req "$BPCS_REQUEST" \
    --argjson payload "$payload" \
    --argjson error "$error" \
    --arg now "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    '{
      message_metadata: {
        version: "1.0",
        message_id: ("re-" + ($req.message_metadata.message_id // "unknown")),
        correlation_id: ($req.message_metadata.correlation_id // null),
        parent_message_id: ($req.message_metadata.message_id // null),
        created_at: $now
      },
      payload: $payload,
      observability: ($req.observability // {}),
      error: $error
    }'
}

# Answer success with OUTPUT (a JSON object) and exit 0.
bpcs_success() {
  # An output that failed to build is the plugin's own bug: say so, never print junk.
  jq -e 'type == "object"' >/dev/null 2>&1 <<<"${1:-}" ||
    bpcs_failure 100 "internal error: the plugin built no output object"
  bpcs_respond "$(jq -c -n --argjson out "$1" '{result: "success", output_data: $out}')" null
  exit 0
}

# Answer failure with exit code CODE, MESSAGE and optional DETAILS (JSON), and exit
# with CODE (repeated in error.code).
bpcs_failure() {
  local code=$1 message=$2 details=${3:-'{}'}
  bpcs_log "failure ($code): $message"
  bpcs_respond null "$(jq -c -n --argjson code "$code" --arg message "$message" \
    --argjson details "$details" '{code: $code, message: $message, details: $details}')"
  exit "$code"
}

# Read the request from stdin and the command line options the catalog gives.
bpcs_init() {
  if ! command -v jq >/dev/null 2>&1; then
    # Without jq no JSON can be written safely: a bare exit code is all rune gets.
    printf '%s\n' "${0##*/}: jq is required" >&2
    exit 2
  fi
  while [ $# -gt 0 ]; do
    case $1 in
      --work-dir)
        [ $# -ge 2 ] || bpcs_failure 4 "--work-dir needs a directory"
        BPCS_WORK_DIR=$2
        shift 2
        ;;
      *) bpcs_failure 4 "unknown option: $1" ;;
    esac
  done
  local input
  input=$(cat)
  if ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$input"; then
    bpcs_failure 1 "stdin is not one JSON object"
  fi
  BPCS_REQUEST=$(jq -c . <<<"$input")
  if ! jq -e '.payload.input_parameters | type == "object"' >/dev/null <<<"$BPCS_REQUEST"; then
    bpcs_failure 1 "payload.input_parameters is missing or not an object"
  fi
}

# The JSON value of parameter NAME, or DEFAULT (JSON) when absent or null.
bpcs_param_json() {
  jq -c --arg name "$1" --argjson default "$2" \
    '.payload.input_parameters[$name] // $default' <<<"$BPCS_REQUEST"
}

# The raw text of parameter NAME (strings unquoted), or DEFAULT (text).
bpcs_param() {
  jq -r --arg name "$1" --arg default "$2" \
    '.payload.input_parameters[$name] // $default | tostring' <<<"$BPCS_REQUEST"
}

# Set variable VAR to the non-negative integer parameter NAME, or DEFAULT; anything
# else is invalid input. (A variable, not a subshell: a failure must end the plugin.)
bpcs_uint() {
  local -n _bpcs_var=$1
  _bpcs_var=$(bpcs_param "$2" "$3")
  [[ $_bpcs_var =~ ^[0-9]+$ ]] || bpcs_failure 1 "parameter $2 must be a non-negative integer" \
    "$(jq -c -n --arg p "$2" --arg v "$_bpcs_var" '{parameter: $p, value: $v}')"
}

# Whether the request is a dry run (context.dry_run): remediations then only report.
bpcs_dry_run() {
  jq -e '.payload.context.dry_run == true' >/dev/null <<<"$BPCS_REQUEST"
}

# Set BPCS_WORK to the work directory the catalog names (--work-dir, relative to
# the catalog file's directory, which is the plugin's working directory), created on
# demand, as an absolute path.
bpcs_work_dir() {
  [ -n "$BPCS_WORK_DIR" ] || bpcs_failure 4 "the catalog gives no --work-dir"
  if ! mkdir -p -- "$BPCS_WORK_DIR" 2>/dev/null || ! BPCS_WORK=$(cd -- "$BPCS_WORK_DIR" && pwd -P); then
    bpcs_failure 2 "cannot create the work directory $BPCS_WORK_DIR" \
      "$(jq -c -n --arg d "$BPCS_WORK_DIR" '{work_dir: $d}')"
  fi
}
