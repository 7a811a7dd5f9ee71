#!/usr/bin/env bash
# One attachment too big for the receiver's disk stalls nothing and is not
# downloaded again and again (issue 12, finding 2).  Bob's home is a 24 MiB
# tmpfs; alice sends him a 40 MiB attachment, then a text.  The old worker
# took ENOSPC for a passing fault of the whole queue: it fetched the blob
# over and over and nothing behind it arrived.  Now the free space is
# checked against the attachment's size before any byte is fetched; the
# item waits (log line with the sizes, `inbox_waiting` for sealbox status),
# the text behind it arrives at once, the relay serves the blob not even
# once, the item stays unacknowledged at the relay; with room made (the
# tmpfs grown) it arrives by itself, byte for byte, once.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root to mount a small tmpfs"
mkdir -p "$T/bob/home"
mount -t tmpfs -o size=24m,mode=0700 tmpfs "$T/bob/home" || fail "cannot mount a tmpfs"
on_exit "umount -l '$T/bob/home'"

mb_alice_to_bob
mb_data $((40 << 20)) 11 >"$T/big.bin"
cp "$T/big.bin" "$O/big.bin"
wait_status 60 "$O/big.bin" '^(sent|delivered 0/1)$'
echo "behind the big one" >"$O/after.txt"

g=$(wait_for_file 15 "$I" "$(mb_inbox_re after.txt)")
[ "$(cat "$g")" = "behind the big one" ] || fail "the text reads '$(cat "$g")'"
wait_until "$(mb_secs 10)" grep -q 'attachment needs .* MiB free in .*, .* MiB free; waiting' "$(mb_log bob)" ||
	fail "no 'needs ... free' line in bob's log: $(tail -3 "$(mb_log bob)")"
[ "$(mb_count "$I" "$(mb_inbox_re big.bin)")" -eq 0 ] || fail "big.bin listed although it cannot fit"
[ "$(mb_queue_len bob)" -eq 1 ] || fail "bob's relay queue has $(mb_queue_len bob) items, wanted the big one"
waiting=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(
	"SELECT count(*), max(size) FROM inbox_waiting").fetchone())' "$(mb_home bob)/store.db")
[ "$waiting" = "(1, $((40 << 20)))" ] || fail "inbox_waiting says $waiting"
sleep 6
served=$(grep -c 'blob sent' "$RLOG" || true)
[ "$served" -eq 0 ] || fail "the relay served the blob $served times to a receiver without room"
grep -q 'cannot store item' "$(mb_log bob)" && fail "the whole queue was held for one item"

note "room made: it arrives by itself"
mount -o remount,size=160m "$T/bob/home" || fail "cannot grow the tmpfs"
g=$(wait_for_file 90 "$I" "$(mb_inbox_re big.bin)")
cmp "$g" "$T/big.bin" || fail "big.bin differs at bob"
wait_status 30 "$O/big.bin" '^delivered 1/1$'
[ "$(grep -c 'blob sent' "$RLOG")" -eq 1 ] || fail "the blob was served $(grep -c 'blob sent' "$RLOG") times"
[ "$(mb_count "$I" "$(mb_inbox_re big.bin)")" -eq 1 ] || fail "big.bin listed more than once"
mb_umount bob
umount "$T/bob/home" || fail "cannot unmount bob's tmpfs"
mb_finish
