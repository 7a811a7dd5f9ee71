#!/usr/bin/env bash
# A group folder (comma-separated addresses) sends one message to every
# device of every member: bob and carol each get it from alice, and its
# status counts both deliveries.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_device carol carol@example.com --suite ec
mb_mount alice
mb_mount bob
mb_mount carol
A=$(mb_mnt alice) B=$(mb_mnt bob) C=$(mb_mnt carol)

g="bob@example.com,carol@example.com"
mkdir "$A/outbox/$g" || fail "mkdir outbox/$g"
printf 'Dinner at eight?\n' >"$A/outbox/$g/plan.txt"
gb=$(wait_for_file 30 "$B/inbox/alice@example.com" "$(mb_inbox_re plan.txt)")
gc=$(wait_for_file 30 "$C/inbox/alice@example.com" "$(mb_inbox_re plan.txt)")
[ "$(cat "$gb")" = "Dinner at eight?" ] || fail "bob read '$(cat "$gb")'"
[ "$(cat "$gc")" = "Dinner at eight?" ] || fail "carol read '$(cat "$gc")'"
# One message id for the whole batch: both see the same short id.
[ "$(basename "$gb" | cut -d- -f2)" = "$(basename "$gc" | cut -d- -f2)" ] ||
	fail "bob and carol got different message ids: $gb $gc"
wait_status 30 "$A/outbox/$g/plan.txt" '^delivered 2/2$'
[ "$(mb_sent_count alice)" -eq 1 ] || fail "relay saw $(mb_sent_count alice) sends, wanted one batch"
[ "$(mb_sql "SELECT COUNT(*) FROM status WHERE sender_device = ?" "$(mb_device_id alice)")" -eq 2 ] ||
	fail "the batch did not name exactly the two devices"

note "a group of one address plus an unknown one is ENXIO"
[ "$(mb_errno mkdir "$A/outbox/bob@example.com,nobody@example.com")" = ENXIO ] ||
	fail "mkdir of a group with an unknown member"
mb_finish
