#!/usr/bin/env bash
# The inbox can be cleaned (issue 13, point 7): rm of a received message
# removes it - its record, its sealed payload (in its row of store.db, or
# a data/ file for rows stored before schema v9) and its content file - for
# good: it is not listed again after a remount, and a replay of it by the
# relay is still refused.  Everything else in inbox/ stays read-only
# (mailbox_errno_readonly_unknown.sh).  A content file that two messages
# share (the same attachment content, attack_blob_amplify.sh) stays until
# the last of them is removed.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

files() { find "$(mb_home bob)/data" -name 'in-*' | wc -l; }
# The sealed payloads bob keeps: in their rows of store.db (schema v9 on),
# or as data/in-*.msg files (rows stored before).
payloads() {
	local rows
	rows=$(python3 - "$(mb_home bob)/store.db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=10)
print(con.execute("SELECT count(*) FROM inbox_messages WHERE length(payload_data) > 0").fetchone()[0])
PY
	) || fail "cannot read bob's store.db"
	echo $((rows + $(find "$(mb_home bob)/data" -name 'in-*.msg' | wc -l)))
}

mb_alice_to_bob
mb_umount bob
echo "keep me" >"$O/keep.txt"
echo "remove me" >"$O/gone.txt"
wait_status 20 "$O/keep.txt" '^(sent|delivered 0/1)$'
wait_status 20 "$O/gone.txt" '^(sent|delivered 0/1)$'
# What the relay holds for bob now, kept to replay it later.
relay_stop
python3 - "$RDATA/relay.db" "$(mb_device_id bob)" "$T/queued.json" <<'PY' || fail "could not save bob's queue"
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
rows = con.execute("SELECT device_id, msgid, sender, sender_device, ts, payload FROM queue"
                   " WHERE device_id = ?", (int(sys.argv[2]),)).fetchall()
assert len(rows) == 2, rows
json.dump([[r[0], r[1].hex(), r[2], r[3], r[4], r[5].hex()] for r in rows], open(sys.argv[3], "w"))
PY
relay_start
mb_mount bob
keep=$(wait_for_file 20 "$I" "$(mb_inbox_re keep.txt)")
gone=$(wait_for_file 20 "$I" "$(mb_inbox_re gone.txt)")
wait_queue_empty 20 bob
n0=$(files) p0=$(payloads)
rm "$gone" || fail "rm of a received message failed"
[ ! -e "$gone" ] || fail "still there after rm"
[ "$(payloads)" -eq $((p0 - 1)) ] || fail "bob keeps $(payloads) sealed payloads, wanted $((p0 - 1))"
[ "$(files)" -eq "$n0" ] || fail "data/ has $(files) in- files, wanted $n0 (a text has no content file)"
[ "$(cat "$keep")" = "keep me" ] || fail "the other message changed"
grep -q "removed inbox/alice@example.com/$(basename "$gone")" "$(mb_log bob)" || fail "no log line for the rm"
(echo x >"$I/new.txt") 2>/dev/null && fail "created a file in the inbox"
mv "$keep" "$I/renamed.txt" 2>/dev/null && fail "renamed a file in the inbox"

note "the relay replays both: refused, the removed one does not come back"
relay_stop
python3 - "$RDATA/relay.db" "$T/queued.json" <<'PY' || fail "could not requeue"
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for d, m, s, sd, ts, p in json.load(open(sys.argv[2])):
    con.execute("INSERT INTO queue(device_id, msgid, sender, sender_device, ts, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)", (d, bytes.fromhex(m), s, sd, ts, bytes.fromhex(p)))
con.commit()
PY
relay_start
wait_queue_empty 30 bob
[ "$(grep -c 'rejected message .*replay' "$(mb_log bob)")" -eq 2 ] ||
	fail "replays refused: $(grep -c 'rejected message .*replay' "$(mb_log bob)"), wanted 2"
mb_umount bob
mb_mount bob
[ "$(mb_count "$I" "$(mb_inbox_re gone.txt)")" -eq 0 ] || fail "the removed message came back"
[ "$(mb_count "$I" "$(mb_inbox_re keep.txt)")" -eq 1 ] || fail "keep.txt is not listed once"
[ "$(cat "$keep")" = "keep me" ] || fail "keep.txt after the remount"

note "a shared content file stays until its last message goes"
new_device mallory mallory@example.com >/dev/null
mb_data $((1 << 20)) 9 >"$T/blob.bin"
cs --keys "$T/mallory" --to bob@example.com \
	--count 2 --name twice.bin --blob "$T/blob.bin" >/dev/null || fail "mallory's sends"
M="$B/inbox/mallory@example.com"
_two() { [ "$(mb_count "$M" "$(mb_inbox_re twice.bin)")" -eq 2 ]; }
wait_until "$(mb_secs 20)" _two || fail "$(mb_count "$M" .) of 2 listed"
wait_queue_empty 20 bob
n1=$(files) p1=$(payloads)
first=$(ls "$M" | head -1) second=$(ls "$M" | tail -1)
rm "$M/$first"
[ "$(payloads)" -eq $((p1 - 1)) ] || fail "removing one sharer left $(payloads) payloads, wanted $((p1 - 1))"
[ "$(files)" -eq "$n1" ] || fail "removing one sharer left $(files) files, wanted $n1 (only its payload goes)"
cmp "$M/$second" "$T/blob.bin" || fail "the other message lost its content"
rm "$M/$second"
[ "$(payloads)" -eq $((p1 - 2)) ] || fail "removing the last sharer left $(payloads) payloads, wanted $((p1 - 2))"
[ "$(files)" -eq $((n1 - 1)) ] || fail "removing the last sharer left $(files) files, wanted $((n1 - 1))"
mb_finish
