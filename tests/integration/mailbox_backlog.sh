#!/usr/bin/env bash
# Recipient offline during the send: alice's messages (two texts and an
# attachment) are accepted and queued at the relay ("sent", not delivered);
# when bob mounts for the first time they all arrive, are acknowledged (the
# relay's queue for him empties) and stay after a remount, once each.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_mount alice
A=$(mb_mnt alice) B=$(mb_mnt bob)

note "bob offline: alice sends three messages"
mkdir "$A/outbox/bob@example.com"
printf 'first\n' >"$A/outbox/bob@example.com/one.txt"
printf 'second\n' >"$A/outbox/bob@example.com/two.txt"
mb_data 300000 7 >"$T/three.bin"
cp "$T/three.bin" "$A/outbox/bob@example.com/three.bin"
for f in one.txt two.txt three.bin; do
	wait_status 30 "$A/outbox/bob@example.com/$f" '^(sent|delivered 0/1)$'
done
[ "$(mb_queue_len bob)" -eq 3 ] || fail "relay queue for bob: $(mb_queue_len bob), wanted 3"
sleep 1
for f in one.txt two.txt three.bin; do
	[[ "$(mb_status "$A/outbox/bob@example.com/$f")" =~ ^(sent|delivered\ 0/1)$ ]] ||
		fail "$f reports '$(mb_status "$A/outbox/bob@example.com/$f")' while bob is offline"
done

note "bob mounts: the backlog arrives"
mb_mount bob
I="$B/inbox/alice@example.com"
g1=$(wait_for_file 30 "$I" "$(mb_inbox_re one.txt)")
g2=$(wait_for_file 30 "$I" "$(mb_inbox_re two.txt)")
g3=$(wait_for_file 30 "$I" "$(mb_inbox_re three.bin)")
[ "$(cat "$g1")" = first ] && [ "$(cat "$g2")" = second ] || fail "texts differ"
cmp "$g3" "$T/three.bin" || fail "attachment differs"
for f in one.txt two.txt three.bin; do
	wait_status 30 "$A/outbox/bob@example.com/$f" '^delivered 1/1$'
done
wait_queue_empty 30 bob

note "stored durably: a remount shows the same three, once each"
mb_umount bob
mb_mount bob
sleep 1
[ "$(ls "$I" | wc -l)" -eq 3 ] || fail "after remount: $(ls "$I")"
cmp "$(wait_for_file 15 "$I" "$(mb_inbox_re three.bin)")" "$T/three.bin" || fail "attachment after remount"
mb_finish
