#!/usr/bin/env bash
# Late arrivals are visible to time-based tools (issue 13, point 5): an
# inbox file keeps the sender's time as its mtime (like cp -p) and has its
# arrival here as its ctime, to the nanosecond; its folder's ctime is its
# newest arrival.  So `find -cnewer REF` lists mail that arrived after REF
# even when it was sent before it (its ctime used to be the relay's time in
# whole seconds, so such mail was invisible).
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
mb_umount bob
echo "sent while bob was away" >"$O/late.txt"
wait_status 20 "$O/late.txt" '^(sent|delivered 0/1)$'
sleep 2
touch "$T/ref"
sleep 1
mb_mount bob
f=$(wait_for_file 20 "$I" "$(mb_inbox_re late.txt)")
sleep 1.2     # past the kernel's attribute cache (1 s)
[ "$(stat -c %Y "$f")" -lt "$(stat -c %Y "$T/ref")" ] ||
	fail "mtime $(stat -c %y "$f") is not the sender's (before $(stat -c %y "$T/ref"))"
[ "$(find "$I" -type f -cnewer "$T/ref" | wc -l)" -eq 1 ] ||
	fail "find -cnewer does not see the late arrival: ctime $(stat -c %z "$f")"
[ "$(find "$B/inbox" -mindepth 1 -type d -cnewer "$T/ref" | wc -l)" -eq 1 ] ||
	fail "the folder's ctime is not its newest arrival: $(stat -c %z "$I")"
[[ "$(stat -c %z "$f")" =~ \.[0-9]{9} ]] && [[ ! "$(stat -c %z "$f")" =~ \.000000000 ]] ||
	fail "ctime has no sub-second part: $(stat -c %z "$f")"
[ "$(find "$I" -type f -newer "$T/ref" | wc -l)" -eq 0 ] || fail "-newer (mtime) should not list it"
mb_finish
