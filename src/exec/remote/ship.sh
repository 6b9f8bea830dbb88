# rune-ship: unpacks one plugin bundle into this node's per-user cache for rune.
# $1 the bundle's digest (sha256 of its .rune-manifest); stdin a tar stream.
# Atomic: unpacked and checked in a private directory, published by one symlink,
# so two runs shipping at once both end with one complete bundle.
d=$1
say() { printf 'rune-wrap: %s\n' "$*" >&2; }
root=${XDG_CACHE_HOME:-$HOME/.cache}/rune/ship
if [ -f "$root/$d/.rune-complete" ]; then cat >/dev/null; exit 0; fi
umask 077
if ! mkdir -p "$root" 2>/dev/null || ! tmp=$(mktemp -d "$root/.tmp.XXXXXX" 2>/dev/null); then
  say "cache-unwritable $root"; cat >/dev/null; exit 125
fi
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && tar -xof -) >/dev/null 2>&1; then say "cache-unwritable $root"; exit 125; fi
if ! (cd "$tmp" && sha256sum -c .rune-manifest) >/dev/null 2>&1 ||
   [ "$(sha256sum <"$tmp/.rune-manifest" | cut -c1-64)" != "$d" ]; then
  say digest-mismatch; exit 125
fi
: >"$tmp/.rune-complete" || { say "cache-unwritable $root"; exit 125; }
if ln -s "${tmp##*/}" "$root/$d" 2>/dev/null; then trap - EXIT; exit 0; fi
if [ -f "$root/$d/.rune-complete" ]; then exit 0; fi
say "cache-unwritable $root"; exit 125
