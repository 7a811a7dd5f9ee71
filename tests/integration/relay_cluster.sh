#!/usr/bin/env bash
# Two relay nodes on one real PostgreSQL server (docs/RELAY.md "Running a
# cluster"): a message accepted by node A is pushed at once to a device
# connected to node B (LISTEN/NOTIFY; the sweep timer is an hour, so no
# timer can be what delivers it); an attachment uploaded through A streams
# down through B from the database's chunk rows, with small peak RSS on
# both nodes; an ack on B is the status A reports; a device set changed
# through B makes a send through A stale; a device removed with
# remove-device on A's directory loses its connection to B; the 30-day
# retention expires an
# item and a blob once for the whole cluster; the blob folder stays empty.
# Then, with the database gone, `init` and `serve` each fail at once with
# one line naming what could not be reached.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"
source "$SB_TOP/tests/lib/pg.sh"
source "$SB_TOP/tests/lib/cluster.sh"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
limit_kb=${SB_RSS_LIMIT_KB:-$((64 * 1024))}

cluster_init
echo 0 >"$T/clock"
node_start A --test-clock-file "$T/clock" --sweep-interval 3600
node_start B --test-clock-file "$T/clock" --sweep-interval 3600
grep -q "store=postgresql" "$T/nodeA.log" || fail "node A does not say it serves the PostgreSQL store"
new_device_on A alice alice@example.com
new_device_on B bob bob@example.com
bob=$(dev_id bob)

note "accepted by A, pushed by B at once"
on_node B recv --keys "$T/bob" --count 1 --ack --timeout 10 --ready-file "$T/bob.ready" \
	>"$T/push.out" 2>"$T/push.err" &
recv=$!
wait_until 10 test -f "$T/bob.ready" || fail "bob never connected to B"
m1=$(new_msgid)
start=$(date +%s%N)
on_node A send --keys "$T/alice" --to bob@example.com --msgid "$m1" --text cross >/dev/null ||
	fail "send through A"
wait "$recv" || fail "bob on B did not get the push: $(cat "$T/push.err")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "msg=$m1 from=alice@example.com dev=$(dev_id alice) .*payload=cross for $bob" \
	"$T/push.out" || fail "wrong push: $(cat "$T/push.out")"
note "pushed by B ${ms} ms after A accepted it"
[ "$ms" -lt 3000 ] || fail "cross-node push took $ms ms"
grep -q "send accepted conn=.* msg=${m1:0:16}" "$T/nodeA.log" || fail "A did not accept it"
grep -q "push conn=.* device=$bob item=" "$T/nodeB.log" || fail "B did not push it"
! grep -q "push conn=.* device=$bob " "$T/nodeA.log" || fail "A pushed to a device it does not hold"
[ "$(on_node A status --keys "$T/alice" --msgid "$m1")" = "$bob delivered" ] ||
	fail "A does not see B's ack"

note "an attachment: up through A, down through B, in chunk rows"
size=$((8 * 1024 * 1024))
head -c "$size" /dev/urandom >"$T/in"
uri=$(on_node A blob-put --keys "$T/alice" --timeout 60 "$T/in" 2>"$T/put.err") ||
	fail "upload through A: $(cat "$T/put.err")"
[[ "$uri" =~ ^sbblob:[0-9a-f]{64}$ ]] || fail "odd uri $uri"
got=$(on_node B blob-get --keys "$T/bob" --timeout 60 "$uri" "$T/out" 2>"$T/get.err") ||
	fail "download through B: $(cat "$T/get.err")"
[ "$got" = "$size" ] || fail "B served $got bytes"
cmp -s "$T/in" "$T/out" || fail "the blob B served differs from what A took"
[ "$(pg_sql "SELECT count(*), sum(octet_length(data)) FROM blob_data")" = "128|$size" ] ||
	fail "chunk rows: $(pg_sql "SELECT count(*), sum(octet_length(data)) FROM blob_data")"
[ "$(find "$T/nodeA/blobs" "$T/nodeB/blobs" -type f | wc -l)" -eq 0 ] ||
	fail "a node wrote blob files: $(find "$T/nodeA/blobs" "$T/nodeB/blobs" -type f)"
a_kb=$(node_vmhwm_kb A)
b_kb=$(node_vmhwm_kb B)
note "peak RSS: node A ${a_kb} kB, node B ${b_kb} kB for an ${size}-byte blob"
[ "$a_kb" -lt "$limit_kb" ] || fail "node A peak RSS ${a_kb} kB"
[ "$b_kb" -lt "$limit_kb" ] || fail "node B peak RSS ${b_kb} kB"

note "a device set changed through B is stale for a send through A"
new_device_on B bob2 bob@example.com
m2=$(new_msgid)
out=$(on_node A send-raw --keys "$T/alice" --to bob@example.com --devices "$bob" \
	--msgid "$m2") && fail "a stale set was accepted"
