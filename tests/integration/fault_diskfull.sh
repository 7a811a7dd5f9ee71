#!/usr/bin/env bash
# Disk full on the relay and on the agents (each data dir / home on its own
# small tmpfs, filled up with a filler file):
#   relay full   alice's send (a message; an attachment, refused before its
#                upload) is refused by the relay: the file's status is
#                "queued: relay out of disk space, retrying", nothing reaches
#                bob yet; space back: it goes out by itself, once.  A blob
#                upload that hits the full disk halfway is answered "out of
#                disk space" on a connection that stays usable, and leaves
#                no partial file.
#   bob full     bob cannot store an incoming message: it stays queued at
#                the relay (not acknowledged); space back: it arrives, once.
#   alice full   writing into the outbox fails with ENOSPC (a clear errno,
#                no EIO), earlier files are untouched; space back: the same
#                name is written and sent.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root to mount a small tmpfs"
small_fs() {
	mkdir -p "$1"
	mount -t tmpfs -o size="$2",mode=0700 tmpfs "$1" || fail "cannot mount a tmpfs on $1"
	on_exit "umount -l '$1'"
}
# fill DIR: takes every free byte (a filler file) and checks the fs is full.
fill() {
	dd if=/dev/zero of="$1/filler" bs=64k 2>/dev/null || true
	[ "$(df --output=avail -B1 "$1" | tail -1)" -lt 65536 ] || fail "$1 not full"
}
unfill() { rm -f "$1/filler"; }

small_fs "$T/relay" 24m
small_fs "$T/bob/home" 24m
small_fs "$T/alice/home" 24m
mb_alice_to_bob
echo "before anything is full" >"$O/first.txt"
wait_for_file 20 "$I" "$(mb_inbox_re first.txt)" >/dev/null

note "relay full: a message"
fill "$RDATA"
echo "sent while the relay's disk is full" >"$O/relay-full.txt"
# Queued (never dropped, never "failed"), and the status says why.
wait_status 20 "$O/relay-full.txt" '^queued: relay out of disk space, retrying$'
[ "$(mb_count "$I" "$(mb_inbox_re relay-full.txt)")" -eq 0 ] || fail "arrived although the relay was full"
grep -q "send refused .*: out of disk space" "$RLOG" || fail "the relay did not log its full disk"
unfill "$RDATA"
# Space back: it goes out by itself, no rewrite needed.
wait_status 60 "$O/relay-full.txt" '^delivered 1/1$'
g=$(wait_for_file 20 "$I" "$(mb_inbox_re relay-full.txt)")
[ "$(cat "$g")" = "sent while the relay's disk is full" ] || fail "bob read '$(cat "$g")'"

note "relay full: an attachment (refused before its upload)"
fill "$RDATA"
mb_data $((256 * 1024)) 5 >"$T/att"
cp "$T/att" "$O/relay-full.bin"
wait_status 20 "$O/relay-full.bin" '^queued: relay out of disk space, retrying$'
grep -q "blob refused .*: out of disk space" "$RLOG" || fail "the relay did not log the refused blob"
[ -z "$(ls -A "$RDATA/blobs/tmp")" ] || fail "a partial blob was left in blobs/tmp"
unfill "$RDATA"
wait_status 60 "$O/relay-full.bin" '^delivered 1/1$'
g=$(wait_for_file 20 "$I" "$(mb_inbox_re relay-full.bin)")
cmp "$g" "$T/att" || fail "relay-full.bin differs at bob"

