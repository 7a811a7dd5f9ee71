#!/usr/bin/env bash
# Tampered messages injected at the relay never appear: with bob offline,
# alice's queued payloads are altered in the relay's database while it is
# stopped (the relay is the adversary the end-to-end layer defends
# against):
#   flip     one bit of the sealed body flipped
#   resign   the signature replaced by mallory's (another registered
#            device) over the same body; envelope still alice's device
#   resign2  the same, with the envelope moved to mallory's device, so the
#            signature verifies but the 40-bit tag / inner sender do not
#   dup      the genuine payload queued twice (same message id)
#   newid    the genuine payload re-queued under a fresh message id
# Bob sees only the genuine message, once; every bad item is acknowledged
# and dropped (his queue empties) and logged; a replay of the old payload
# after he stored it (relay restarted with it queued again) is dropped too,
# also across a remount.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
new_device mallory mallory@example.com >/dev/null
mb_mount alice
A=$(mb_mnt alice) B=$(mb_mnt bob)
O="$A/outbox/bob@example.com" I="$B/inbox/alice@example.com"
mkdir "$O"

note "bob offline: alice sends four messages, one at a time"
n=0
for f in good.txt flip.txt resign.txt resign2.txt; do
	printf 'this is %s\n' "$f" >"$O/$f"
	wait_status 30 "$O/$f" '^(sent|delivered 0/1)$'
	n=$((n + 1))
	[ "$(mb_queue_len bob)" -eq "$n" ] || fail "bob's queue has $(mb_queue_len bob) items, wanted $n"
done
relay_stop

# tamper.py T DB BOB MALLORY_ID MALLORY_KEY: rewrites bob's queue (rows in
# send order: good, flip, resign, resign2) and adds dup and newid.
cat >"$T/tamper.py" <<'PY'
import os, sqlite3, struct, subprocess, sys
t, db, bob, mallory_id, mallory_key = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                       int(sys.argv[4]), sys.argv[5])
con = sqlite3.connect(db)
rows = con.execute("SELECT id, msgid, sender, sender_device, ts, payload FROM queue"
                   " WHERE device_id = ? ORDER BY id", (bob,)).fetchall()
assert len(rows) == 4, rows
good, flip, resign, resign2 = rows

def split(p):
    bl = struct.unpack(">H", p[1:3])[0]
    body = p[3:3 + bl]
    sl = p[3 + bl]
    assert 4 + bl + sl == len(p), "unexpected payload layout"
    return p[:3 + bl], body

def resigned(p):
    head, body = split(p)
    sig = subprocess.run(["openssl", "dgst", "-sha1", "-keyform", "DER", "-sign", mallory_key],
                         input=body, capture_output=True, check=True).stdout
    return head + bytes([len(sig)]) + sig

p = bytearray(flip[5])
head, body = split(bytes(p))
p[3 + len(body) // 2] ^= 0x01
con.execute("UPDATE queue SET payload = ? WHERE id = ?", (bytes(p), flip[0]))
con.execute("UPDATE queue SET payload = ? WHERE id = ?", (resigned(resign[5]), resign[0]))
con.execute("UPDATE queue SET payload = ?, sender = 'mallory@example.com', sender_device = ?"
            " WHERE id = ?", (resigned(resign2[5]), mallory_id, resign2[0]))
ins = "INSERT INTO queue(device_id, msgid, sender, sender_device, ts, payload) VALUES (?,?,?,?,?,?)"
con.execute(ins, (bob, good[1], good[2], good[3], good[4], good[5]))
newid = os.urandom(16)
con.execute(ins, (bob, newid, good[2], good[3], good[4], good[5]))
con.commit()
# The message ids whose items must be rejected (the dup carries good's).
with open(os.path.join(t, "bad.ids"), "w") as f:
    for name, mid in (("flip", flip[1]), ("resign", resign[1]), ("resign2", resign2[1]),
                      ("dup", good[1]), ("newid", newid)):
        f.write("%s %s\n" % (name, mid.hex()))
# Keep the genuine item for a later replay.
open(os.path.join(t, "good.row"), "w").write(good[1].hex())
saved = sqlite3.connect(os.path.join(t, "saved.db"))
saved.execute("CREATE TABLE queue(msgid, sender, sender_device, ts, payload)")
saved.execute("INSERT INTO queue VALUES (?,?,?,?,?)", good[1:6])
saved.commit()
PY
python3 "$T/tamper.py" "$T" "$RDATA/relay.db" "$(mb_device_id bob)" "$(dev_id mallory)" \
	"$T/mallory/sign.der" || fail "could not tamper with the queue"
relay_start
[ "$(mb_queue_len bob)" -eq 6 ] || fail "bob's queue has $(mb_queue_len bob) items, wanted 6"

note "bob mounts: only the genuine message appears, once"
mb_mount bob
g=$(wait_for_file 30 "$I" "$(mb_inbox_re good.txt)")
[ "$(cat "$g")" = "this is good.txt" ] || fail "bob read '$(cat "$g")'"
wait_queue_empty 30 bob
sleep 1
[ "$(ls -A "$B/inbox" | tr '\n' ' ')" = "alice@example.com " ] ||
	fail "bob's inbox folders: $(ls -A "$B/inbox" | tr '\n' ' ')"
[ "$(ls -A "$I" | wc -l)" -eq 1 ] || fail "a tampered or repeated message appeared: $(ls -A "$I")"
[ "$(getfattr --absolute-names --only-values -n user.sealbox.id "$g")" = "$(cat "$T/good.row")" ] ||
	fail "user.sealbox.id $(getfattr --absolute-names --only-values -n user.sealbox.id "$g"), wanted $(cat "$T/good.row")"
while read -r what mid; do
	line=$(grep -m1 "rejected message $mid" "$(mb_log bob)") ||
		fail "no rejection of the $what item ($mid) in bob's log: $(grep rejected "$(mb_log bob)")"
	note "$what: ${line#sealbox: }"
done <"$T/bad.ids"

note "replay of the stored message: queued again across a relay restart"
relay_stop
# The genuine item was acknowledged and deleted: put an identical copy back
# (what a relay that kept it, or a recorded session, could replay).
python3 - "$T" "$RDATA/relay.db" "$(mb_device_id bob)" <<'PY'
import sqlite3, sys
t, db, bob = sys.argv[1], sys.argv[2], int(sys.argv[3])
saved = sqlite3.connect(t + "/saved.db")
row = saved.execute("SELECT msgid, sender, sender_device, ts, payload FROM queue").fetchone()
con = sqlite3.connect(db)
con.execute("INSERT INTO queue(device_id, msgid, sender, sender_device, ts, payload)"
            " VALUES (?,?,?,?,?,?)", (bob,) + tuple(row))
con.commit()
PY
relay_start
wait_queue_empty 30 bob
sleep 1
[ "$(ls -A "$I" | wc -l)" -eq 1 ] || fail "the replayed payload appeared: $(ls -A "$I")"
mb_umount bob
mb_mount bob
sleep 1
[ "$(ls -A "$I" | wc -l)" -eq 1 ] || fail "after remount: $(ls -A "$I")"
[ "$(cat "$g")" = "this is good.txt" ] || fail "the genuine message after remount"
mb_finish
