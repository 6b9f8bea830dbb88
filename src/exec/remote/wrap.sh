# rune-wrap: runs one plugin on this node for rune, then leaves nothing behind.
# $1 timeout (s)  $2 grace (s)  $3 bundle digest or -  $4 keep (1: leaves_daemon)
# $5... the plugin's command line (relative to the bundle when one is named).
# The request is the first line of stdin; rune keeps stdin open until it has the
# answer, so end of file means rune or the connection is gone.
t=$1 g=$2 b=$3 keep=$4
shift 4
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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rune-wrap.XXXXXX") || { say no-tmp; exit 125; }
exec 3<&0
head -n 1 <&3 >"$tmp/req"
setsid "$@" <"$tmp/req" 3<&- &
pg=$!
setsid sh -c 'sleep "$1"; : >"$4/timeout"; kill -TERM -"$3" 2>/dev/null; sleep "$2"; kill -KILL -"$3" 2>/dev/null' rune-timer "$t" "$g" "$pg" "$tmp" </dev/null >/dev/null 2>&1 3<&- &
tp=$!
setsid sh -c 'cat >/dev/null; kill -KILL -"$3" 2>/dev/null; kill -TERM -"$1" 2>/dev/null; sleep "$2"; kill -KILL -"$1" 2>/dev/null' rune-eof "$pg" "$g" "$tp" <&3 >/dev/null 2>&1 3<&- &
wp=$!
exec 3<&-
# From here on a write to a connection that is gone must not end the wrapper
# before it has cleaned up (the plugin and watchers keep the default).
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
[ "$rc" -ne 255 ] || rc=100
exit "$rc"