[ "$out" = "stale missing=$(dev_id bob2) extra=" ] || fail "stale answer: $out"
# Enrolled through B between alice's lookup and her send through A: the
# client re-seals for the new set (a second round) and is accepted.
cat >"$T/enroll.sh" <<EOS
#!/usr/bin/env bash
code=\$("$SEALBOX_RELAY" invite --data "$T/nodeB" bob@example.com) || exit 1
"$RELAY_CLIENT" keygen --keys "$T/bob3" >/dev/null || exit 1
exec "$RELAY_CLIENT" register --relay "127.0.0.1:$PORT_B" --fp "$FP" --keys "$T/bob3" \
	--address bob@example.com --code "\$code" --name bob3 >/dev/null
EOS
chmod +x "$T/enroll.sh"
m3=$(new_msgid)
out=$(on_node A send --keys "$T/alice" --to bob@example.com --msgid "$m3" --text late \
	--on-first-seal "$T/enroll.sh") || fail "send across a concurrent enrollment"
[[ "$out" =~ ^accepted\ ts=[0-9]+\ rounds=2$ ]] || fail "expected a second round: $out"
[ "$(grep -c "send stale conn=.* missing=1 extra=0" "$T/nodeA.log")" -eq 2 ] ||
	fail "A did not refuse round 1"
on_node B recv --keys "$T/bob3" --count 1 --ack --timeout 10 | has "msg=$m3 .*payload=late" ||
	fail "the device enrolled through B did not get the re-sealed message"

note "a device removed through A's directory is disconnected by B"
bob2=$(dev_id bob2)
on_node B recv --keys "$T/bob2" --count 9 --timeout 10 --ready-file "$T/bob2.ready" \
	>/dev/null 2>&1 &
r2=$!
wait_until 10 test -f "$T/bob2.ready" || fail "bob2 never connected to B"
"$SEALBOX_RELAY" remove-device --data "$T/nodeA" "$bob2" >/dev/null || fail "remove-device"
removed() { grep -q "close conn=.* device=$bob2 reason=device removed" "$T/nodeB.log"; }
wait_until 5 removed || fail "B kept the removed device's connection"
kill "$r2" 2>/dev/null; wait "$r2" 2>/dev/null || true

note "retention: 31 days later, expired once for the whole cluster"
node_stop A
node_stop B
node_start A --test-clock-file "$T/clock" --sweep-interval 1
node_start B --test-clock-file "$T/clock" --sweep-interval 1
on_node A send --keys "$T/alice" --to bob@example.com --msgid "$(new_msgid)" --text old \
	>/dev/null || fail "send old"
m4=$(new_msgid)
on_node A send --keys "$T/alice" --to bob@example.com --msgid "$m4" --text old2 >/dev/null
queued=$(pg_sql "SELECT count(*) FROM queue")
old_expired() { grep -c "expire items=" "$T/nodeA.log" "$T/nodeB.log" | awk -F: '{ s += $2 } END { exit s < 1 }'; }
echo $((31 * 86400)) >"$T/clock"
wait_until 10 old_expired || fail "nothing expired"
sleep 2   # both nodes swept at least once more
[ "$(cat "$T/nodeA.log" "$T/nodeB.log" | grep -c "expire items=")" -eq 1 ] ||
	fail "expiry ran on both nodes: $(grep "expire items=" "$T/nodeA.log" "$T/nodeB.log")"
# grep reads the files itself: `cat | grep -q` fails under pipefail when
# grep exits at the first match and cat gets SIGPIPE.
grep -hq "expire items=$queued$" "$T/nodeA.log" "$T/nodeB.log" ||
	fail "expected all $queued queued items to expire: $(grep -h "expire items=" "$T/node"?.log)"
[ "$(pg_sql "SELECT count(*) FROM queue")" = 0 ] || fail "items left in the queue"
[ "$(cat "$T/nodeA.log" "$T/nodeB.log" | grep -c "blob expired")" -eq 1 ] ||
	fail "blob expiry not once: $(grep -h "blob expired" "$T/node"?.log)"
[ "$(on_node B status --keys "$T/alice" --msgid "$m4" | sort | head -1)" = "$bob expired" ] ||
	fail "B does not report the expiry: $(on_node B status --keys "$T/alice" --msgid "$m4")"
expect_rc 44 on_node B blob-get --keys "$T/bob" "$uri" "$T/x"
[ "$(pg_sql "SELECT count(*) FROM blob_data")" = 0 ] || fail "expired chunk rows left"
on_node B recv --keys "$T/bob" --count 0 --timeout 2 >/dev/null || fail "an expired item was pushed"
node_stop A
node_stop B

note "no database: init and serve fail at once, in one line"
sock="$PGSOCK"
pg_stop
want="connection to server on socket \"$sock/.s.PGSQL.5432\" failed: No such file or directory"
start=$(date +%s%N)
expect_fail 1 "^sealbox-relay: serve: PostgreSQL store: $want\$" \
	"$SEALBOX_RELAY" serve --data "$T/nodeA"
expect_fail 1 "^sealbox-relay: init: PostgreSQL store: $want\$" \
	"$SEALBOX_RELAY" init --data "$T/nodeC" --store "$PGDSN"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 3000 ] || fail "failing took $ms ms"
[ ! -e "$T/nodeC/tls/key.pem" ] && [ ! -e "$T/nodeC/relay.conf" ] ||
	fail "a failed init left a key or a config behind"
exit 0
