#!/usr/bin/env bash
# Queues: a connected device gets a message pushed with no request of its
# own; an offline one gets its backlog on connect; only an ack deletes; an
# unacknowledged message comes back after a reconnect and after a relay
# restart; the sender sees per-device status.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
bob=$(dev_id bob)

note "online: pushed at once"
rc recv --keys "$T/bob" --count 1 --ack --timeout 10 --ready-file "$T/bob.ready" \
	>"$T/push1.out" 2>"$T/push1.err" &
recv=$!
wait_until 10 test -f "$T/bob.ready" || fail "receiver never connected"
m1=$(new_msgid)
start=$(date +%s%N)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m1" --text online >/dev/null
wait "$recv" || fail "receiver did not get the push: $(cat "$T/push1.err")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "msg=$m1 from=alice@example.com dev=$(dev_id alice) .*payload=online for $bob" \
	"$T/push1.out" || fail "wrong push: $(cat "$T/push1.out")"
note "pushed within ${ms} ms of the send"
grep -q "push conn=.* device=$bob item=" "$RLOG" || fail "push not logged"
[ "$(rc status --keys "$T/alice" --msgid "$m1")" = "$bob delivered" ] || fail "status not delivered"

note "offline: backlog on connect, in order"
m2=$(new_msgid); m3=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m2" --text first >/dev/null
rc send --keys "$T/alice" --to bob@example.com --msgid "$m3" --text second >/dev/null
[ "$(rc status --keys "$T/alice" --msgid "$m2")" = "$bob queued" ] || fail "status not queued"

note "no ack: redelivered after reconnect"
rc recv --keys "$T/bob" --count 2 --timeout 10 >"$T/b1.out"
sed -n 1p "$T/b1.out" | has "msg=$m2 .*payload=first" || fail "backlog order: $(cat "$T/b1.out")"
sed -n 2p "$T/b1.out" | has "msg=$m3 .*payload=second" || fail "backlog order: $(cat "$T/b1.out")"
rc recv --keys "$T/bob" --count 2 --timeout 10 >"$T/b2.out"
cmp -s <(cut -d' ' -f1-3 "$T/b1.out") <(cut -d' ' -f1-3 "$T/b2.out") ||
	fail "redelivery differs: $(cat "$T/b2.out")"

note "no ack: survives a relay restart"
relay_stop
relay_start
rc recv --keys "$T/bob" --count 2 --timeout 10 >"$T/b3.out"
cmp -s <(cut -d' ' -f1-3 "$T/b1.out") <(cut -d' ' -f1-3 "$T/b3.out") ||
	fail "not redelivered after restart: $(cat "$T/b3.out")"

note "ack deletes"
rc recv --keys "$T/bob" --count 2 --ack --timeout 10 >/dev/null
[ "$(rc status --keys "$T/alice" --msgid "$m3")" = "$bob delivered" ] || fail "status after ack"
rc recv --keys "$T/bob" --count 0 --timeout 2 >"$T/b4.out" ||
	fail "acknowledged messages came back: $(cat "$T/b4.out")"

note "a duplicate message id is refused"
expect_rc 45 rc send --keys "$T/alice" --to bob@example.com --msgid "$m1" --text again

note "a second device of the sender gets its copy"
new_device alice2 alice@example.com >/dev/null
m4=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m4" --text sync >/dev/null
rc recv --keys "$T/alice2" --count 1 --ack --timeout 10 | has "msg=$m4 from=alice@example.com" ||
	fail "sender's other device did not get a copy"
st=$(rc status --keys "$T/alice" --msgid "$m4" | sort)
[ "$st" = "$(printf '%s queued\n%s delivered' "$bob" "$(dev_id alice2)" | sort)" ] ||
	fail "status: $st"
relay_stop
grep -q "send accepted" "$RLOG" && grep -q "ack conn=" "$RLOG" || fail "events not logged"
exit 0
