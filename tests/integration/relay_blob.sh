#!/usr/bin/env bash
# Blob store: a 1 GiB blob streams up and down with a small peak RSS on both
# the relay and the client (memory does not grow with size); the size is
# declared first and refused past --blob-max; unknown URIs are not found.
# Under ASan, freed chunks sit in a quarantine (256 MiB by default) that
# would count as RSS: it is capped here so the figure measures our buffers.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

# Knobs for scripts/valgrind.sh: a smaller size, and no RSS limit (under
# memcheck VmHWM is valgrind's shadow memory).
size=${RELAY_BLOB_SIZE:-$((1024 * 1024 * 1024))}
limit_kb=${SB_RSS_LIMIT_KB:-$((64 * 1024))}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"

relay_init --blob-max $((size + 1))
relay_start
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null

note "round trip of $((size / 1048576)) MiB"
head -c "$size" /dev/urandom >"$T/in"
t0=$(date +%s)
uri=$(rc blob-put --keys "$T/alice" --timeout 60 "$T/in" 2>"$T/put.err") ||
	fail "upload: $(cat "$T/put.err")"
[[ "$uri" =~ ^sbblob:[0-9a-f]{64}$ ]] || fail "odd uri $uri"
got=$(rc blob-get --keys "$T/bob" --timeout 60 "$uri" "$T/out" 2>"$T/get.err") ||
	fail "download: $(cat "$T/get.err")"
t1=$(date +%s)
[ "$got" = "$size" ] || fail "download reported $got bytes"
cmp -s "$T/in" "$T/out" || fail "downloaded blob differs"
relay_kb=$(relay_vmhwm_kb)
put_kb=$(sed -n 's/.*VmHWM \([0-9]*\) kB/\1/p' "$T/put.err")
get_kb=$(sed -n 's/.*VmHWM \([0-9]*\) kB/\1/p' "$T/get.err")
echo "blob $((size / 1048576)) MiB in $((t1 - t0)) s; peak RSS (VmHWM): relay ${relay_kb} kB," \
	"uploading client ${put_kb} kB, downloading client ${get_kb} kB"
[ "$relay_kb" -lt "$limit_kb" ] || fail "relay peak RSS ${relay_kb} kB"
[ "$put_kb" -lt "$limit_kb" ] || fail "upload client peak RSS ${put_kb} kB"
[ "$get_kb" -lt "$limit_kb" ] || fail "download client peak RSS ${get_kb} kB"
rm -f "$T/in" "$T/out"
ls "$RDATA/blobs/tmp" | has . && fail "temp file left after upload"

note "size declared past the cap: refused before any data"
echo small >"$T/small"
expect_rc 47 rc blob-put --keys "$T/alice" --size $((size + 2)) "$T/small"
grep -q "blob refused" "$RLOG" || fail "refusal not logged"

note "unknown and malformed URIs"
expect_rc 44 rc blob-get --keys "$T/bob" "sbblob:$(printf '%064d' 0)" "$T/x"
expect_rc 44 rc blob-get --keys "$T/bob" "sbblob:../../relay.db" "$T/x"
relay_stop
exit 0
