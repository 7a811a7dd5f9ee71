#!/usr/bin/env bash
# Conversations by contact name and by phone number: alice's contacts.vcf
# (vCard 4) names bob "Bob Smith", bob's (vCard 3) names alice "Alice Smith".
# outbox/Bob Smith/ sends to bob; bob's inbox shows the sender as
# "Alice Smith"; outbox/+15551234567/ (E.164) reaches carol, whose inbox
# shows the bare address (no contacts file); a name that is no contact and
# no address is ENXIO.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_device carol +15551234567
cat >"$(mb_home alice)/contacts.vcf" <<'VCF'
BEGIN:VCARD
VERSION:4.0
FN:Bob Smith
N:Smith;Bob;;;
EMAIL;TYPE=work:bob@example.com
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Dora Nobody
EMAIL:dora@example.com
END:VCARD
VCF
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Alice Smith\r\nN:Smith;Alice;;;\r\nEMAIL;TYPE=INTERNET:alice@example.com\r\nTEL;TYPE=CELL:+1 555 000 0000\r\nEND:VCARD\r\n' \
	>"$(mb_home bob)/contacts.vcf"
mb_mount alice
mb_mount bob
mb_mount carol
A=$(mb_mnt alice) B=$(mb_mnt bob) C=$(mb_mnt carol)

note "outbox/Bob Smith/ -> bob, shown as Alice Smith"
mkdir "$A/outbox/Bob Smith" || fail "mkdir 'outbox/Bob Smith'"
printf 'by name\n' >"$A/outbox/Bob Smith/byname.txt"
got=$(wait_for_file 30 "$B/inbox/Alice Smith" "$(mb_inbox_re byname.txt)")
[ "$(cat "$got")" = "by name" ] || fail "bob read '$(cat "$got")'"
[ ! -e "$B/inbox/alice@example.com" ] || fail "bob's inbox shows the bare address beside the contact"
wait_status 30 "$A/outbox/Bob Smith/byname.txt" '^delivered 1/1$'

note "outbox/+15551234567/ -> carol (E.164), shown by bare address"
mkdir "$A/outbox/+15551234567" || fail "mkdir outbox/+15551234567"
printf 'by phone\n' >"$A/outbox/+15551234567/byphone.txt"
got=$(wait_for_file 30 "$C/inbox/alice@example.com" "$(mb_inbox_re byphone.txt)")
[ "$(cat "$got")" = "by phone" ] || fail "carol read '$(cat "$got")'"

note "carol replies to alice; alice has no contact for her: bare number"
mkdir "$C/outbox/alice@example.com"
printf 'from a phone\n' >"$C/outbox/alice@example.com/fromphone.txt"
got=$(wait_for_file 30 "$A/inbox/+15551234567" "$(mb_inbox_re fromphone.txt)")
[ "$(cat "$got")" = "from a phone" ] || fail "alice read '$(cat "$got")'"

note "unknown names and contacts without a registered address: ENXIO"
[ "$(mb_errno mkdir "$A/outbox/Nobody At All")" = ENXIO ] || fail "mkdir of a non-contact name"
[ "$(mb_errno mkdir "$A/outbox/Dora Nobody")" = ENXIO ] || fail "mkdir of a contact with no devices"
[ ! -e "$A/outbox/Nobody At All" ] || fail "refused folder is listed"
mb_finish
