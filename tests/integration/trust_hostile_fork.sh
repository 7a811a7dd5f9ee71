#!/usr/bin/env bash
# A split view, caught by the mounts themselves (issue 14: "serves alice
# and bob different logs"; the relay is tests/helpers/hostile_relay
# --log-attack split).  Alice's mount is shown a log in which bob has one
# more device (the relay's: approved by nobody, so nothing is sealed to
# it); bob's mount, later, a log of the same size without it.  Bob's next
# message to alice carries his tree head inside the sealed message (the
# gossip extension): alice's mount finds the two heads cannot both be
# honest and alerts ("alice@example.com log forked at size N OURROOT ->
# THEIRROOT" in MNT/alerts, the log and `sealbox status`) and writes both
# signed heads in hex to its log for the user to publish.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
echo "first" >"$O/first.txt"
wait_status 20 "$O/first.txt" '^delivered 1/1$'
mkdir "$B/outbox/alice@example.com"

note "alice is shown one view of the log"
# Bob's mount stays away while alice's view is served: its own-account
# check (at connect, then every minute) would otherwise see view one too
# and catch the fork itself, before any gossip.
mb_umount bob
log_hostile_start "split:bob@example.com:$T/flip"
mb_umount alice   # a fresh client: its next send looks bob up again
mb_mount alice
echo "in view one" >"$O/second.txt"
wait_status 30 "$O/second.txt" '^(sent|delivered [0-9]/[0-9])$'
grep -q "hostile: log-attack split address=bob@example.com view=1" "$HLOG" ||
	fail "alice was not shown the first view: $(cat "$HLOG")"

note "bob, the other"
touch "$T/flip"
mb_mount bob
echo "in view two" >"$B/outbox/alice@example.com/reply.txt"
wait_status 30 "$B/outbox/alice@example.com/reply.txt" '^(sent|delivered 1/1)$'
grep -q "hostile: log-attack split address=bob@example.com view=2" "$HLOG" ||
	fail "bob was not shown the second view: $(cat "$HLOG")"

note "bob's head, gossiped inside his message, is proof of the fork at alice"
wait_until "$(mb_secs 20)" grep -q "sealbox: log fork: the other tree head" "$(mb_log alice)" ||
	fail "no fork at alice: $(tail -5 "$(mb_log alice)")"
ours=$(sed -n 's/^sealbox: log fork: our tree head (size [0-9]*): //p' "$(mb_log alice)" | head -1)
theirs=$(sed -n 's/^sealbox: log fork: the other tree head (size [0-9]*): //p' "$(mb_log alice)" | head -1)
[[ "$ours" =~ ^01[0-9a-f]{230,250}$ && "$theirs" =~ ^01[0-9a-f]{230,250}$ ]] ||
	fail "the heads in alice's log: '$ours' '$theirs'"
# A head: version (1 byte), size (8), time (8), root (32), signature.
n=$((16#${ours:2:16}))
[ "$((16#${theirs:2:16}))" -eq "$n" ] || fail "not the same size: $ours $theirs"
line=$(grep "log forked" "$A/alerts" | tail -1)
[[ "${line%% *}" =~ ^$mb_alert_re$ ]] || fail "MNT/alerts: $(cat "$A/alerts")"
[ "${line#* }" = "alice@example.com log forked at size $n ${ours:34:32} -> ${theirs:34:32}" ] ||
	fail "the fork alert: '$line' (heads $ours $theirs)"
grep -qxF "sealbox: alert: $line" "$(mb_log alice)" || fail "not in the log: $line"
"$SEALBOX" status --home "$(mb_home alice)" | grep -qxF "alert: $line" ||
	fail "sealbox status: $("$SEALBOX" status --home "$(mb_home alice)")"
wait_for_file 20 "$A/inbox/bob@example.com" "$(mb_inbox_re reply.txt)" >/dev/null
log_hostile_stop
mb_finish
