#!/usr/bin/env bash
# Nothing plaintext at rest: while a file is being written into the outbox
# (open, not yet closed), after it was sent, and after bob received and read
# it, no byte string of its content (a random marker repeated through a
# text and a 300 KB attachment) is found anywhere under either home (config,
# store.db and its WAL, data/) or the relay's data; no private key in PEM
# form either.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
marker="plaintext-marker-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

# at_rest_clean WHEN: the marker is in none of the files sealbox keeps.
at_rest_clean() {
	local hits
	hits=$(grep -rlaF -e "$marker" "$(mb_home alice)" "$(mb_home bob)" "$RDATA" 2>/dev/null || true)
	[ -z "$hits" ] || fail "plaintext at rest $1: $hits"
	hits=$(grep -rlaE 'BEGIN (EC |RSA |ENCRYPTED )?PRIVATE KEY' "$(mb_home alice)" "$(mb_home bob)" 2>/dev/null || true)
	[ -z "$hits" ] || fail "a private key in a home $1: $hits"
}

note "while the files are being written"
mkfifo "$T/go" "$T/done"
python3 - "$O" "$marker" "$T/go" "$T/done" <<'PY' &
import os, sys
d, marker, go, done = sys.argv[1:5]
line = ("%s the quick brown fox\n" % marker).encode()
t = open(os.path.join(d, "secret.txt"), "wb")
t.write(line * 3)
t.flush()
b = open(os.path.join(d, "secret.bin"), "wb")
n = 0
while n < 300000:
    b.write(line)
    n += len(line)
b.flush()
os.fsync(b.fileno())
open(done, "w").write("written\n")
open(go).read()              # wait until the test looked at the disk
t.close()
b.close()
PY
writer=$!
[ "$(cat "$T/done")" = written ] || fail "writer did not start"
at_rest_clean "while the outbox files are open"
echo go >"$T/go"
wait "$writer" || fail "writer failed"

note "after sending and receiving"
g=$(wait_for_file 30 "$I" "$(mb_inbox_re secret.txt)")
gb=$(wait_for_file 30 "$I" "$(mb_inbox_re secret.bin)")
grep -qF "$marker" "$g" || fail "bob's text does not read back"
[ "$(grep -cF "$marker" "$gb")" -gt 5000 ] || fail "bob's attachment does not read back"
wait_status 30 "$O/secret.bin" '^delivered 1/1$'
cat "$O/secret.txt" "$O/secret.bin" >/dev/null
at_rest_clean "after the send and the reads"
mb_umount bob
mb_umount alice
at_rest_clean "after unmounting"

note "the homes are private: nothing in them readable by others"
for who in alice bob; do
	h=$(mb_home "$who")
	[ "$(stat -c %a "$h")" = 700 ] || fail "$who's home is mode $(stat -c %a "$h")"
	bad=$(find "$h" -type f -perm /077 -printf '%m %p\n')
	[ -z "$bad" ] || fail "$who's home has files open to others: $bad"
done
mb_finish
