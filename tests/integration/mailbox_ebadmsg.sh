#!/usr/bin/env bash
# EBADMSG when stored ciphertext fails verification: one byte flipped in
# every content file under bob's HOME/data (a received text and a received
# attachment) and alice's (her sent copies) makes every read of those
# messages fail with EBADMSG, with no byte of plaintext; restoring the bytes
# makes them readable again (so the error came from the flip).  Then, while
# mounted (verification on every read, no cache), one bit at a time at the
# first, a middle and the last byte of each content file: every read of
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

# flip_all NAME: saves, then flips one byte in the middle of, every file
# under NAME's HOME/data.
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
	[ "$n" -ge 2 ] || fail "$1 has $n content files under $d, wanted at least 2"
	note "$1: flipped a byte in $n files"
}
restore_all() {
	cp -a "$T/saved-$1/." "$(mb_home "$1")/data/"
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
import errno, os, sys
data, pairs = sys.argv[1], sys.argv[2:]
msgs = [(pairs[i], open(pairs[i + 1], "rb").read()) for i in range(0, len(pairs), 2)]
def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        return e.errno
files = sorted(os.path.join(data, n) for n in os.listdir(data))
for path in files:
    size = os.path.getsize(path)
    for off in sorted({0, size // 3, size - 1}):
        with open(path, "r+b") as f:
            f.seek(off); b = f.read(1)
            f.seek(off); f.write(bytes([b[0] ^ 0x01])); f.flush(); os.fsync(f.fileno())
        bad = 0
        for m, want in msgs:
            got = read(m)
            if got == errno.EBADMSG:
                bad += 1
            elif got != want:
                sys.exit("%s flipped at %d: %s gave %s" % (os.path.basename(path), off,
                         os.path.basename(m), errno.errorcode.get(got, "wrong bytes")
                         if isinstance(got, int) else "wrong bytes"))
        with open(path, "r+b") as f:
            f.seek(off); f.write(b); f.flush(); os.fsync(f.fileno())
        if bad == 0:
            sys.exit("%s flipped at %d: every message still read fine" % (os.path.basename(path), off))
        print("%s @%d: %d EBADMSG" % (os.path.basename(path), off, bad))
for m, want in msgs:
    if read(m) != want:
        sys.exit("%s does not read back after the restores" % m)
PY
python3 "$T/flips.py" "$(mb_home bob)/data" "$g" "$T/t.txt" "$gbin" "$T/t.bin" >&2 ||
	fail "bob's flips"
python3 "$T/flips.py" "$(mb_home alice)/data" "$O/t.txt" "$T/t.txt" "$O/t.bin" "$T/t.bin" >&2 ||
	fail "alice's flips"
mb_finish
