#!/usr/bin/env bash
# Content sizes around the inline/attachment boundary, each delivered
# intact and reading back on both sides: 0 bytes (inline), exactly at the
# relay's inline limit (the largest content whose sealed payload fits 4096
# bytes: inline, no blob), one byte over it, three over (an attachment: a
# blob in the store), one 64 KiB at-rest chunk and a bit, and 5 MiB.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay --inline-limit 4096
mb_device alice alice@example.com --suite pair
mb_device bob bob@example.com --suite pair
mb_mount alice
mb_mount bob
A=$(mb_mnt alice) B=$(mb_mnt bob)
O="$A/outbox/bob@example.com" I="$B/inbox/alice@example.com"
mkdir "$O"
blobs() { mb_sql "SELECT COUNT(*) FROM blobs"; }

# The inner message's fixed cost (agent/message.h) for alice -> bob in
# folder bob@example.com, file name NAME, with the gossip extension that
# carries alice's newest tree head (PROTOCOL.md 11: type, u16 length, the
# head as her store keeps it); suite pair with RSA-2048: the body is the
# 256-byte RSA block plus the plaintext beyond its first 100 bytes, the
# payload 0x02 || u16 || body || u8 || signature (DER, at most 72).
limit_size() {
	python3 - "$1" "$(mb_home alice)/store.db" <<'PY'
import sqlite3, sys
name = sys.argv[1]
row = sqlite3.connect("file:%s?mode=ro" % sys.argv[2], uri=True).execute(
    "SELECT length(head) - 30 FROM trust_log").fetchone()   # sealed: PROTOCOL.md 10.1
gossip = 1 + 2 + row[0] if row else 0
sender, rcpt, folder = b"alice@example.com", b"bob@example.com", b"bob@example.com"
overhead = (1 + 16 + 8 + 1 + len(sender) + 2 + 1 + len(rcpt) + 1 + len(folder)
            + 1 + len(name.encode()) + 8 + 4 + 1 + 4 + gossip)
# payload = 1 + 2 + (256 + M - 100) + 1 + 72 <= 4096
print(4096 - (1 + 2 + 256 - 100 + 1 + 72) - overhead)
PY
}

# send NAME SIZE SEED: writes, waits for arrival, compares both sides.
send() {
	local name=$1 size=$2 seed=$3 got
	mb_data "$size" "$seed" >"$T/$name"
	cp "$T/$name" "$O/$name"
	got=$(wait_for_file 30 "$I" "$(mb_inbox_re "$name")")
	cmp "$got" "$T/$name" || fail "$name ($size bytes) differs at bob"
	[ "$(stat -c %s "$got")" -eq "$size" ] || fail "$name: bob's stat size"
	cmp "$O/$name" "$T/$name" || fail "$name ($size bytes) does not read back at alice"
	[ "$(stat -c %s "$O/$name")" -eq "$size" ] || fail "$name: alice's stat size"
	wait_status 30 "$O/$name" '^delivered 1/1$'
}

b0=$(blobs)
send zero.bin 0 1
[ "$(blobs)" -eq "$b0" ] || fail "a 0-byte file went as an attachment"
# After a first send: the head alice gossips is the one her store keeps.
at=$(limit_size at.bin)
note "content at the inline limit: $at bytes"
[ "$at" -gt 3550 ] && [ "$at" -lt 3900 ] || fail "limit computation off: $at"
send at.bin "$at" 2
[ "$(blobs)" -eq "$b0" ] || fail "content exactly at the inline limit went as an attachment"
send over1.bin $((at + 1)) 3
note "one byte over: $([ "$(blobs)" -eq "$b0" ] && echo inline || echo attachment)"
b1=$(blobs)
send over3.bin $((at + 3)) 4
[ "$(blobs)" -eq $((b1 + 1)) ] || fail "content past the inline limit did not go as an attachment"
send chunk.bin $((65536 + 1)) 5
send five.bin $((5 * 1024 * 1024)) 6
[ "$(blobs)" -eq $((b1 + 3)) ] || fail "blobs: $(blobs), wanted $((b1 + 3))"
grep -q "send refused" "$RLOG" && fail "the relay refused a send: $(grep "send refused" "$RLOG")"
[ "$(ls "$I" | wc -l)" -eq 6 ] || fail "bob's inbox: $(ls "$I")"
mb_finish
