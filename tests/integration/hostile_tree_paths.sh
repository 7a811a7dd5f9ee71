#!/usr/bin/env bash
# A received tree's paths are checked at the receiver (issue 13, point 8;
# docs/PROTOCOL.md 11.1).  No sealbox sender can write "..", "." or a '/'
# inside a component (a path is a list of components), so another user's
# device crafts them (tests/helpers/cosender.c --path): each such message is
# refused whole - logged, acknowledged, never shown, nothing written outside
# the sender's folder - while a good path from the same sender lands where
# it says, dot-folders below the first level kept as they are.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device bob bob@example.com
mb_mount bob
B=$(mb_mnt bob)
new_device mallory mallory@example.com >/dev/null
I="$B/inbox/mallory@example.com"

send() { cs --keys "$T/mallory" --to bob@example.com "$@" >/dev/null || fail "cosender $*"; }
send --path "..,..,..,etc" --name passwd --text "owned"
send --path "..,x" --name up.txt --text "up"
send --path "a/b,c" --name slash.txt --text "slash"
send --path ".,x" --name dot.txt --text "dot"
send --path "ok,.git,objects" --name fine.txt --text "fine"
f=$(wait_for_file 30 "$I" '^ok$')
[ "$(cat "$I/ok/.git/objects/fine.txt")" = fine ] || fail "the good path did not land where it says"
wait_queue_empty 30 bob
n=$(grep -c "rejected message .* from mallory@example.com/.*inner message" "$(mb_log bob)" || true)
[ "$n" -eq 4 ] || fail "bob rejected $n of the 4 bad paths: $(grep rejected "$(mb_log bob)")"
[ "$(ls -A "$I" | tr '\n' ' ')" = "ok " ] || fail "mallory's folder holds: $(ls -A "$I")"
[ "$(find "$B/inbox" -type f | wc -l)" -eq 1 ] || fail "files in bob's inbox: $(find "$B/inbox" -type f)"
[ ! -e "$B/etc" ] && [ ! -e "$(mb_home bob)/etc" ] && [ ! -e "$T/bob/etc" ] ||
	fail "something was written outside the inbox"
mb_finish
