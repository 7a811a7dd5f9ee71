#!/usr/bin/env bash
# A relay cluster's failover, end to end (docs/RELAY.md "Running a
# cluster"): two nodes on one real PostgreSQL server, alice and bob mounted,
# each device initialised with both nodes (`sealbox init --relay A,B`; alice
# lists A first, bob B first, so messages cross nodes).  While alice's agent
# sends a stream of files through node A, node A is SIGKILLed.  Alice's
# agent fails over to node B with its usual backoff: every file arrives in
# bob's inbox exactly once with its bytes (the count is exact), every
# outbox file ends "delivered 1/1", the database holds each message id
# once, and nothing is left queued.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"
source "$SB_TOP/tests/lib/pg.sh"
source "$SB_TOP/tests/lib/cluster.sh"

N=${FAILOVER_N:-40}
cluster_init
node_start A
node_start B
on_exit "_mb_reap_all"
_mb_watchdog
MB_RELAY="127.0.0.1:$PORT_A,127.0.0.1:$PORT_B" mb_device alice alice@example.com
MB_RELAY="127.0.0.1:$PORT_B,127.0.0.1:$PORT_A" mb_device bob bob@example.com
grep -qx "relay = 127.0.0.1:$PORT_A,127.0.0.1:$PORT_B" "$(mb_home alice)/config" ||
	fail "the config does not keep the node list: $(grep relay "$(mb_home alice)/config")"
alice=$(mb_device_id alice)
bob=$(mb_device_id bob)
mb_mount alice
mb_mount bob
on_a() { grep -q "auth conn=.* device=$alice " "$T/nodeA.log"; }
on_b() { grep -q "auth conn=.* device=$bob " "$T/nodeB.log"; }
wait_until "$(mb_secs 10)" on_a || fail "alice's agent did not connect to node A"
wait_until "$(mb_secs 10)" on_b || fail "bob's agent did not connect to node B"
O="$(mb_mnt alice)/outbox/bob@example.com"
I="$(mb_mnt bob)/inbox/alice@example.com"
mkdir "$O"

note "$N files into alice's outbox; node A killed while it accepts them"
(
	for i in $(seq 1 "$N"); do
		printf 'message %d of the failover stream\n' "$i" >"$O/m$i.txt" || exit 1
		sleep 0.05
	done
) &
writer=$!
accepted_a() { [ "$(grep -c "send accepted conn=.* device=$alice " "$T/nodeA.log")" -ge 5 ]; }
wait_until "$(mb_secs 20)" accepted_a || fail "node A accepted nothing from alice"
node_kill A
before=$(grep -c "send accepted conn=.* device=$alice " "$T/nodeA.log" || true)
note "node A SIGKILLed after accepting $before of alice's messages"
wait "$writer" || fail "writing into the outbox failed"
[ "$before" -lt "$N" ] || fail "every send was over before the kill: nothing was in flight"

note "every file in bob's inbox exactly once"
all_in() { [ "$(mb_count "$I" '^[0-9]{8}T[0-9]{6}Z-.*-m[0-9]+\.txt$')" -ge "$N" ]; }
wait_until "$(mb_secs 60)" all_in ||
	fail "bob has $(mb_count "$I" '^[0-9]{8}T[0-9]{6}Z-.*-m[0-9]+\.txt$') of $N files"
sleep 1   # a duplicate would come right behind
[ "$(mb_count "$I" '^[0-9]{8}T[0-9]{6}Z-.*-m[0-9]+\.txt$')" -eq "$N" ] ||
	fail "bob has $(mb_count "$I" '^[0-9]{8}T[0-9]{6}Z-.*-m[0-9]+\.txt$') files for $N sent: duplicates"
for i in $(seq 1 "$N"); do
	[ "$(mb_count "$I" "$(mb_inbox_re "m$i.txt")")" -eq 1 ] || fail "m$i.txt is not there exactly once"
	f=$(_mb_find "$I" "$(mb_inbox_re "m$i.txt")")
	[ "$(cat "$f")" = "message $i of the failover stream" ] || fail "m$i.txt: wrong bytes"
done
grep -q "auth conn=.* device=$alice " "$T/nodeB.log" || fail "alice's agent never reached node B"
after=$(grep -c "send accepted conn=.* device=$alice " "$T/nodeB.log" || true)
note "node B accepted the other $after"
[ "$after" -ge 1 ] || fail "node B accepted none of alice's messages"

note "statuses delivered; each message id once in the database; queues empty"
for i in $(seq 1 "$N"); do
	wait_status 20 "$O/m$i.txt" '^delivered 1/1$'
done
[ "$(pg_sql "SELECT count(*), count(DISTINCT msgid) FROM status WHERE sender_device=$alice")" = "$N|$N" ] ||
	fail "status rows: $(pg_sql "SELECT count(*), count(DISTINCT msgid) FROM status WHERE sender_device=$alice")"
[ "$(pg_sql "SELECT count(*) FROM queue")" = 0 ] || fail "items left queued"
mb_finish
node_stop B
exit 0
