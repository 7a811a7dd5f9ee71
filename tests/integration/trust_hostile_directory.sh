#!/usr/bin/env bash
# A relay lying about bob's devices, seen from real mounts (issue 14's
# hostile relay; its lies are tests/helpers/hostile_log.h):
#   - unlogged-device: every answer for bob lists one more device whose
#     keys are in no log entry.  Alice's mount alerts ("log proof failed:
#     directory answer not used"), seals nothing to anyone of bob's while
#     it lies (her message waits, saying why), and it goes out once the
#     relay is honest;
#   - unsigned-device: the relay enrolls a device of its own into bob's
#     account, logged but countersigned by nobody.  Alice alerts ("not
#     approved by any device of its account: refused"), seals nothing to
#     it (an empty payload) while bob's own device gets the message, and
#     bob's mount alerts about a device in his account he never approved.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
bobdev=$(mb_device_id bob)
echo "first" >"$O/first.txt"
wait_status 20 "$O/first.txt" '^delivered 1/1$'
# payloads FILE: "DEVICE LENGTH" of every payload queued for FILE's message.
payloads() {
	local id
	id=$(getfattr --absolute-names --only-values -n user.sealbox.id "$1")
	mb_sql "SELECT device_id, length(payload) FROM queue WHERE hex(msgid) = upper(?)
	    ORDER BY device_id" "$id" | tr '|' ' '
}

note "unlogged-device: keys in no log entry"
log_hostile_start "unlogged-device:bob@example.com"
echo "second" >"$O/second.txt"
wait_status 30 "$O/second.txt" "^queued: directory answer fails the log's proofs, retrying\$"
grep -q "hostile: log-attack unlogged-device address=bob@example.com" "$HLOG" ||
	fail "the attack did not happen: $(cat "$HLOG")"
mb_alert_shown alice bob@example.com "log proof failed: directory answer not used - -> -" >/dev/null
[ -z "$(payloads "$O/second.txt")" ] || fail "sealed while the relay lied: $(payloads "$O/second.txt")"
log_hostile_stop
relay_start
wait_status 40 "$O/second.txt" '^(sent|delivered 1/1)$'
wait_for_file 20 "$B/inbox/alice@example.com" "$(mb_inbox_re second.txt)" >/dev/null
"$SEALBOX" trust --home "$(mb_home alice)" accept bob@example.com >/dev/null ||
	fail "accept once the relay is honest"

note "unsigned-device: a device of the relay's in bob's account, approved by nobody"
relay_stop
log_hostile_start "unsigned-device:bob@example.com"
echo "third" >"$O/third.txt"
wait_status 30 "$O/third.txt" '^(sent|delivered [0-9]/2)$'
fake=$(sed -n 's/^hostile: log-attack unsigned-device address=bob@example.com device=\([0-9]*\).*/\1/p' "$HLOG")
[[ "$fake" =~ ^[0-9]+$ ]] || fail "the attack did not happen: $(cat "$HLOG")"
fp=$(mb_fp alice bob@example.com "$fake")
[[ "$fp" =~ ^[0-9a-f]{32}$ ]] || fail "the relay's device is not listed: '$fp'"
mb_alert_shown alice bob@example.com \
	"device $fake not approved by any device of its account: refused - -> $fp" >/dev/null
[[ "$(payloads "$O/third.txt")" == "$bobdev "[1-9]*$'\n'"$fake 0" ]] ||
	fail "payloads: $(payloads "$O/third.txt") (wanted bob's and an empty one for $fake)"
wait_for_file 20 "$B/inbox/alice@example.com" "$(mb_inbox_re third.txt)" >/dev/null

note "bob's own mount alerts about a device in his account he never approved"
mkdir -p "$B/outbox/alice@example.com"
echo "from bob" >"$B/outbox/alice@example.com/b.txt"
wait_status 30 "$B/outbox/alice@example.com/b.txt" '^(sent|delivered 1/1)$'
grep -qE "^$mb_alert_re bob@example\.com device $fake not approved by any device of its account: refused - -> $fp\$" \
	"$B/alerts" || fail "bob's alerts: $(cat "$B/alerts")"
log_hostile_stop
mb_finish
