#!/usr/bin/env bash
# Verified contacts (issue 14, point 3).  `sealbox verify bob --confirm
# CODE`, with the code bob reads out, records bob's key set as verified
# (user.sealbox.trust "verified"); a wrong or malformed code records
# nothing.  When bob's devices change (a new device), alice's next send to
# him is held: status "held: bob@example.com's devices changed; compare
# codes again", nothing submitted to the relay, while a message to carol
# behind it goes out; a remount keeps the pins, the verified state and the
# hold.  Confirming bob's new code releases it (it reaches both of bob's
# devices); after another new device, `sealbox trust accept` releases
# the next hold and leaves bob unverified.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
mb_device carol carol@example.com
HA=$(mb_home alice)
held='held: bob@example.com'"'"'s devices changed; compare codes again'
# code_of NAME ADDRESS: the code NAME's `sealbox verify ADDRESS` prints.
code_of() { "$SEALBOX" verify --home "$(mb_home "$1")" "$2" | sed -n '2,4p'; }

echo "first" >"$O/first.txt"
wait_status 20 "$O/first.txt" '^delivered 1/1$'
[ "$(mb_trust "$O")" = unverified ] || fail "before verify: '$(mb_trust "$O")'"

note "a wrong or malformed code records nothing"
code=$(code_of bob alice@example.com)
[[ "$(tr '\n' ' ' <<<"$code")" =~ ^([0-9]{5}\ ){12}$ ]] || fail "bob's code: $code"
wrong=$(tr 0-9 1-90 <<<"$code")
expect_fail 1 "the code does not match" "$SEALBOX" verify --home "$HA" bob@example.com --confirm "$wrong"
expect_fail 2 "must be 60 digits" "$SEALBOX" verify --home "$HA" bob@example.com --confirm "12345 67890"
expect_fail 2 "must be 60 digits" "$SEALBOX" verify --home "$HA" bob@example.com --confirm "${code}x"
[ "$(mb_trust "$O")" = unverified ] || fail "after a wrong code: '$(mb_trust "$O")'"

note "the code as bob reads it out: verified"
out=$("$SEALBOX" verify --home "$HA" bob@example.com --confirm "$code") || fail "confirm: $out"
[ "$out" = "bob@example.com verified: the code matches; 1 device pinned" ] || fail "confirm said: $out"
[ "$(mb_trust "$O")" = verified ] || fail "after confirm: '$(mb_trust "$O")'"
[ "$("$SEALBOX" trust --home "$HA" | grep '^bob')" = "bob@example.com: verified" ] ||
	fail "trust list: $("$SEALBOX" trust --home "$HA")"

note "bob gets a second device: alice's send to bob is held, carol's goes"
mb_device bob2 bob@example.com
bob2=$(mb_device_id bob2)
sent=$(mb_sent_count alice)
echo "second" >"$O/second.txt"
wait_status 20 "$O/second.txt" "^$(sed 's/[.]/\\./g' <<<"$held")\$"
mkdir "$A/outbox/carol@example.com"
echo "to carol" >"$A/outbox/carol@example.com/c.txt"
wait_status 20 "$A/outbox/carol@example.com/c.txt" '^(sent|delivered 1/1)$'
[ "$(mb_sent_count alice)" -eq $((sent + 1)) ] || fail "held message reached the relay"
fp2=$(mb_fp alice bob@example.com "$bob2")
line=$(tail -1 "$A/alerts")
re="^$mb_alert_re bob@example\.com device $bob2 added - -> $fp2\$"
[[ "$line" =~ $re ]] || fail "alerts: '$(cat "$A/alerts")', wanted /$re/"
[ "$(mb_trust "$O")" = "changed: bob@example.com device $bob2 added - -> $fp2" ] ||
	fail "trust: '$(mb_trust "$O")'"
st=$("$SEALBOX" status --home "$HA") || true
grep -qxF "alert: $line" <<<"$st" || fail "status: $st"
grep -q '^held:     1 send waiting' <<<"$st" || fail "status has no held line: $st"

note "a remount keeps pins, verified state and the hold"
mb_umount alice
mb_mount alice
sleep "$(mb_secs 3)"
[ "$(mb_status "$O/second.txt")" = "$held" ] || fail "after remount: '$(mb_status "$O/second.txt")'"
[ "$(mb_sent_count alice)" -eq $((sent + 1)) ] || fail "sent after remount"
[ "$(mb_trust "$O")" = "changed: bob@example.com device $bob2 added - -> $fp2" ] ||
	fail "trust after remount: '$(mb_trust "$O")'"
[ "$(cat "$A/alerts" | wc -l)" -eq 1 ] || fail "alerts after remount: $(cat "$A/alerts")"

note "bob's new code, confirmed: the held send goes out to both his devices"
code2=$(code_of bob alice@example.com)
[ "$code2" != "$code" ] || fail "bob's code did not change with his new device"
# The old code no longer matches.
expect_fail 1 "the code does not match" "$SEALBOX" verify --home "$HA" bob@example.com --confirm "$code"
"$SEALBOX" verify --home "$HA" bob@example.com --confirm "$code2" >/dev/null || fail "confirm 2"
wait_status 20 "$O/second.txt" '^(sent|delivered [0-9]/2)$'
wait_for_file 20 "$B/inbox/alice@example.com" "$(mb_inbox_re second.txt)" >/dev/null
[ "$(mb_trust "$O")" = verified ] || fail "after confirm 2: '$(mb_trust "$O")'"
st=$("$SEALBOX" status --home "$HA") || true
! grep -q '^alert:\|^held:' <<<"$st" || fail "status after confirm: $st"

note "another device; trust accept releases the send, bob is unverified"
mb_device bob3 bob@example.com
echo "third" >"$O/third.txt"
wait_status 20 "$O/third.txt" "^$(sed 's/[.]/\\./g' <<<"$held")\$"
"$SEALBOX" trust --home "$HA" accept bob@example.com >/dev/null || fail "trust accept"
wait_status 20 "$O/third.txt" '^(sent|delivered [0-9]/3)$'
wait_for_file 20 "$B/inbox/alice@example.com" "$(mb_inbox_re third.txt)" >/dev/null
[ "$(mb_trust "$O")" = unverified ] || fail "after accept: '$(mb_trust "$O")'"
[ "$(cat "$A/alerts" | wc -l)" -eq 2 ] || fail "alerts: $(cat "$A/alerts")"
mb_finish
