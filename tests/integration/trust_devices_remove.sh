#!/usr/bin/env bash
# Revocation and the account's own devices (issue 14, points 4 and 5).
# alice has three devices; a1 approved the other two (sealbox init --link,
# sealbox devices approve), so a1's alerts file records both additions as
# its own doing, while a2, which did not approve a3, alerts about it
# ("added without this device's approval").  a1 removes a3 (`sealbox
# devices remove`, a removal it signs): a3 stops receiving at once (bob's
# next message is queued for a1 and a2 only, and a3 can no longer
# connect); a1 records the removal as its own doing (a closed line in its
# alerts file, nothing open in its status); a2, which did not do it,
# alerts.  Then the operator removes a2 (sealbox-relay remove-device, a
# removal nobody of the account signed): a1 alerts "removed by the relay,
# not by its account".
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device a1 alice@example.com
mb_device a2 alice@example.com
mb_device a3 alice@example.com
mb_device bob bob@example.com
for n in a1 a2 a3 bob; do mb_mount "$n"; done
d1=$(mb_device_id a1) d2=$(mb_device_id a2) d3=$(mb_device_id a3)
fp2=$(mb_fp a1 alice@example.com "$d2") fp3=$(mb_fp a1 alice@example.com "$d3")
A1=$(mb_mnt a1) A2=$(mb_mnt a2)
open_alerts() { "$SEALBOX" status --home "$(mb_home "$1")" | grep '^alert: ' || true; }

note "a1 approved both others: history; a2 did not approve a3: an alert"
two_lines() { [ "$(wc -l <"$A1/alerts")" -ge 2 ]; }
wait_until "$(mb_secs 20)" two_lines || fail "a1's alerts: $(cat "$A1/alerts")"
re="^$mb_alert_re alice@example\.com device $d2 added - -> $fp2\$"
[[ "$(sed -n 1p "$A1/alerts")" =~ $re ]] || fail "a1's first line: $(sed -n 1p "$A1/alerts")"
re="^$mb_alert_re alice@example\.com device $d3 added - -> $fp3\$"
[[ "$(sed -n 2p "$A1/alerts")" =~ $re ]] || fail "a1's second line: $(sed -n 2p "$A1/alerts")"
[ -z "$(open_alerts a1)" ] || fail "a1's open alerts: $(open_alerts a1)"
one_line() { [ "$(wc -l <"$A2/alerts")" -ge 1 ]; }
wait_until "$(mb_secs 20)" one_line || fail "a2's alerts: $(cat "$A2/alerts")"
re="^$mb_alert_re alice@example\.com device $d3 added without this device's approval - -> $fp3\$"
[[ "$(cat "$A2/alerts")" =~ $re ]] || fail "a2's alerts: $(cat "$A2/alerts")"
[ "$(open_alerts a2 | wc -l)" -eq 1 ] || fail "a2's open alerts: $(open_alerts a2)"

note "bad input: one line, nothing removed"
expect_fail 2 'is not a device id' "$SEALBOX" devices --home "$(mb_home a1)" remove 0
expect_fail 2 'is not a device id' "$SEALBOX" devices --home "$(mb_home a1)" remove x12
expect_fail 1 'is this device' "$SEALBOX" devices --home "$(mb_home a1)" remove "$d1"
expect_fail 1 'has no device 999999' "$SEALBOX" devices --home "$(mb_home a1)" remove 999999
expect_fail 2 'which device' "$SEALBOX" devices --home "$(mb_home a1)" remove

note "a1 removes a3"
out=$("$SEALBOX" devices --home "$(mb_home a1)" remove "$d3") || fail "remove: $out"
[ "$out" = "device $d3 of alice@example.com removed" ] || fail "remove said: $out"
[ -z "$(mb_sql "SELECT id FROM devices WHERE id = ?" "$d3")" ] || fail "a3 still at the relay"
re="^$mb_alert_re alice@example\.com device $d3 removed $fp3 -> -\$"
[[ "$(tail -1 "$A1/alerts")" =~ $re ]] || fail "a1's record: $(tail -1 "$A1/alerts")"
! open_alerts a1 | grep -q "device $d3 removed" || fail "a1 alerts about its own removal"
[ "$("$SEALBOX" devices --home "$(mb_home a1)" | wc -l)" -eq 2 ] || fail "devices after remove"

note "a3 stops receiving at once"
mkdir "$(mb_mnt bob)/outbox/alice@example.com"
echo "after the removal" >"$(mb_mnt bob)/outbox/alice@example.com/r.txt"
wait_status 20 "$(mb_mnt bob)/outbox/alice@example.com/r.txt" '^delivered 2/2$'
wait_for_file 20 "$A1/inbox/bob@example.com" "$(mb_inbox_re r.txt)" >/dev/null
wait_for_file 20 "$A2/inbox/bob@example.com" "$(mb_inbox_re r.txt)" >/dev/null
[ "$(mb_sql "SELECT count(*) FROM queue WHERE device_id = ?" "$d3")" -eq 0 ] ||
	fail "something was queued for the removed device"
[ "$(mb_count "$(mb_mnt a3)/inbox" .)" -eq 0 ] || fail "a3 received: $(ls -R "$(mb_mnt a3)/inbox")"
st=$("$SEALBOX" status --home "$(mb_home a3)") && fail "a3's status says its relay works: $st"
grep -q '^relay: .* unreachable: ' <<<"$st" || fail "a3's status: $st"

note "a2 did not remove a3: it alerts"
mkdir "$A2/outbox/bob@example.com"
echo "from a2" >"$A2/outbox/bob@example.com/s.txt"
wait_status 20 "$A2/outbox/bob@example.com/s.txt" '^(sent|delivered [0-9]/2)$'
re="^$mb_alert_re alice@example\.com device $d3 removed $fp3 -> -\$"
[[ "$(tail -1 "$A2/alerts")" =~ $re ]] || fail "a2's alerts: $(cat "$A2/alerts")"
open_alerts a2 | grep -q "device $d3 removed" || fail "a2's open alerts: $(open_alerts a2)"

note "the operator removes a2 with its own tool: a1 alerts"
"$SEALBOX_RELAY" remove-device --data "$RDATA" "$d2" >/dev/null 2>&1 ||
	fail "sealbox-relay remove-device: $("$SEALBOX_RELAY" remove-device --data "$RDATA" "$d2" 2>&1)"
mkdir -p "$A1/outbox/bob@example.com"
echo "after the operator" >"$A1/outbox/bob@example.com/t.txt"
wait_status 30 "$A1/outbox/bob@example.com/t.txt" '^(sent|delivered 1/1)$'
re="^$mb_alert_re alice@example\.com device $d2 removed by the relay, not by its account $fp2 -> -\$"
[[ "$(tail -1 "$A1/alerts")" =~ $re ]] || fail "a1's alerts: $(cat "$A1/alerts")"
open_alerts a1 | grep -q "device $d2 removed by the relay" || fail "a1's open alerts: $(open_alerts a1)"
mb_finish
