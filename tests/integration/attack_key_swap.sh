#!/usr/bin/env bash
# A sender's key is never replaced without a trace (issue 12, finding 5),
# and since issue 14 never replaced by the directory at all.  When a
# message does not verify under a sender device's pinned identity, the
# agent asks the directory once more; it used to overwrite the pinned key
# with whatever came back, silently.  Here whoever runs the relay swaps
# bob's device identity for a key of their own in relay.db (logging the
# change, PROTOCOL.md 14.3: relay_swap_identity) and sends alice a message
# as bob's device.  A device's keys never change in sealbox (a
# re-enrolled device gets a new id), so the change is recorded (an alert:
# "sealbox: alert: TIME bob@example.com device N changed OLD -> NEW" and a
# durable row in store.db's trust_alerts with both hashes), the pin stays,
# and the message, which does not verify under it, is rejected.  A device
# the operator enrolls into bob's account with an invitation, which no
# device of bob's approved (the log shows it unapproved), is recorded as
# such and its message rejected.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

# events: each alert of alice's (MNT/alerts, oldest first, closed ones
# too) as "WHAT OLD/NEW", OLD and NEW 32 when the alert names that
# identity hash, else 0.
events() {
	python3 - "$(mb_mnt alice)/alerts" <<'PY'
import re, sys
words = {"not approved by any device of its account: refused": "unapproved"}
for line in open(sys.argv[1]):
    what, o, n = re.match(r"\S+ \S+ device \d+ (.*) (\S+) -> (\S+)$", line.rstrip("\n")).groups()
    print(words.get(what, what), "%d/%d" % (0 if o == "-" else 32, 0 if n == "-" else 32))
PY
}

mb_alice_to_bob    # relay, alice and bob mounted
mkdir "$B/outbox/alice@example.com"
echo "the real bob" >"$B/outbox/alice@example.com/first.txt"
wait_for_file 20 "$A/inbox/bob@example.com" "$(mb_inbox_re first.txt)" >/dev/null
[ -z "$(events)" ] || fail "first contact recorded events: $(events)"

note "the operator swaps bob's device key and sends as bob's device"
bobdev=$(mb_device_id bob)
"$RELAY_CLIENT" keygen --keys "$T/op" >/dev/null || fail "keygen"
relay_swap_identity "$bobdev" "$T/op/identity.der"
printf 'bob@example.com' >"$T/op/address"
echo "$bobdev" >"$T/op/device_id"
cs --keys "$T/op" --to alice@example.com \
	--name second.txt --text "not bob" >/dev/null || fail "the operator's send"
wait_until "$(mb_secs 20)" grep -q "sealbox: alert: .* bob@example.com device $bobdev changed [0-9a-f]\{32\} -> [0-9a-f]\{32\}$" "$(mb_log alice)" ||
	fail "no alert line in alice's log: $(tail -3 "$(mb_log alice)")"
[ "$(events)" = "changed 32/32" ] || fail "trust_alerts: '$(events)'"
# The record came first, and the message was not accepted under the new key.
kc=$(grep -n "sealbox: alert: .* bob@example.com" "$(mb_log alice)" | head -1 | cut -d: -f1)
wait_until "$(mb_secs 20)" grep -q "rejected message .* from bob@example.com/" "$(mb_log alice)" ||
	fail "the operator's message was not rejected"
rj=$(grep -n "rejected message .* from bob@example.com/" "$(mb_log alice)" | head -1 | cut -d: -f1)
[ "$kc" -lt "$rj" ] || fail "judged before the change was recorded (lines $kc, $rj)"
! grep -q "received message .* from bob@example.com/.*second.txt" "$(mb_log alice)" ||
	fail "the operator's message was accepted under the swapped key"

note "a device the operator enrolls into bob's account: unapproved, refused"
"$RELAY_CLIENT" keygen --keys "$T/bob2" >/dev/null || fail "keygen bob2"
code=$("$SEALBOX_RELAY" invite --data "$RDATA" bob@example.com)
rc register --keys "$T/bob2" --address bob@example.com --code "$code" --name bob2 >/dev/null ||
	fail "register bob2"
cs --keys "$T/bob2" --to alice@example.com \
	--name third.txt --text "not bob's new phone" >/dev/null || fail "bob2's send"
wait_until "$(mb_secs 20)" grep -q "rejected message .* from bob@example.com/0*$(printf %x "$(dev_id bob2)"): sending device not approved" \
	"$(mb_log alice)" || fail "bob2's message not rejected: $(tail -3 "$(mb_log alice)")"
[ "$(events | tail -1)" = "unapproved 0/32" ] || fail "trust_alerts: '$(events)'"
[ "$(mb_count "$A/inbox/bob@example.com" "$(mb_inbox_re third.txt)")" -eq 0 ] ||
	fail "the unapproved device's message shows in alice's inbox"
[ "$(mb_count "$A/inbox/bob@example.com" "$(mb_inbox_re second.txt)")" -eq 0 ] ||
	fail "the operator's message shows in alice's inbox"
mb_finish
