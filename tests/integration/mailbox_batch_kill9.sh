#!/usr/bin/env bash
# Received messages are stored in batches (issue 15): what the relay has
# pushed and is waiting goes into one transaction, one fsync, and each is
# acknowledged only after that COMMIT.
#
#   batches   a backlog of N messages (bob offline) is stored with far
#             fewer fsyncs than N (bob's mount runs under strace; one
#             COMMIT is one fdatasync of the WAL, where one message at a
#             time took three: its payload file, its folder, the COMMIT),
#             every message once.
#   kill -9   a second backlog, bob's mount killed with -9 at seeded random
#             points while it arrives (0..60 ms after its first arrivals
#             are listed, six times): after each kill, every message is
#             still queued at the relay (not acknowledged) or in bob's
#             store (nothing acknowledged is lost); in the end every one is
#             listed exactly once, with its bytes (nothing shown twice).
#   BATCH_N   messages per backlog (default 60), BATCH_SEED the schedule.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

N=${BATCH_N:-60}
RANDOM=${BATCH_SEED:-1515}
note "$N messages per backlog, seed ${BATCH_SEED:-1515}"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_mount alice
A=$(mb_mnt alice) B=$(mb_mnt bob)
O="$A/outbox/bob@example.com" I="$B/inbox/alice@example.com"
mkdir "$O" "$T/sent"

# backlog PREFIX: N messages from alice, all accepted by the relay for bob
# (who is not mounted).
backlog() {
	local i
	for ((i = 1; i <= N; i++)); do
		mb_data $((10 + (i * 37) % 900)) "$1$i" >"$T/sent/$1$i.txt"
		cp "$T/sent/$1$i.txt" "$O/$1$i.txt"
	done
	_queued() { [ "$(mb_queue_len bob)" -ge "$1" ]; }
	wait_until "$(mb_secs 60)" _queued "$2" || fail "only $(mb_queue_len bob) queued for bob"
}

# How many messages bob's store.db holds (his mount is down).
stored() {
	python3 - "$(mb_home bob)/store.db" <<'PY' || fail "cannot read bob's store.db"
import sqlite3, sys
print(sqlite3.connect(sys.argv[1], timeout=10).execute(
    "SELECT count(*) FROM inbox_messages").fetchone()[0])
PY
}

# Every message id alice sent is queued for bob at the relay or stored in
# bob's store.db (his mount is down: nothing writes it now).
nothing_lost() {
	mb_sql "SELECT DISTINCT msgid FROM status WHERE sender_device = ?" \
		"$(mb_device_id alice)" | sort >"$T/all"
	mb_sql "SELECT msgid FROM queue WHERE device_id = ?" "$(mb_device_id bob)" >"$T/have"
	python3 - "$(mb_home bob)/store.db" >>"$T/have" <<'PY' || fail "cannot read bob's store.db"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=10)
for (m,) in con.execute("SELECT msgid FROM inbox_messages"):
    print(m.hex())
PY
	sort -u "$T/have" -o "$T/have"
	local lost
	lost=$(comm -23 "$T/all" "$T/have" | wc -l)
	[ "$lost" -eq 0 ] || fail "$1: $lost message(s) acknowledged at the relay but not in bob's store"
	note "$1: $(comm -12 "$T/all" "$T/have" | wc -l) of $(wc -l <"$T/all") queued or stored," \
		"$(mb_queue_len bob) still queued"
}

note "a backlog arrives in batches"
backlog a "$N"
# bob's mount under strace, counting the syncs of every thread; mounted
# while the relay is down, so what it syncs to start is not counted.
relay_stop
mb_mount_under bob strace -f -qq -e trace=fsync,fdatasync,syncfs,sync_file_range \
	-o "$T/syncs"
sleep 1
before=$(wc -l <"$T/syncs")
relay_start
wait_queue_empty 60 bob
_all_a() { [ "$(ls "$I" | wc -l)" -eq "$N" ]; }
wait_until "$(mb_secs 30)" _all_a || fail "bob lists $(ls "$I" | wc -l) of $N"
syncs=$(( $(grep -cE '(fsync|fdatasync|syncfs|sync_file_range)\(' "$T/syncs" || true) - before ))
mb_umount bob
batches=$(grep -o 'in a batch of [0-9]*' "$(mb_log bob)" |
	awk '{ t += 1 / $5 } END { printf "%d", t + 0.5 }' || true)
note "$N messages stored with $syncs fsyncs, in $batches COMMITs"
[ "$syncs" -le $((N / 4)) ] || fail "$N pushed messages took $syncs fsyncs, wanted at most $((N / 4))"
nothing_lost "after the first backlog"

note "a second backlog, bob killed -9 while it arrives"
backlog k "$N"
# Each kill lands a random 0..60 ms after bob lists one more message than
# before (the first batch is in), or as soon as the relay has nothing left.
_more() { [ "$(ls "$I" | wc -l)" -gt "$1" ] || [ "$(mb_queue_len bob)" -eq 0 ]; }
for round in 1 2 3 4 5 6; do
	had=$(stored)
	mb_mount bob
	wait_until "$(mb_secs 30)" _more "$had" || fail "nothing arrived in round $round"
	sleep "$(printf '0.%03d' $((RANDOM % 60)))"
	mb_kill9 bob
	nothing_lost "kill $round"
done
mb_mount bob
wait_queue_empty 60 bob
_all_k() { [ "$(ls "$I" | wc -l)" -eq $((2 * N)) ]; }
wait_until "$(mb_secs 30)" _all_k || fail "bob lists $(ls "$I" | wc -l) of $((2 * N))"
nothing_lost "at the end"
for f in "$T/sent"/*; do
	b=$(basename "$f")
	n=$(mb_count "$I" "$(mb_inbox_re "$b")")
	[ "$n" -eq 1 ] || fail "$b is listed $n times"
	cmp -s "$I/$(ls "$I" | grep -E "$(mb_inbox_re "$b")")" "$f" || fail "$b differs"
done
mb_finish
