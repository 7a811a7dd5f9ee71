#!/usr/bin/env bash
# The client library keeps one connection and reconnects by itself with
# capped exponential backoff: a device that stays "online" across a relay
# restart (and an outage) re-authenticates and receives what was sent
# meanwhile, with no action of its own.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
bob=$(dev_id bob)

rc recv --keys "$T/bob" --count 2 --ack --timeout 30 --ready-file "$T/bob.ready" \
	>"$T/bob.out" 2>"$T/bob.err" &
recv=$!
wait_until 10 test -f "$T/bob.ready" || fail "bob never connected"
m1=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m1" --text one >/dev/null
wait_until 10 grep -q "msg=$m1" "$T/bob.out" || fail "first push"
wait_until 10 grep -q "ack conn=.* device=$bob .*deleted" "$RLOG" || fail "first ack"

note "relay down for 2 s, then back"
relay_stop
sleep 2
relay_start
m2=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m2" --text two >/dev/null
wait "$recv" || fail "bob did not get the message after the restart: $(cat "$T/bob.err")"
grep -q "msg=$m2 .*payload=two" "$T/bob.out" || fail "second push: $(cat "$T/bob.out")"
n=$(grep -c "auth conn=.* device=$bob" "$RLOG")
[ "$n" -eq 2 ] || fail "bob authenticated $n times, wanted 2 (one per relay run)"
relay_stop
exit 0
