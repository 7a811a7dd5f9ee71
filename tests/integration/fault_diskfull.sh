#!/usr/bin/env bash
# Disk full on the relay and on the agents (each data dir / home on its own
# small tmpfs, filled up with a filler file):
#   relay full   alice's send is refused by the relay: the file's status says
#                so (not "delivered"), nothing reaches bob yet; space back:
#                it is delivered, once.
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

note "relay full"
fill "$RDATA"
echo "sent while the relay's disk is full" >"$O/relay-full.txt"
sleep 3
st=$(mb_status "$O/relay-full.txt")
note "status while the relay is full: '$st'"
[[ "$st" =~ ^(queued|failed:\ .+)$ ]] || fail "status '$st' while the relay could not store the send"
[ "$(mb_count "$I" "$(mb_inbox_re relay-full.txt)")" -eq 0 ] || fail "arrived although the relay was full"
grep -qiE "full|space|storage" "$RLOG" || fail "the relay logged nothing about its full disk"
unfill "$RDATA"
# A failed send is retried by writing the file again; a queued one by itself.
if [[ "$st" == failed:* ]]; then
	echo "sent while the relay's disk is full" >"$O/relay-full.txt"
fi
wait_status 60 "$O/relay-full.txt" '^delivered 1/1$'
g=$(wait_for_file 20 "$I" "$(mb_inbox_re relay-full.txt)")
[ "$(cat "$g")" = "sent while the relay's disk is full" ] || fail "bob read '$(cat "$g")'"

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
for f in first.txt relay-full.txt bob-full.txt alice-full.bin; do
	[ "$(mb_count "$I" "$(mb_inbox_re "$f")")" -eq 1 ] || fail "$f is not in bob's inbox exactly once"
done
mb_umount alice
mb_umount bob
relay_stop
umount "$T/relay" "$T/bob/home" "$T/alice/home" || fail "cannot unmount the small file systems"
mb_finish
