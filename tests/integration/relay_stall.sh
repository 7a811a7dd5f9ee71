#!/usr/bin/env bash
# A device that stops reading (its I/O thread is stuck) while megabytes of
# pushes wait for it: the relay stops producing at its output high-water
# mark instead of buffering the backlog, closes the connection at the write
# timeout with a logged reason, serves everyone else meanwhile, and keeps
# the messages (none was acknowledged) for the device's next connection.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

count=1000 size=16000        # ~16 MB of backlog: more than the socket buffers hold
# ASan's quarantine of freed chunks would count as RSS: cap it (relay_blob.sh)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
relay_init --inline-limit 16384
relay_start --write-timeout 3
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
new_device carol carol@example.com >/dev/null
bob=$(dev_id bob)

t0=$(date +%s)
rc send-many --keys "$T/alice" --to bob@example.com --count $count --size $size >/dev/null
note "queued $count x $size bytes in $(( $(date +%s) - t0 )) s"
base_kb=$(relay_vmhwm_kb)

rc recv --keys "$T/bob" --stall --timeout 20 >/dev/null 2>"$T/stall.err" &
stalled=$!
on_exit "kill $stalled"
wait_until 20 grep -q "device=$bob reason=write timeout" "$RLOG" ||
	fail "stalled reader not dropped: $(tail -3 "$RLOG")"
peak_kb=$(relay_vmhwm_kb)
echo "relay VmHWM before the stalled reader ${base_kb} kB, after ${peak_kb} kB" \
	"(backlog $((count * size / 1024)) kB)"
[ $((peak_kb - base_kb)) -lt $((8 * 1024)) ] || fail "relay buffered the backlog"

note "everyone else is served meanwhile"
m=$(new_msgid)
rc send --keys "$T/alice" --to carol@example.com --msgid "$m" --text hi >/dev/null
rc recv --keys "$T/carol" --count 1 --ack --timeout 10 | has "msg=$m" || fail "carol"

note "nothing was lost: the backlog is still there"
kill "$stalled" 2>/dev/null || true
wait "$stalled" 2>/dev/null || true
rc recv --keys "$T/bob" --count 3 --timeout 20 >"$T/bob.out" || fail "backlog gone"
relay_stop
exit 0
