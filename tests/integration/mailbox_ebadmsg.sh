#!/usr/bin/env bash
# EBADMSG when stored ciphertext fails verification: one byte flipped in
# every content file under bob's HOME/data and in every sealed payload his
# store.db keeps (a received text and a received attachment), and alice's
# (her sent copies) makes every read of those
# messages fail with EBADMSG, with no byte of plaintext; restoring the bytes
# makes them readable again (so the error came from the flip).  Then, while
# mounted (verification on every read, no cache), one bit at a time at the
# first, a middle and the last byte of each content file and stored
# payload: every read of
# every message is either exactly right or EBADMSG, and each flip makes at
# least one of them EBADMSG.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
printf 'integrity matters\n' >"$O/t.txt"
mb_data 150000 13 >"$T/t.bin"
cp "$T/t.bin" "$O/t.bin"
g=$(wait_for_file 30 "$I" "$(mb_inbox_re t.txt)")
gbin=$(wait_for_file 30 "$I" "$(mb_inbox_re t.bin)")
cmp "$gbin" "$T/t.bin" || fail "attachment differs before the flip"
wait_status 30 "$O/t.bin" '^delivered 1/1$'
mb_umount bob
mb_umount alice

# dbflip NAME: flips bit 0x10 of the middle byte of every sealed payload
# NAME's store.db keeps (run twice, it restores them); prints how many.
dbflip() {
	python3 - "$(mb_home "$1")/store.db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=10)
n = 0
for rid, p in con.execute("SELECT id, payload_data FROM inbox_messages"
                          " WHERE length(payload_data) > 0").fetchall():
    p = bytearray(p)
    p[len(p) // 2] ^= 0x10
    con.execute("UPDATE inbox_messages SET payload_data = ? WHERE id = ?", (bytes(p), rid))
    n += 1
con.commit()
print(n)
PY
}
# flip_all NAME: saves, then flips one byte in the middle of, every file
# under NAME's HOME/data and every payload in its store.db.
flip_all() {
	local d n=0
	d=$(mb_home "$1")/data
	[ -d "$d" ] || fail "no $d"
	mkdir -p "$T/saved-$1"
	cp -a "$d/." "$T/saved-$1/"
	while IFS= read -r -d '' f; do
		python3 - "$f" <<'PY'
import os, sys
p = sys.argv[1]
size = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(size // 2)
    b = f.read(1)
    f.seek(size // 2)
    f.write(bytes([b[0] ^ 0x10]))
PY
		n=$((n + 1))
	done < <(find "$d" -type f -size +0 -print0)
	n=$((n + $(dbflip "$1")))
	[ "$n" -ge 2 ] || fail "$1 has $n content files and payloads, wanted at least 2"
	note "$1: flipped a byte in $n files and payloads"
}
restore_all() {
	cp -a "$T/saved-$1/." "$(mb_home "$1")/data/"
	dbflip "$1" >/dev/null
}

flip_all bob
flip_all alice
mb_mount bob
mb_mount alice
for f in "$g" "$gbin" "$O/t.txt" "$O/t.bin"; do
	got=$(mb_errno read "$f")
	[ "$got" = EBADMSG ] || fail "read of tampered $f: $got, wanted EBADMSG"
done
if cat "$g" >"$T/out" 2>"$T/cat.err"; then fail "cat of a tampered message succeeded"; fi
[ ! -s "$T/out" ] || fail "cat printed bytes of a tampered message"
grep -q "Bad message" "$T/cat.err" || fail "cat says: $(cat "$T/cat.err")"
# Listing still works: the damage is reported when content is read.
[ "$(ls "$I" | wc -l)" -eq 2 ] || fail "inbox listing after the flip: $(ls "$I")"
note "tampered: EBADMSG on every read"

mb_umount bob
mb_umount alice
restore_all bob
restore_all alice
mb_mount bob
mb_mount alice
[ "$(cat "$g")" = "integrity matters" ] || fail "restored text"
cmp "$gbin" "$T/t.bin" || fail "restored attachment"
cmp "$O/t.bin" "$T/t.bin" || fail "restored sent copy"

note "one flip at a time at chosen offsets, while mounted"
printf 'integrity matters\n' >"$T/t.txt"
cat >"$T/flips.py" <<'PY'
import errno, os, sqlite3, sys
data, pairs = sys.argv[1], sys.argv[2:]
db = sqlite3.connect(os.path.join(os.path.dirname(data), "store.db"), timeout=10)
msgs = [(pairs[i], open(pairs[i + 1], "rb").read()) for i in range(0, len(pairs), 2)]
def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        return e.errno
# One flip: every message reads exactly right or EBADMSG, at least one
# EBADMSG; then the byte is put back.
def trial(what, flip, unflip):
    flip()
    bad = 0
    for m, want in msgs:
        got = read(m)
        if got == errno.EBADMSG:
            bad += 1
        elif got != want:
            sys.exit("%s: %s gave %s" % (what, os.path.basename(m),
                     errno.errorcode.get(got, "wrong bytes")
                     if isinstance(got, int) else "wrong bytes"))
    unflip()
    if bad == 0:
        sys.exit("%s: every message still read fine" % what)
    print("%s: %d EBADMSG" % (what, bad))
def poke(path, off, b):
    with open(path, "r+b") as f:
        f.seek(off); f.write(b); f.flush(); os.fsync(f.fileno())
files = sorted(os.path.join(data, n) for n in os.listdir(data))
for path in files:
    size = os.path.getsize(path)
    for off in sorted({0, size // 3, size - 1}):
        with open(path, "rb") as f:
            f.seek(off); b = f.read(1)
        trial("%s flipped at %d" % (os.path.basename(path), off),
              lambda: poke(path, off, bytes([b[0] ^ 0x01])), lambda: poke(path, off, b))
# The payloads kept in store.db rows, the same way.
def put(rid, p):
    db.execute("UPDATE inbox_messages SET payload_data = ? WHERE id = ?", (bytes(p), rid))
    db.commit()
for rid, p in db.execute("SELECT id, payload_data FROM inbox_messages"
                         " WHERE length(payload_data) > 0").fetchall():
    for off in sorted({0, len(p) // 3, len(p) - 1}):
        q = bytearray(p)
        q[off] ^= 0x01
        trial("payload of row %d flipped at %d" % (rid, off),
              lambda: put(rid, q), lambda: put(rid, p))
for m, want in msgs:
    if read(m) != want:
        sys.exit("%s does not read back after the restores" % m)
PY
python3 "$T/flips.py" "$(mb_home bob)/data" "$g" "$T/t.txt" "$gbin" "$T/t.bin" >&2 ||
	fail "bob's flips"
python3 "$T/flips.py" "$(mb_home alice)/data" "$O/t.txt" "$T/t.txt" "$O/t.bin" "$T/t.bin" >&2 ||
	fail "alice's flips"
mb_finish
