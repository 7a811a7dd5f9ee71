#!/usr/bin/env bash
# A co-recipient cannot destroy a genuine message by using its message id
# first (issue 12, finding 1).  Mallory, in a group with alice and carol,
# learns the id of carol's message from her own copy and gets a message of
# her own with that id to alice first.  The replay cache used to be keyed
# by the id alone, so carol's genuine message was then "a replay": rejected,
# acknowledged (deleted at the relay) and reported delivered to carol.
#
# Mallory and carol are other users' devices driven by the test helper
# cosender (real keys, real seals and signatures, a real relay); alice is a
# real mount.  Mallory sends first, carol second, with the same id: alice
# must show both, each once and each under its own sender.  (Replays of a
# stored payload, same id or new, stay refused: mailbox_tamper.sh.)
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
new_device mallory mallory@example.com >/dev/null
new_device carol carol@example.com >/dev/null
mb_mount alice
A=$(mb_mnt alice)

id=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
note "mallory sends alice a message with id $id first"
out=$(cs --keys "$T/mallory" --to alice@example.com,carol@example.com --msgid "$id" \
	--name from-mallory.txt --text "mallory's own words") || fail "mallory's send"
[ "$out" = "$id" ] || fail "cosender sent $out, not $id"
f=$(wait_for_file 20 "$A/inbox/mallory@example.com" "$(mb_inbox_re from-mallory.txt)")
[ "$(cat "$f")" = "mallory's own words" ] || fail "mallory's message reads wrong"

note "carol's genuine message with the same id"
cs --keys "$T/carol" --to alice@example.com,mallory@example.com --msgid "$id" \
	--name from-carol.txt --text "carol's genuine message" >/dev/null || fail "carol's send"
f=$(wait_for_file 20 "$A/inbox/carol@example.com" "$(mb_inbox_re from-carol.txt)")
[ "$(cat "$f")" = "carol's genuine message" ] || fail "carol's message reads wrong"
wait_queue_empty 20 alice
[ "$(mb_count "$A/inbox/carol@example.com" .)" -eq 1 ] || fail "carol's folder: $(ls "$A/inbox/carol@example.com")"
[ "$(mb_count "$A/inbox/mallory@example.com" .)" -eq 1 ] || fail "mallory's folder: $(ls "$A/inbox/mallory@example.com")"
grep -q "rejected message $id from carol" "$(mb_log alice)" &&
	fail "carol's genuine message was rejected: $(grep rejected "$(mb_log alice)")"

mb_finish
