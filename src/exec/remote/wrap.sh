# rune-wrap: runs one plugin (once) or one module process (serve) on this node
# for rune, then leaves nothing behind.
# $1 mode: once | serve
# $2 once: the timeout (s); serve: how long the process may take to exit by
#    itself once its stdin is closed (s)
# $3 grace (s)  $4 bundle digest or -  $5 keep (1: leaves_daemon)
# $6 address space limit (KiB) or -  $7 CPU time limit (s) or -  $8 open files
#    limit or -
# $9... the command line (relative to the bundle when one is named).
# once: the request is the first line of stdin; rune keeps stdin open until it
# has the answer. serve: stdin is passed through to the process as it comes.
# Either way end of file means rune is done or the connection is gone.
m=$1 t=$2 g=$3 b=$4 keep=$5 lv=$6 lt=$7 ln=$8
shift 8
say() { printf 'rune-wrap: %s\n' "$*" >&2; }
if [ "$b" != - ]; then
  dir=${XDG_CACHE_HOME:-$HOME/.cache}/rune/ship/$b
  if [ ! -f "$dir/.rune-complete" ]; then say not-shipped; exit 125; fi
  cd "$dir" || { say not-shipped; exit 125; }
  p=$dir/$1
  shift
  set -- "$p" "$@"
fi
case $1 in
  */*) if [ ! -f "$1" ] || [ ! -x "$1" ]; then say "missing $1"; exit 125; fi ;;
  *) if ! command -v "$1" >/dev/null 2>&1; then say "missing $1"; exit 125; fi ;;
esac
if ! command -v setsid >/dev/null 2>&1; then say "missing setsid"; exit 125; fi
# The limits are set in the process's own subshell before it execs, so it is
# limited from its first instruction (what it starts inherits them); a CPU
# limit sends SIGXCPU at the soft limit and kills a second later (the hard
# one), and no core file is left behind.
lim() {
  if [ "$lt" != - ]; then
    ulimit -c 0 2>/dev/null
    { ulimit -St "$lt" && ulimit -Ht $((lt + 1)); } 2>/dev/null || { say "cannot-limit max_cpu_seconds"; return 1; }
  fi
  if [ "$lv" != - ]; then ulimit -v "$lv" 2>/dev/null || { say "cannot-limit max_memory_mb"; return 1; }; fi
  if [ "$ln" != - ]; then ulimit -n "$ln" 2>/dev/null || { say "cannot-limit max_open_files"; return 1; }; fi
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rune-wrap.XXXXXX") || { say no-tmp; exit 125; }
exec 3<&0
if [ "$m" = serve ]; then
  mkfifo "$tmp/in" || { rm -rf "$tmp"; say no-tmp; exit 125; }
  { lim && exec setsid "$@"; exit 125; } <"$tmp/in" 3<&- &
  pg=$!
  # Passes stdin through; at its end (rune closed it, or the connection is
  # gone) the process gets end of file too, then $t to exit, then the group is
  # ended.
  setsid sh -c 'cat >"$4"; sleep "$2"; kill -TERM -"$1" 2>/dev/null; sleep "$3"; kill -KILL -"$1" 2>/dev/null' rune-eof "$pg" "$t" "$g" "$tmp/in" <&3 >/dev/null 2>&1 3<&- &
  wp=$!
  tp=$wp
else
  head -n 1 <&3 >"$tmp/req"
  { lim && exec setsid "$@"; exit 125; } <"$tmp/req" 3<&- &
  pg=$!
  setsid sh -c 'sleep "$1"; : >"$4/timeout"; kill -TERM -"$3" 2>/dev/null; sleep "$2"; kill -KILL -"$3" 2>/dev/null' rune-timer "$t" "$g" "$pg" "$tmp" </dev/null >/dev/null 2>&1 3<&- &
  tp=$!
  setsid sh -c 'cat >/dev/null; kill -KILL -"$3" 2>/dev/null; kill -TERM -"$1" 2>/dev/null; sleep "$2"; kill -KILL -"$1" 2>/dev/null' rune-eof "$pg" "$g" "$tp" <&3 >/dev/null 2>&1 3<&- &
  wp=$!
fi
exec 3<&-
# From here on a write to a connection that is gone must not end the wrapper
# before it has cleaned up (the process and watchers keep the default).
trap '' PIPE
wait "$pg"
rc=$?
[ "$keep" = 1 ] || kill -KILL -"$pg" 2>/dev/null
# By group (the watchers and their sleep or cat) and by pid: a watcher that has
# not yet called setsid has no group of its own, and would outlive the kill.
kill -KILL -"$tp" -"$wp" "$tp" "$wp" 2>/dev/null
wait 2>/dev/null
if [ -e "$tmp/timeout" ]; then rm -rf "$tmp"; say timeout; exit 124; fi
rm -rf "$tmp"
# A shell reports a process a signal ended as 128 + the signal: with a CPU limit
# set, SIGXCPU (128 + its number here) is that limit.
if [ "$lt" != - ] && [ "$rc" -gt 128 ] && [ "$(kill -l "$rc" 2>/dev/null)" = XCPU ]; then
  say cpu-limit
fi
[ "$rc" -ne 255 ] || rc=100
exit "$rc"