note "relay full halfway through an upload"
# The upload is fed through a FIFO, so the disk fills between its first
# and its last byte: the relay drops the partial file, answers "out of disk
# space" once the declared bytes are in, and keeps the connection.
new_device carol carol@example.com >/dev/null
mkfifo "$T/upload"
avail=$(df --output=avail -B1 "$RDATA" | tail -1)
up=$((4 << 20))
[ "$avail" -gt $((up + (2 << 20))) ] || fail "only $avail bytes free on the relay's tmpfs"
rc blob-put --keys "$T/carol" --size "$up" --timeout 30 "$T/upload" >"$T/put.out" 2>"$T/put.err" &
put=$!
exec {w}>"$T/upload"
head -c $((1 << 20)) /dev/zero >&$w
wait_until 10 eval '[ -n "$(ls -A "$RDATA/blobs/tmp")" ]' || fail "the upload did not start"
fill "$RDATA"
head -c $((up - (1 << 20))) /dev/zero >&$w
exec {w}>&-
st=0
wait "$put" || st=$?
[ "$st" -ne 0 ] || fail "an upload into a full disk succeeded: $(cat "$T/put.out")"
grep -q "out of disk space" "$T/put.err" || fail "upload failed with '$(cat "$T/put.err")'"
grep -q "blob write failed .*No space left on device" "$RLOG" || fail "no 'blob write failed' in the relay log"
[ -z "$(ls -A "$RDATA/blobs/tmp")" ] || fail "the partial blob was left in blobs/tmp"
grep -q "close conn=.* reason=blob" "$RLOG" && fail "the relay dropped the connection instead of answering"
unfill "$RDATA"
head -c "$up" /dev/urandom >"$T/up.bin"
uri=$(rc blob-put --keys "$T/carol" --timeout 30 "$T/up.bin" 2>"$T/put.err") ||
	fail "upload after space came back: $(cat "$T/put.err")"
rc blob-get --keys "$T/carol" --timeout 30 "$uri" "$T/down.bin" >/dev/null 2>&1 ||
	fail "download after space came back"
cmp "$T/up.bin" "$T/down.bin" || fail "the blob came back different"

note "bob's home full"
fill "$(mb_home bob)"
echo "sent while bob's disk is full" >"$O/bob-full.txt"
wait_status 20 "$O/bob-full.txt" '^(sent|delivered 0/1)$'
sleep 3
[ "$(mb_count "$I" "$(mb_inbox_re bob-full.txt)")" -eq 0 ] || fail "listed although bob could not store it"
[ "$(mb_queue_len bob)" -ge 1 ] || fail "bob acknowledged a message he could not store"
grep -q "cannot store item" "$(mb_log bob)" || fail "bob logged nothing about the full disk"
unfill "$(mb_home bob)"
g=$(wait_for_file 60 "$I" "$(mb_inbox_re bob-full.txt)")
[ "$(cat "$g")" = "sent while bob's disk is full" ] || fail "bob read '$(cat "$g")'"
wait_status 30 "$O/bob-full.txt" '^delivered 1/1$'

note "alice's home full"
fill "$(mb_home alice)"
mb_data $((1 << 20)) 7 >"$T/big"
rc=0
cp "$T/big" "$O/alice-full.bin" 2>"$T/cp.err" || rc=$?
[ "$rc" -ne 0 ] || fail "a 1 MiB write into a full home succeeded"
grep -q "No space left on device" "$T/cp.err" || fail "cp failed with '$(cat "$T/cp.err")', not ENOSPC"
cat "$O/first.txt" | grep -q "before anything is full" || fail "an earlier file changed"
unfill "$(mb_home alice)"
rm -f "$O/alice-full.bin" 2>/dev/null || true
cp "$T/big" "$O/alice-full.bin" || fail "writing again after space came back"
g=$(wait_for_file 60 "$I" "$(mb_inbox_re alice-full.bin)")
cmp "$g" "$T/big" || fail "alice-full.bin differs at bob"
wait_status 30 "$O/alice-full.bin" '^delivered 1/1$'
for f in first.txt relay-full.txt relay-full.bin bob-full.txt alice-full.bin; do
	[ "$(mb_count "$I" "$(mb_inbox_re "$f")")" -eq 1 ] || fail "$f is not in bob's inbox exactly once"
done
mb_umount alice
mb_umount bob
relay_stop
umount "$T/relay" "$T/bob/home" "$T/alice/home" || fail "cannot unmount the small file systems"
mb_finish
