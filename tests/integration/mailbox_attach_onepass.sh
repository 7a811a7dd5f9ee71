#!/usr/bin/env bash
# An attachment goes out in one pass (issue 15): the blob streams from the
# encrypted spool to the relay, encrypted and hashed on the way, with no
# second copy of it on disk (no temp file in HOME/data while it uploads);
# no plaintext anywhere on disk (the spool, bob's copy, the relay's blob);
# and a file rewritten at earlier offsets while it is written (patched
# headers, a hole filled later, a shrink and regrowth) arrives with its
# final bytes.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
AH=$(mb_home alice) BH=$(mb_home bob)

# A known plaintext: a marker repeated over 24 MiB (nothing compresses it
# on the way, so a plaintext copy anywhere would hold it).
CANARY="sealbox-onepass-canary-$$-7f3a9c"
python3 - "$T/canary.bin" "$CANARY" <<'PY'
import sys
line = (sys.argv[2] + "\n").encode()
with open(sys.argv[1], "wb") as f:
    f.write(line * ((24 << 20) // len(line)))
PY

note "the upload of a 24 MiB file keeps no temp copy of the blob in HOME/data"
# The relay stops (SIGSTOP) the moment it logs the upload's start: the
# sending mount is then in the middle of its upload, whatever the speed.
mb_relay_stop_at_upload
cp "$T/canary.bin" "$O/canary.txt"
mb_relay_stopped_wait 30 || fail "the upload of canary.txt never started"
temps=$(for l in /proc/"$(mb_pid alice)"/fd/*; do readlink "$l" 2>/dev/null; done |
	grep -F "$AH/data/" | grep -c ' (deleted)$' || true)
kill -CONT "$RPID"
[ "$temps" -eq 0 ] || fail "the sending mount held $temps unnamed file(s) in HOME/data during the upload"
got=$(wait_for_file 60 "$I" "$(mb_inbox_re canary.txt)")
cmp "$T/canary.bin" "$got" || fail "bob's canary.txt differs"
wait_status 30 "$O/canary.txt" '^(sent|delivered .*)$'

note "no plaintext on disk: alice's spool, bob's copy, the relay's blob"
for d in "$AH" "$BH" "$RDATA"; do
	if grep -rqaF "$CANARY" "$d"; then
		fail "plaintext of canary.txt found under $d: $(grep -rlaF "$CANARY" "$d" | head -3)"
	fi
done

# (each send logs whether the blob's key and hashes were made while the
# file was written, or by a pass of the sender's own)
made_while_written() { grep -c "$1: blob key and hashes made while it was written" "$(mb_log alice)" || true; }
[ "$(made_while_written canary.txt)" -eq 1 ] ||
	fail "canary.txt, written in order, was not encrypted and hashed as it was written"

note "in order but not simply: a sync half-way, appends after it, a hole"
python3 - "$O/appended.bin" "$O/sparse.bin" "$T" <<'PY'
import os, sys, random
rnd = random.Random(16)
def blk(n):
    return bytes(rnd.getrandbits(8) for _ in range(n))
app, sparse, t = sys.argv[1], sys.argv[2], sys.argv[3]
a = blk(100000) + blk(1 << 20) + blk(77777)
fd = os.open(app, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, a[:100000])
os.fsync(fd)                 # the short last chunk sealed final ...
os.write(fd, a[100000:])     # ... then extended
os.close(fd)
open(os.path.join(t, "appended.want"), "wb").write(a)
head, tail = blk(70000), blk(5000)
fd = os.open(sparse, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, head)
os.pwrite(fd, tail, 5 << 20) # a hole of zeros in between
os.close(fd)
open(os.path.join(t, "sparse.want"), "wb").write(head + bytes((5 << 20) - 70000) + tail)
PY
for f in appended.bin sparse.bin; do
	got=$(wait_for_file 60 "$I" "$(mb_inbox_re "$f")")
	cmp "$T/${f%.bin}.want" "$got" || fail "bob's $f differs"
	wait_status 30 "$O/$f" '^(sent|delivered .*)$'
	[ "$(made_while_written "$f")" -eq 1 ] || fail "$f was not encrypted and hashed as it was written"
done

note "rewrites at earlier offsets while the file is written"
python3 - "$O/patched.bin" "$T/patched.want" <<'PY'
import os, sys, random
rnd = random.Random(15)
def blk(n):
    return bytes(rnd.getrandbits(8) for _ in range(n))
path, want = sys.argv[1], sys.argv[2]
model = bytearray()
def pw(fd, data, off):
    os.pwrite(fd, data, off)
    end = off + len(data)
    if end > len(model):
        model.extend(b"\0" * (end - len(model)))
    model[off:end] = data
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
piece = blk(1 << 20)
for i in range(5):                      # 5 MiB in order
    pw(fd, piece[i * 1000:] + piece[:i * 1000], i << 20)
pw(fd, b"HEADER-PATCHED" * 10, 0)        # a header patched at the end
pw(fd, blk(70000), 200000)              # across a 64 KiB chunk boundary
pw(fd, blk(5000), (9 << 20) + 123)      # a hole, filled later
pw(fd, blk(4 << 20), 5 << 20)
os.fsync(fd)                            # a sync in the middle
pw(fd, blk(3000), (3 << 20) + 7)
os.ftruncate(fd, (6 << 20) + 5)         # shrink below what was written ...
model[(6 << 20) + 5:] = b""
pw(fd, blk(100000), (7 << 20))          # ... and grow again past a gap
os.close(fd)
open(want, "wb").write(model)
PY
got=$(wait_for_file 60 "$I" "$(mb_inbox_re patched.bin)")
cmp "$T/patched.want" "$got" || fail "bob's patched.bin is not the final content"
cmp "$T/patched.want" "$O/patched.bin" || fail "alice's patched.bin reads back wrong"
# Its first bytes changed after they were hashed: the sender's own pass.
[ "$(made_while_written patched.bin)" -eq 0 ] ||
	fail "patched.bin went with the hashes of bytes it no longer has"
mb_finish
