#!/usr/bin/env bash
# Size limits are checked before any byte is encrypted (issue 13, point 3).
# The relay announces its blob cap (here 8 MiB; docs/PROTOCOL.md 13.6);
# a write or a truncate past it fails with EFBIG at once (a 2 GiB sparse
# file used to be encrypted in full, uploaded, and only then refused), the
# file is not sent and says why; a file of exactly the cap goes, and a
# sparse file under the cap arrives with its holes as zeros.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

cap=$((8 << 20))
mb_alice_to_bob --blob-max "$cap"
# The cap is learnt once the mount is connected: a first message proves it.
printf 'hello\n' >"$O/hello.txt"
wait_for_file 30 "$I" "$(mb_inbox_re hello.txt)" >/dev/null

# one OP PATH ARG: runs one call in python, prints "ERRNO SECONDS".
one() {
	python3 - "$@" <<'PY'
import errno, os, sys, time
op, path, arg = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = time.monotonic()
res = "OK"
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
try:
    if op == "truncate":
        os.ftruncate(fd, arg)
    elif op == "pwrite":
        n = os.pwrite(fd, b"x" * 4096, arg)
        if n != 4096:
            res = "SHORT%d" % n
            os.pwrite(fd, b"x", arg + n)
except OSError as e:
    res = errno.errorcode[e.errno]
finally:
    os.close(fd)
print(res, "%.3f" % (time.monotonic() - t))
PY
}

note "ftruncate to 2 GiB: EFBIG at once"
read -r e s < <(one truncate "$O/sparse2g.bin" $((2 << 30)))
[ "$e" = EFBIG ] || fail "ftruncate to 2 GiB past an 8 MiB cap: $e"
awk -v s="$s" 'BEGIN { exit !(s < 1.0) }' || fail "EFBIG took $s s"
note "truncate(1) -s 2G: the same, by path"
expect_fail 1 'File too large' truncate -s 2G "$O/sparse2g-path.bin"

note "a write whose end passes the cap: short up to it, then EFBIG; one ending at the cap: fine"
# (as for RLIMIT_FSIZE: the bytes before the limit are written, the next
# write fails; here the kernel splits the write at the page boundary)
read -r e s < <(one pwrite "$O/over.bin" $((cap - 4095)))
[ "$e" = EFBIG ] || fail "a write ending 1 byte past the cap, then one at the cap: $e"
awk -v s="$s" 'BEGIN { exit !(s < 1.0) }' || fail "EFBIG took $s s"
read -r e s < <(one pwrite "$O/atcap.bin" $((cap - 4096)))
[ "$e" = OK ] || fail "a write ending at the cap: $e"
dd if=/dev/zero of="$O/dd.bin" bs=1M seek=9 count=1 2>"$T/dd.err" && fail "dd past the cap succeeded"
grep -q 'File too large' "$T/dd.err" || fail "dd: $(cat "$T/dd.err")"

note "the refused files are not sent and say why"
for f in sparse2g.bin sparse2g-path.bin over.bin dd.bin; do
	wait_status 10 "$O/$f" '^failed: too big for the relay \(its cap is 8388608 bytes\)$'
done

note "a sparse file under the cap (holes, 4 KiB of data at each end)"
python3 - "$O/holes.bin" "$T/holes.bin" <<'PY'
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.pwrite(fd, b"A" * 4096, 0)
    os.pwrite(fd, b"Z" * 4096, 6 * 1048576 - 4096)
    os.close(fd)
PY
f=$(wait_for_file 60 "$I" "$(mb_inbox_re holes.bin)")
cmp "$f" "$T/holes.bin" || fail "holes.bin arrived different"
f=$(wait_for_file 60 "$I" "$(mb_inbox_re atcap.bin)")
[ "$(stat -c %s "$f")" -eq "$cap" ] || fail "atcap.bin arrived with $(stat -c %s "$f") bytes"
sleep 2
got=$(ls -A "$I" | sed -E 's/^[0-9]{8}T[0-9]{6}Z-[0-9]{4,}-[0-9a-f]{8}-//' | sort | tr '\n' ' ')
[ "$got" = "atcap.bin hello.txt holes.bin " ] || fail "bob received: $got"
[ "$(mb_sent_count alice)" -eq 3 ] || fail "the relay accepted $(mb_sent_count alice) messages, wanted 3"
mb_finish
