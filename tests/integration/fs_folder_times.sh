#!/usr/bin/env bash
# Folder times follow their entries and never go back (issue 13, point 4):
# a create, rename, rm or mkdir inside a folder moves its mtime and ctime
# forward (to the nanosecond); rm of the newest file used to move the
# folder's mtime back to the next newest file's, and its ctime never
# changed.  Also: utimensat keeps the atime it is given (it was dropped,
# atime always read as the mtime), alone or with the mtime.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
# ns DIR: "mtime_ns ctime_ns" of DIR
ns() { python3 -c 'import os,sys; s=os.stat(sys.argv[1]); print(s.st_mtime_ns, s.st_ctime_ns)' "$1"; }
# forward WHAT DIR BEFORE: both times of DIR moved past BEFORE
forward() {
	local now m0 c0 m1 c1
	now=$(ns "$2")
	read -r m0 c0 <<<"$3"
	read -r m1 c1 <<<"$now"
	[ "$m1" -gt "$m0" ] || fail "$1: $2's mtime went from $m0 to $m1"
	[ "$c1" -gt "$c0" ] || fail "$1: $2's ctime went from $c0 to $c1"
	[ "$c1" -ge "$m1" ] || fail "$1: $2's ctime $c1 is before its mtime $m1"
}

note "outbox/ itself gains a folder"
mb_device carol carol@example.com
t=$(ns "$A/outbox"); sleep 0.01
mkdir "$A/outbox/carol@example.com"
forward "mkdir of a conversation" "$A/outbox" "$t"
t=$(ns "$O"); sleep 0.01
printf 'old\n' >"$O/old.txt"
touch -d '2001-02-03 04:05:06 UTC' "$O/old.txt"
forward "create" "$O" "$t"
wait_status 20 "$O/old.txt" '^(sent|delivered 1/1)$'

t=$(ns "$O"); sleep 0.01
printf 'new\n' >"$O/new.txt"
forward "create" "$O" "$t"
wait_status 20 "$O/new.txt" '^(sent|delivered 1/1)$'
t=$(ns "$O"); sleep 0.01
mv "$O/new.txt" "$O/renamed.txt"
forward "rename" "$O" "$t"
t=$(ns "$O"); sleep 0.01
rm "$O/renamed.txt"
forward "rm of the newest file" "$O" "$t"
t=$(ns "$O"); sleep 0.01
rm "$O/old.txt"
forward "rm of the last file" "$O" "$t"

note "inbox: rm of the newest message moves the folder forward too"
printf 'first\n' >"$O/first.txt"
wait_for_file 30 "$I" "$(mb_inbox_re first.txt)" >/dev/null
sleep 1.1
printf 'second\n' >"$O/second.txt"
f=$(wait_for_file 30 "$I" "$(mb_inbox_re second.txt)")
sleep 1.1        # the kernel's attribute cache of the folder (1 s)
t=$(ns "$I"); sleep 0.01
rm "$f"
forward "rm in inbox" "$I" "$t"

note "utimensat: atime kept, with or without the mtime"
printf 'times\n' >"$O/times.txt"
touch -a -d '2010-01-01 00:00:00.25 UTC' "$O/times.txt"
touch -m -d '2011-01-01 00:00:00.5 UTC' "$O/times.txt"
read -r at mt <<<"$(python3 -c 'import os,sys; s=os.stat(sys.argv[1]); print(s.st_atime_ns, s.st_mtime_ns)' "$O/times.txt")"
[ "$at" = 1262304000250000000 ] || fail "atime $at, wanted 2010-01-01 00:00:00.25"
[ "$mt" = 1293840000500000000 ] || fail "mtime $mt, wanted 2011-01-01 00:00:00.5"
touch -d '2012-01-01 UTC' "$O/times.txt"
[ "$(stat -c '%X %Y' "$O/times.txt")" = "1325376000 1325376000" ] ||
	fail "touch -d set atime/mtime to $(stat -c '%X %Y' "$O/times.txt")"
cat "$O/times.txt" >/dev/null
[ "$(stat -c %X "$O/times.txt")" = 1325376000 ] || fail "a read changed the atime (documented: it does not)"
note "a subfolder (issue 13, point 8) and its parent"
t=$(ns "$O"); sleep 0.01
mkdir "$O/sub"
forward "mkdir" "$O" "$t"
t=$(ns "$O/sub"); sleep 0.01
printf 'deep\n' >"$O/sub/deep.txt"
forward "create in a subfolder" "$O/sub" "$t"
mb_finish
