#!/usr/bin/env bash
# inotify sees arrivals (issue 13, point 6).  The kernel raises no fsnotify
# event for what a FUSE daemon adds, and no FUSE notification makes it
# (inval_entry, inval_inode, expire_entry, delete: tried, see
# docs/ARCHITECTURE.md), so the mount announces each arrival through the
# VFS itself: one of its threads creates the new name (and a new sender's
# folder) on its own mount, which the kernel reports like any other create.
# A watcher on a sender's folder sees CREATE and CLOSE_WRITE of the new
# file; one on inbox/ sees a new sender's folder (CREATE,ISDIR).  The
# folder's attributes are fresh the moment the event is seen (the kernel's
# cache of them is invalidated), so its ctime is the new file's.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"
command -v inotifywait >/dev/null || fail "inotifywait not installed (inotify-tools; scripts/deps.sh)"

_lines() { [ "$(wc -l <"$1")" -ge "$2" ]; }

mb_alice_to_bob
mb_device carol carol@example.com
mb_mount carol
mkdir "$(mb_mnt carol)/outbox/bob@example.com"
printf 'first\n' >"$O/first.txt"
wait_for_file 20 "$I" "$(mb_inbox_re first.txt)" >/dev/null

inotifywait -m -e create -e close_write "$I" "$B/inbox" >"$T/events" 2>"$T/inotify.err" &
iw=$!
on_exit "kill $iw"
wait_until "$(mb_secs 10)" grep -q "Watches established" "$T/inotify.err" ||
	fail "inotifywait did not start: $(cat "$T/inotify.err")"

# Keep the folder's attributes in the kernel's cache (1 s) up to the
# arrival: only an invalidation makes the stat below see the new ctime.
( while :; do stat "$I" >/dev/null 2>&1; sleep 0.05; done ) &
looper=$!
on_exit "kill $looper"
printf 'second\n' >"$O/second.txt"
wait_until "$(mb_secs 20)" _lines "$T/events" 2 || fail "inotify saw: $(cat "$T/events")"
dir_ctime=$(stat -c %z "$I")
kill "$looper"
f2=$(wait_for_file 5 "$I" "$(mb_inbox_re second.txt)")
[ "$dir_ctime" = "$(stat -c %z "$f2")" ] ||
	fail "folder ctime $dir_ctime right after the event, the new file's is $(stat -c %z "$f2")"

printf 'from carol\n' >"$(mb_mnt carol)/outbox/bob@example.com/hi.txt"
wait_until "$(mb_secs 20)" _lines "$T/events" 3 || fail "inotify saw: $(cat "$T/events")"
sleep 0.5       # nothing more may come
kill "$iw"
n2=$(basename "$f2")
printf '%s\n' "$I/ CREATE $n2" "$I/ CLOSE_WRITE,CLOSE $n2" \
	"$B/inbox/ CREATE,ISDIR carol@example.com" >"$T/want"
cmp "$T/want" "$T/events" || fail "events: $(cat "$T/events")"
[ "$(cat "$f2")" = second ] || fail "second.txt reads '$(cat "$f2")'"
[ "$(cat "$B/inbox/carol@example.com/"*hi.txt)" = "from carol" ] || fail "carol's message"
grep -q "announce" "$(mb_log bob)" && fail "announcing logged a failure: $(grep announce "$(mb_log bob)")"
mb_finish
