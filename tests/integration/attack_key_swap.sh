#!/usr/bin/env bash
# A sender's key is never replaced without a trace (issue 12, finding 5).
# When a message does not verify under a sender device's pinned identity,
# the agent asks the directory once more (the device may have re-enrolled);
# it used to overwrite the pinned key with whatever came back, silently.
# Here whoever runs the relay swaps bob's device identity for a key of
# their own in relay.db and sends alice a message as bob's device.  The end
# to end layer cannot tell this from a re-enrolment (issue 14 adds the
# transparency log and the alerts a user sees); what it must do already is
# record the change before it accepts anything under the new key: a
# "key change: ... changed: OLD -> NEW" log line and a durable row in
# store.db (inbox_key_events) with both hashes.  A new device of a pinned
# sender is recorded as "added".
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

events() {
	python3 -c 'import sqlite3,sys; print("\n".join("%s %s" % (r[0], r[1]) for r in sqlite3.connect(sys.argv[1]).execute(
		"SELECT event, coalesce(length(old_hash), 0) || \"/\" || coalesce(length(new_hash), 0) FROM inbox_key_events ORDER BY id")))' \
		"$(mb_home alice)/store.db"
}

mb_alice_to_bob    # relay, alice and bob mounted
mkdir "$B/outbox/alice@example.com"
echo "the real bob" >"$B/outbox/alice@example.com/first.txt"
wait_for_file 20 "$A/inbox/bob@example.com" "$(mb_inbox_re first.txt)" >/dev/null
[ -z "$(events)" ] || fail "first contact recorded events: $(events)"

note "the operator swaps bob's device key and sends as bob's device"
bobdev=$(mb_device_id bob)
"$RELAY_CLIENT" keygen --keys "$T/op" >/dev/null || fail "keygen"
relay_stop
python3 - "$RDATA/relay.db" "$bobdev" "$T/op/identity.der" <<'PY' || fail "could not swap the key"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
n = con.execute("UPDATE devices SET identity = ? WHERE id = ?",
                (open(sys.argv[3], "rb").read(), int(sys.argv[2]))).rowcount
con.commit()
sys.exit(0 if n == 1 else 1)
PY
relay_start
printf 'bob@example.com' >"$T/op/address"
echo "$bobdev" >"$T/op/device_id"
cs --keys "$T/op" --to alice@example.com \
	--name second.txt --text "not bob" >/dev/null || fail "the operator's send"
wait_until "$(mb_secs 20)" grep -q "key change: bob@example.com device .* changed: [0-9a-f]\{32\} -> [0-9a-f]\{32\}" "$(mb_log alice)" ||
	fail "no key change line in alice's log: $(tail -3 "$(mb_log alice)")"
[ "$(events)" = "changed 32/32" ] || fail "inbox_key_events: '$(events)'"
# The record came first: the line precedes the message's 'received' line.
kc=$(grep -n "key change: bob@example.com" "$(mb_log alice)" | head -1 | cut -d: -f1)
rcv=$(grep -n "received message .* from bob@example.com/.*second.txt" "$(mb_log alice)" | head -1 | cut -d: -f1)
[ -n "$rcv" ] && [ "$kc" -lt "$rcv" ] || fail "accepted before the change was recorded (lines $kc, $rcv)"

note "a new device for bob: recorded as added"
"$RELAY_CLIENT" keygen --keys "$T/bob2" >/dev/null || fail "keygen bob2"
code=$("$SEALBOX_RELAY" invite --data "$RDATA" bob@example.com)
rc register --keys "$T/bob2" --address bob@example.com --code "$code" --name bob2 >/dev/null ||
	fail "register bob2"
cs --keys "$T/bob2" --to alice@example.com \
	--name third.txt --text "bob's new phone" >/dev/null || fail "bob2's send"
wait_for_file 20 "$A/inbox/bob@example.com" "$(mb_inbox_re third.txt)" >/dev/null
[ "$(events | tail -1)" = "added 0/32" ] || fail "inbox_key_events: '$(events)'"
mb_finish
