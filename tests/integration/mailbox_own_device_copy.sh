#!/usr/bin/env bash
# The sender's own second device gets a copy of what the first sends: it
# shows up in alice2's outbox/FOLDER/ under the same name with the same
# content (never in its inbox), and what bob sends reaches both of alice's
# devices.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice1 alice@example.com
mb_device alice2 alice@example.com --suite ec
mb_device bob bob@example.com
mb_mount alice1
mb_mount alice2
mb_mount bob
A1=$(mb_mnt alice1) A2=$(mb_mnt alice2) B=$(mb_mnt bob)

note "alice1 -> bob; alice2 gets the copy in its outbox"
mkdir "$A1/outbox/bob@example.com"
printf 'sent from my laptop\n' >"$A1/outbox/bob@example.com/laptop.txt"
got=$(wait_for_file 30 "$B/inbox/alice@example.com" "$(mb_inbox_re laptop.txt)")
[ "$(cat "$got")" = "sent from my laptop" ] || fail "bob read '$(cat "$got")'"
copy=$(wait_for_file 30 "$A2/outbox/bob@example.com" '^laptop\.txt$')
[ "$(cat "$copy")" = "sent from my laptop" ] || fail "alice2's copy reads '$(cat "$copy")'"
[ "$(stat -c %s "$copy")" -eq 20 ] || fail "alice2's copy size"
[ -z "$(ls -A "$A2/inbox")" ] || fail "alice2's inbox shows its own copy: $(ls -R "$A2/inbox")"
wait_status 30 "$A1/outbox/bob@example.com/laptop.txt" '^delivered 2/2$'

note "alice2 -> bob; alice1 gets the copy"
printf 'and from my phone\n' >"$A2/outbox/bob@example.com/phone.txt"
wait_for_file 30 "$B/inbox/alice@example.com" "$(mb_inbox_re phone.txt)" >/dev/null
copy=$(wait_for_file 30 "$A1/outbox/bob@example.com" '^phone\.txt$')
[ "$(cat "$copy")" = "and from my phone" ] || fail "alice1's copy reads '$(cat "$copy")'"

note "bob -> alice reaches both of her devices"
mkdir "$B/outbox/alice@example.com"
printf 'got both\n' >"$B/outbox/alice@example.com/ack.txt"
g1=$(wait_for_file 30 "$A1/inbox/bob@example.com" "$(mb_inbox_re ack.txt)")
g2=$(wait_for_file 30 "$A2/inbox/bob@example.com" "$(mb_inbox_re ack.txt)")
[ "$(cat "$g1")" = "got both" ] && [ "$(cat "$g2")" = "got both" ] || fail "alice's copies differ"
wait_status 30 "$B/outbox/alice@example.com/ack.txt" '^delivered 2/2$'
[ "$(ls "$A1/outbox/bob@example.com" | wc -l)" -eq 2 ] || fail "alice1 outbox: $(ls "$A1/outbox/bob@example.com")"
[ "$(ls "$A2/outbox/bob@example.com" | wc -l)" -eq 2 ] || fail "alice2 outbox: $(ls "$A2/outbox/bob@example.com")"
mb_finish
