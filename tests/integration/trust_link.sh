#!/usr/bin/env bash
# Linking a device (issue 14, point 4).  After an account's first device,
# a new device joins with `sealbox init --link`: it prints a short code
# (docs/PROTOCOL.md 14.4) and waits; `sealbox devices approve CODE` on an
# existing device countersigns the new identity and the new device is in.
# The approving device records the addition as its own doing (no open
# alert); bob, who talks to alice, sees a device added (an alert, the
# device approved by alice's account, so his messages reach it).  A device
# the operator enrolls into alice's account with an invitation instead is
# approved by nobody: bob alerts "not approved by any device of its
# account: refused" and seals nothing to it (its queued payload is empty),
# alice's devices alert too, and its messages never show.  A wrong code
# approves nothing.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device a1 alice@example.com
mb_device bob bob@example.com
mb_mount a1
mb_mount bob
A1=$(mb_mnt a1) B=$(mb_mnt bob)
mkdir "$B/outbox/alice@example.com"
echo "first" >"$B/outbox/alice@example.com/first.txt"
wait_status 20 "$B/outbox/alice@example.com/first.txt" '^delivered 1/1$'
open_alerts() { "$SEALBOX" status --home "$(mb_home "$1")" | grep '^alert: ' || true; }

note "a2 asks to join with --link; a wrong code approves nothing"
mb_link_start a2 alice@example.com
code=$(mb_link_code a2)
[[ "$code" =~ ^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$ ]] || fail "link code '$code'"
# Another valid code: the first character changed (within the alphabet).
if [ "${code:0:1}" = 7 ]; then wrong="8${code:1}"; else wrong="7${code:1}"; fi
expect_fail 1 'no device waiting for approval has the code' \
	"$SEALBOX" devices --home "$(mb_home a1)" approve "$wrong"
expect_fail 2 'is not a link code' "$SEALBOX" devices --home "$(mb_home a1)" approve nonsense
[ "$("$SEALBOX" devices --home "$(mb_home a1)" | wc -l)" -eq 1 ] || fail "a device was added"

note "a1 approves the code (typed in upper case, without dashes)"
out=$("$SEALBOX" devices --home "$(mb_home a1)" approve "$(tr -d - <<<"$code" | tr a-z A-Z)") ||
	fail "approve: $out"
mb_link_wait a2
d2=$(mb_device_id a2)
[[ "$out" =~ ^approved\ device\ $d2\  ]] || fail "approve said: $out"
mb_mount a2
A2=$(mb_mnt a2)
fp2=$(mb_fp a1 alice@example.com "$d2")

note "a1 did it: a closed line, no open alert; a2 alerts about nothing"
re="^$mb_alert_re alice@example\.com device $d2 added - -> $fp2\$"
wait_until "$(mb_secs 20)" grep -qE "$re" "$A1/alerts" || fail "a1's alerts: $(cat "$A1/alerts")"
[ -z "$(open_alerts a1)" ] || fail "a1 alerts: $(open_alerts a1)"
[ -z "$(open_alerts a2)" ] || fail "a2 alerts: $(open_alerts a2)"

note "bob's next message reaches both of alice's devices; bob sees a device added"
echo "second" >"$B/outbox/alice@example.com/second.txt"
wait_status 20 "$B/outbox/alice@example.com/second.txt" '^delivered 2/2$'
wait_for_file 20 "$A2/inbox/bob@example.com" "$(mb_inbox_re second.txt)" >/dev/null
re="^$mb_alert_re alice@example\.com device $d2 added - -> $fp2\$"
grep -qE "$re" "$B/alerts" || fail "bob's alerts: $(cat "$B/alerts")"

note "the operator enrolls a device into alice's account: nobody approved it"
MB_UNLINKED=1 mb_device evil alice@example.com
de=$(mb_device_id evil)
fpe=$(mb_fp bob alice@example.com "$de")
echo "third" >"$B/outbox/alice@example.com/third.txt"
wait_status 20 "$B/outbox/alice@example.com/third.txt" '^(sent|delivered [0-9]/3)$'
refused="alice@example\.com device $de not approved by any device of its account: refused - -> $fpe"
grep -qE "^$mb_alert_re $refused\$" "$B/alerts" || fail "bob's alerts: $(cat "$B/alerts")"
# (the newest open alert; a2's addition is still open too)
[ "$(mb_trust "$B/outbox/alice@example.com")" = \
	"changed: alice@example.com device $de not approved by any device of its account: refused - -> $fpe (+1 more)" ] ||
	fail "bob's trust: '$(mb_trust "$B/outbox/alice@example.com")'"
id=$(getfattr --absolute-names --only-values -n user.sealbox.id "$B/outbox/alice@example.com/third.txt")
len=$(mb_sql "SELECT length(payload) FROM queue WHERE device_id = ? AND hex(msgid) = upper(?)" "$de" "$id")
[ "$len" = 0 ] || fail "bob sealed $len bytes to the unapproved device"
wait_for_file 20 "$A1/inbox/bob@example.com" "$(mb_inbox_re third.txt)" >/dev/null
wait_for_file 20 "$A2/inbox/bob@example.com" "$(mb_inbox_re third.txt)" >/dev/null

note "alice's devices alert too, and the device's messages never show"
mkdir "$A1/outbox/bob@example.com"
echo "from a1" >"$A1/outbox/bob@example.com/a1.txt"
wait_status 20 "$A1/outbox/bob@example.com/a1.txt" '^(sent|delivered [0-9]/[0-9])$'
grep -qE "^$mb_alert_re $refused\$" "$A1/alerts" || fail "a1's alerts: $(cat "$A1/alerts")"
mb_mount evil
mkdir "$(mb_mnt evil)/outbox/bob@example.com"
echo "not alice" >"$(mb_mnt evil)/outbox/bob@example.com/evil.txt"
wait_until "$(mb_secs 20)" grep -q "rejected message .* from alice@example.com/0*$(printf %x "$de"): sending device not approved" \
	"$(mb_log bob)" || fail "bob did not reject the unapproved device's message: $(tail -3 "$(mb_log bob)")"
[ "$(mb_count "$B/inbox/alice@example.com" "$(mb_inbox_re evil.txt)")" -eq 0 ] ||
	fail "the unapproved device's message shows"
mb_finish
