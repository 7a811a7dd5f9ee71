#!/usr/bin/env bash
# A relay that serves a key its transparency log does not hold (issue 14:
# "answers a lookup with keys not in the log"), seen from the mounts.  The
# first time alice's agent uses bob's device keys (her first send) it pins
# them.  Then whoever runs the relay swaps bob's device identity for a key
# of their own in relay.db without logging it, and sends alice a message as
# bob's device.  Every lookup of bob now fails the log's proofs, and alice's
# mount shows it where any tool sees it: one line in MNT/alerts ("bob log
# proof failed: directory answer not used"), the same line in its log and
# in `sealbox status`, "changed: ..." in user.sealbox.trust of both bob
# folders; the forged message never shows; the pin stays bob's real key,
# across a remount; alice's next message to bob is sealed to nobody (it
# waits, saying why) and `sealbox trust accept` cannot take the unlogged
# key.  Once the relay is honest again the message goes out and accept
# closes the alert.  (A swap the operator logs is trust_pin_change.sh.)
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
bobdev=$(mb_device_id bob) alicedev=$(mb_device_id alice)
# (alice's own account comes first: "alice@example.com: this account")
bobs() { "$SEALBOX" trust --home "$(mb_home alice)" | sed -n '/^bob@example.com:/,$p'; }
# queued_for DEVICE FILE: how many payloads of FILE's message wait for DEVICE.
queued_for() {
	local id
	id=$(getfattr --absolute-names --only-values -n user.sealbox.id "$2")
	mb_sql "SELECT count(*) FROM queue WHERE device_id = ? AND hex(msgid) = upper(?)" "$1" "$id"
}

note "first contact: alice's send pins bob's device"
echo "first" >"$O/first.txt"
wait_status 20 "$O/first.txt" '^delivered 1/1$'
old=$(mb_fp alice bob@example.com "$bobdev")
mkdir "$B/outbox/alice@example.com"
echo "real bob" >"$B/outbox/alice@example.com/hello.txt"
wait_for_file 20 "$A/inbox/bob@example.com" "$(mb_inbox_re hello.txt)" >/dev/null
[ ! -s "$A/alerts" ] || fail "first contact alerted: $(cat "$A/alerts")"

note "the operator swaps bob's device key and sends as bob's device"
mb_sql "SELECT identity FROM devices WHERE id = ?" "$bobdev" | xxd -r -p >"$T/bob.der"
"$RELAY_CLIENT" keygen --keys "$T/op" >/dev/null || fail "keygen"
relay_swap_identity "$bobdev" "$T/op/identity.der" unlogged
printf 'bob@example.com' >"$T/op/address"
echo "$bobdev" >"$T/op/device_id"
cs --keys "$T/op" --direct --to alice@example.com --name forged.txt --text "not bob" \
	>/dev/null || fail "the operator's send"
wait_until "$(mb_secs 20)" grep -q "rejected message .* from bob@example.com/" "$(mb_log alice)" ||
	fail "the forged message was not rejected: $(tail -3 "$(mb_log alice)")"

line=$(mb_alert_shown alice bob@example.com "log proof failed: directory answer not used - -> -")
[ "$(wc -l <"$A/alerts")" -eq 1 ] || fail "MNT/alerts: $(cat "$A/alerts")"
changed="changed: bob@example.com log proof failed: directory answer not used - -> -"
# Recorded before the message was judged.
al=$(grep -n "sealbox: alert: " "$(mb_log alice)" | head -1 | cut -d: -f1)
rj=$(grep -n "rejected message .* from bob@example.com/" "$(mb_log alice)" | head -1 | cut -d: -f1)
[ "$al" -lt "$rj" ] || fail "the alert (line $al) came after the verdict (line $rj)"
[ "$(mb_count "$A/inbox/bob@example.com" "$(mb_inbox_re forged.txt)")" -eq 0 ] ||
	fail "the forged message shows: $(ls "$A/inbox/bob@example.com")"

note "a remount keeps the pin, the alert and the trust state"
mb_umount alice
mb_mount alice
[ "$(cat "$A/alerts")$(mb_trust "$O")" = "$line$changed" ] ||
	fail "after remount: $(cat "$A/alerts"), '$(mb_trust "$O")'"
[ "$(bobs)" = "$(printf 'bob@example.com: %s\n  device %s %s' "$changed" "$bobdev" "$old")" ] ||
	fail "pins after remount: $(bobs)"

note "alice's next message is sealed to nobody while the relay lies; accept cannot take the key"
echo "second" >"$O/second.txt"
wait_status 20 "$O/second.txt" "^queued: directory answer fails the log's proofs, retrying\$"
[ "$(queued_for "$bobdev" "$O/second.txt")" -eq 0 ] || fail "something was sealed for bob's device"
expect_fail 1 "lookup bob@example.com: .*log" \
	"$SEALBOX" trust --home "$(mb_home alice)" accept Bob@Example.com
[ "$(cat "$A/alerts")" = "$line" ] || fail "alerts: $(cat "$A/alerts")"

note "the relay honest again: the message goes out; accept closes the alert"
relay_swap_identity "$bobdev" "$T/bob.der" unlogged
wait_status 40 "$O/second.txt" '^(sent|delivered 1/1)$'
out=$("$SEALBOX" trust --home "$(mb_home alice)" accept Bob@Example.com) ||
	fail "trust accept: $out"
[ "$(mb_trust "$O")" = unverified ] || fail "trust after accept: '$(mb_trust "$O")'"
st=$("$SEALBOX" status --home "$(mb_home alice)") || true
! grep -q "^alert:" <<<"$st" || fail "status still lists alerts after accept: $st"
want=$(printf 'bob@example.com: unverified\n  device %s %s' "$bobdev" "$old")
[ "$(bobs)" = "$want" ] || fail "pins after accept: $(bobs)"
[ "$(cat "$A/alerts")" = "$line" ] || fail "MNT/alerts keeps history: $(cat "$A/alerts")"

expect_fail 2 'not an e-mail address' "$SEALBOX" trust --home "$(mb_home alice)" accept bob
expect_fail 2 'unknown subcommand' "$SEALBOX" trust --home "$(mb_home alice)" forget
mb_finish
