#!/usr/bin/env bash
# rm of an outbox file the relay has not accepted cancels its send (issue
# 13, point 2): SQLite's side files (-journal in rollback mode, -wal and
# -shm in WAL mode) never reach any device, nor does a file unlinked right
# after its close (small: inline; large: its blob, uploaded already, is
# deleted at the relay), nor one removed while the relay is down.  After
# the relay accepted a file, rm removes alice's copy only: bob keeps his.
# It counts on the settle time (OB_SETTLE_MS, 10 ms since issue 15;
# docs/ARCHITECTURE.md): run alone.
# sealbox-test: alone
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (scripts/deps.sh installs it)"
mb_alice_to_bob
# The two databases go as attachments (8 KiB each, over the 4 KiB inline
# limit): their blobs stay; no other blob may (the cancelled 3 and 64 MiB).
blobs() { mb_sql "SELECT COUNT(*) FROM blobs"; }
big_blobs() { mb_sql "SELECT COUNT(*) FROM blobs WHERE size > 100000"; }
blob_files() { find "$RDATA/blobs" -maxdepth 1 -type f | wc -l; }

note "SQLite, rollback journal: three transactions in one session"
sqlite3 "$O/roll.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);
	BEGIN; INSERT INTO t VALUES (2); COMMIT; INSERT INTO t VALUES (3);" ||
	fail "sqlite3 (rollback journal)"
note "SQLite, WAL: -wal and -shm (mapped shared) next to the database"
sqlite3 "$O/wal.db" "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (7);
	INSERT INTO t VALUES (8);" >/dev/null || fail "sqlite3 (WAL)"

note "twenty files unlinked right after close, one of them 3 MiB (an attachment)"
mb_data $((3 << 20)) 5 >"$T/big.bin"
python3 - "$O" "$T/big.bin" <<'PY'
import os, sys
d, big = sys.argv[1], sys.argv[2]
data = open(big, "rb").read()
for i in range(20):
    p = os.path.join(d, "gone-%02d.txt" % i)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, data if i == 7 else b"never to be seen %d\n" % i)
    os.close(fd)
    os.unlink(p)
PY

note "a 64 MiB file removed while its blob is being uploaded"
# The relay is stopped (SIGSTOP) the moment it logs the upload's start, so
# the rm lands while the blob is on its way, whatever the machine's speed.
mb_data $((64 << 20)) 6 >"$T/huge.bin"
mb_relay_stop_at_upload
cp "$T/huge.bin" "$O/huge.bin"
mb_relay_stopped_wait 30 || fail "the upload of huge.bin never started"
rm "$O/huge.bin"
kill -CONT "$RPID"
_deleted() { grep -q 'blob deleted' "$RLOG"; }
wait_until "$(mb_secs 30)" _deleted ||
	fail "the relay never deleted the cancelled upload: $(grep blob "$RLOG" | tail -3)"

note "a file removed while the relay is down"
relay_stop
printf 'offline\n' >"$O/offline.txt"
rm "$O/offline.txt"
relay_start

wait "$MB_UPLOAD_WATCHER" 2>/dev/null || true
note "a marker sent last: everything before it was decided by then"
printf 'marker\n' >"$O/marker.txt"
wait_for_file 30 "$I" "$(mb_inbox_re marker.txt)" >/dev/null
_settled() { [ "$(big_blobs)" -eq 0 ] && [ "$(blobs)" -eq 2 ] && [ "$(blob_files)" -eq 2 ]; }
wait_until "$(mb_secs 20)" _settled ||
	fail "the relay keeps $(blobs) blob record(s) ($(big_blobs) large), $(blob_files) blob file(s): cancelled uploads stay"
sleep 2
got=$(ls -A "$I" | sed -E 's/^[0-9]{8}T[0-9]{6}Z-[0-9]{4,}-[0-9a-f]{8}-//' | sort | tr '\n' ' ')
[ "$got" = "marker.txt roll.db wal.db " ] || fail "bob received: $got"
[ "$(mb_sent_count alice)" -eq 3 ] || fail "the relay accepted $(mb_sent_count alice) messages from alice, wanted 3"
for db in roll wal; do
	f=$(wait_for_file 1 "$I" "$(mb_inbox_re $db.db)")
	cp "$f" "$T/$db.db"
	[ "$(sqlite3 "file:$T/$db.db?immutable=1" 'PRAGMA integrity_check;')" = ok ] ||
		fail "$db.db arrived damaged"
done
[ "$(sqlite3 "file:$T/roll.db?immutable=1" 'SELECT group_concat(x) FROM t;')" = "1,2,3" ] ||
	fail "roll.db arrived with rows '$(sqlite3 "file:$T/roll.db?immutable=1" 'SELECT group_concat(x) FROM t;')'"
[ "$(sqlite3 "file:$T/wal.db?immutable=1" 'SELECT group_concat(x) FROM t;')" = "7,8" ] ||
	fail "wal.db arrived without its rows (its WAL was not checkpointed into it?)"
grep -q 'removed before it was sent' "$(mb_log alice)" || fail "alice's log never says a send was cancelled"

note "after the relay accepted: rm removes alice's copy only"
wait_status 20 "$O/marker.txt" '^delivered 1/1$'
rm "$O/marker.txt"
[ ! -e "$O/marker.txt" ] || fail "marker.txt still listed in alice's outbox"
[ "$(mb_count "$I" "$(mb_inbox_re marker.txt)")" -eq 1 ] || fail "bob lost marker.txt"
grep -q 'marker.txt removed here only' "$(mb_log alice)" ||
	fail "alice's log does not say the copy was removed locally: $(grep marker "$(mb_log alice)")"
[ "$(mb_sent_count alice)" -eq 3 ] || fail "rm sent something"
mb_finish
