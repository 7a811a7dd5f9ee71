#!/usr/bin/env bash
# A text written into alice's outbox/bob@example.com/ arrives decrypted in
# bob's inbox/alice@example.com/ (incoming name format, real size, the
# sender's xattrs), reads back on alice's side as sent, with its status
# going to "delivered 1/1"; bob's reply arrives in alice's inbox.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_mount alice
mb_mount bob
A=$(mb_mnt alice) B=$(mb_mnt bob)

note "alice -> bob"
mkdir "$A/outbox/bob@example.com" || fail "mkdir outbox/bob@example.com"
printf 'Hello Bob, this is Alice.\n' >"$A/outbox/bob@example.com/hello.txt"
[ "$(cat "$A/outbox/bob@example.com/hello.txt")" = "Hello Bob, this is Alice." ] ||
	fail "alice's sent file does not read back as sent"
[ "$(stat -c %s "$A/outbox/bob@example.com/hello.txt")" -eq 26 ] || fail "outbox size"
st=$(mb_status "$A/outbox/bob@example.com/hello.txt")
[[ "$st" =~ ^(queued(: .+)?|sent|delivered\ [01]/1)$ ]] || fail "status right after close: '$st'"
got=$(wait_for_file 30 "$B/inbox/alice@example.com" "$(mb_inbox_re hello.txt)")
[ "$(cat "$got")" = "Hello Bob, this is Alice." ] || fail "bob read '$(cat "$got")'"
[ "$(stat -c %s "$got")" -eq 26 ] || fail "inbox size $(stat -c %s "$got"), wanted 26"
[ "$(getfattr --absolute-names --only-values -n user.sealbox.sender "$got")" = alice@example.com ] ||
	fail "user.sealbox.sender"
dev=$(getfattr --absolute-names --only-values -n user.sealbox.device "$got")
[[ "$dev" =~ ^[0-9a-f]{1,16}$ ]] && [ $((16#$dev)) -eq "$(mb_device_id alice)" ] ||
	fail "user.sealbox.device '$dev', wanted alice's device $(mb_device_id alice) in hex"
wait_status 30 "$A/outbox/bob@example.com/hello.txt" '^delivered 1/1$'
# The incoming name carries the send time (UTC), within a minute of now.
stamp=$(basename "$got" | cut -c1-15)
sent=$(date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2} ${stamp:9:2}:${stamp:11:2}:${stamp:13:2}" +%s)
[ $(( $(date +%s) - sent )) -lt 60 ] && [ $(( sent - $(date +%s) )) -lt 5 ] ||
	fail "name's time $stamp is not now"

note "bob -> alice"
mkdir "$B/outbox/alice@example.com"
printf 'Hi Alice!\n' >"$B/outbox/alice@example.com/reply.txt"
got=$(wait_for_file 30 "$A/inbox/bob@example.com" "$(mb_inbox_re reply.txt)")
[ "$(cat "$got")" = "Hi Alice!" ] || fail "alice read '$(cat "$got")'"
wait_status 30 "$B/outbox/alice@example.com/reply.txt" '^delivered 1/1$'

note "each side lists exactly one message, both folders"
[ "$(ls "$B/inbox/alice@example.com" | wc -l)" -eq 1 ] || fail "bob's inbox: $(ls "$B/inbox/alice@example.com")"
[ "$(ls "$A/inbox/bob@example.com" | wc -l)" -eq 1 ] || fail "alice's inbox: $(ls "$A/inbox/bob@example.com")"
[ "$(ls "$A/inbox")" = bob@example.com ] || fail "alice's inbox folders: $(ls "$A/inbox")"
[ "$(ls "$B/outbox")" = alice@example.com ] || fail "bob's outbox folders: $(ls "$B/outbox")"
[ "$(mb_sent_count alice)" -eq 1 ] && [ "$(mb_sent_count bob)" -eq 1 ] ||
	fail "relay saw $(mb_sent_count alice)+$(mb_sent_count bob) sends, wanted 1+1"
mb_finish
