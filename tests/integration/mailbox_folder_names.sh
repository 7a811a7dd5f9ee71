#!/usr/bin/env bash
# Outbox folder names (issue 17):
#   - a typo'd address (a domain nobody registered) is ENXIO, and the
#     mount's log says "no devices for ADDRESS";
#   - an address in capitals is the same conversation as its canonical
#     spelling: the whole address is case-insensitive (agent/names.c
#     lowercases local part and domain), the folder is listed under the
#     canonical form, files written under either spelling land in it and
#     are sent; a group of addresses is one folder however it is typed.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_device carol carol@example.com
mb_mount alice
mb_mount bob
A=$(mb_mnt alice) B=$(mb_mnt bob)

note "typo'd address: ENXIO, and the log says why"
[ "$(mb_errno mkdir "$A/outbox/bob@exmaple.com")" = ENXIO ] || fail "mkdir of a typo'd address"
grep -qx 'sealbox: outbox: mkdir bob@exmaple.com: no devices for bob@exmaple.com' "$(mb_log alice)" ||
	fail "log: $(grep 'mkdir' "$(mb_log alice)")"
[ -z "$(ls "$A/outbox")" ] || fail "refused folder listed: $(ls "$A/outbox")"

note "an address in capitals is the canonical folder"
mkdir "$A/outbox/Bob@Example.com" || fail "mkdir Bob@Example.com"
[ "$(ls "$A/outbox")" = bob@example.com ] || fail "outbox lists: $(ls "$A/outbox")"
[ "$(mb_errno mkdir "$A/outbox/bob@example.com")" = EEXIST ] || fail "canonical spelling is not the same folder"
printf 'upper\n' >"$A/outbox/Bob@Example.com/upper.txt"
printf 'lower\n' >"$A/outbox/bob@example.com/lower.txt"
[ "$(ls "$A/outbox/bob@example.com" | tr '\n' ' ')" = 'lower.txt upper.txt ' ] ||
	fail "one conversation holds: $(ls "$A/outbox/bob@example.com" | tr '\n' ' ')"
[ "$(cat "$A/outbox/BOB@EXAMPLE.COM/upper.txt")" = upper ] || fail "read under a third spelling"
I="$B/inbox/alice@example.com"
wait_for_file 30 "$I" "$(mb_inbox_re upper.txt)" >/dev/null
wait_for_file 30 "$I" "$(mb_inbox_re lower.txt)" >/dev/null

note "a group typed any way is one folder"
mkdir "$A/outbox/Carol@Example.com, BOB@example.com" || fail "mkdir of a group"
[ "$(ls "$A/outbox" | tr '\n' ' ')" = 'bob@example.com bob@example.com,carol@example.com ' ] ||
	fail "outbox lists: $(ls "$A/outbox" | tr '\n' ' ')"
mb_finish
