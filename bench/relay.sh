#!/usr/bin/env bash
# relay.sh RESULTS - the relay benchmarks of `make bench` (docs/BENCHMARKS.md):
# messages/s routed between 100 connected devices (1 KiB payloads, 256 in
# flight: bench_relay --window); the same
# between 1,000 connected devices on one SQLite node and on two nodes over
# one PostgreSQL server, side by side, with each node's peak RSS; and the
# relay's peak RSS with 1,000 idle connected devices.  All through
# bench/bench_relay (real clients of client/, real TLS 1.3, the real relay
# on 127.0.0.1, a real PostgreSQL 15 from tests/lib/pg.sh).  Appends
# `KEY V1 V2 ...` lines to RESULTS.
# Environment: SB_BUILD, BENCH_QUICK=1 (fewer devices).
here=$(cd "$(dirname "$0")" && pwd)
RES=${1:?usage: relay.sh RESULTS}
source "$here/../tests/lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"
source "$SB_TOP/tests/lib/pg.sh"
source "$SB_TOP/tests/lib/cluster.sh"
BENCH_RELAY="$SB_BUILD/bench/bench_relay"
[ -x "$BENCH_RELAY" ] || fail "$BENCH_RELAY not built"

if [ "${BENCH_QUICK:-0}" = 1 ]; then N_RATE=20 N_IDLE=100 N_K=100; else N_RATE=100 N_IDLE=1000 N_K=1000; fi

# 1,000 sockets in the relay and in the bench process: lift the soft limit
# (both inherit it from this shell).
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((N_IDLE + 64)) ] ||
	fail "open-file limit $(ulimit -n) is below $((N_IDLE + 64)) (ulimit -Hn)"

# invites N FILE: one code per device, `ADDRESS CODE` lines.
invites() {
	# Four at a time; an invite that meets another's write lock (the
	# relay's "storage failure") is retried a few times.
	seq 1 "$1" | xargs -P 4 -I{} sh -c '
		for t in 1 2 3 4 5 6 7 8 9 10; do
			if c=$("$0" invite --data "$1" "d{}@bench.example" 2>/dev/null); then
				echo "d{}@bench.example $c"; exit 0
			fi
			sleep 0.1
		done
		exit 1' "$SEALBOX_RELAY" "$RDATA" >"$2"
	[ "$(grep -cE '^d[0-9]+@bench\.example [0-9a-z]{4}(-[0-9a-z]{4}){4}$' "$2")" -eq "$1" ] ||
		fail "only $(wc -l <"$2") of $1 invites made"
}

note "relay rate: $N_RATE devices, 1 KiB payloads"
relay_init
relay_start
invites "$N_RATE" "$T/codes"
"$BENCH_RELAY" --relay "127.0.0.1:$RPORT" --fp "$FP" --codes "$T/codes" \
	--mode rate --runs 3 --secs 3 >>"$RES"
echo "relay.rate.hwm_kb $(relay_vmhwm_kb)" >>"$RES"
relay_stop
rm -rf "$RDATA"

# ---- N_K devices: one SQLite node beside two nodes over one PostgreSQL ----
# The same driver, devices and payloads on both stores, in one run, every
# database on the same disk (fsync on), so the two rates compare.  This is
# also THE 1,000-device SQLite case (relay.k1.sqlite.*) that other relay
# work measures itself against.  In the cluster, device i is connected to
# node i mod 2 and sends to device i + 1: every message is accepted by one
# node and pushed by the other (LISTEN/NOTIFY).
note "relay rate: $N_K devices on one SQLite node"
echo "relay.k1.devices $N_K" >>"$RES"
relay_init
MPORT=$(free_port)
relay_start --metrics "127.0.0.1:$MPORT"
invites "$N_K" "$T/codes"
"$BENCH_RELAY" --relay "127.0.0.1:$RPORT" --fp "$FP" --codes "$T/codes" \
	--mode rate --runs 3 --secs 3 --key relay.k1.sqlite.rate >>"$RES"
echo "relay.k1.sqlite.hwm_kb $(relay_vmhwm_kb)" >>"$RES"
# The group commit's batch: SENDs and ACKs per commit (one fsync each).
curl -fsS "http://127.0.0.1:$MPORT/metrics" | awk '
	$1 == "sealbox_relay_commits_total" { c = $2 }
	$1 == "sealbox_relay_committed_ops_total" { o = $2 }
	END { if (c > 0) printf "relay.k1.sqlite.ops_per_commit %.1f\n", o / c }' >>"$RES"
relay_stop
rm -rf "$RDATA"

note "relay rate: $N_K devices on two nodes over one PostgreSQL"
cluster_init
node_start A
node_start B
invites "$N_K" "$T/codes"
"$BENCH_RELAY" --relay "127.0.0.1:$PORT_A,127.0.0.1:$PORT_B" --fp "$FP" --codes "$T/codes" \
	--mode rate --runs 3 --secs 3 --key relay.k1.pg.rate >>"$RES"
echo "relay.k1.pg.a.hwm_kb $(node_vmhwm_kb A)" >>"$RES"
echo "relay.k1.pg.b.hwm_kb $(node_vmhwm_kb B)" >>"$RES"
# Every message crossed nodes: B pushed what A accepted and back.
[ "$(grep -c "push conn=" "$T/nodeA.log")" -gt 0 ] && [ "$(grep -c "push conn=" "$T/nodeB.log")" -gt 0 ] ||
	fail "a node pushed nothing: the cluster case did not cross nodes"
node_stop A
node_stop B
pg_stop
rm -rf "$T/nodeA" "$T/nodeB"

note "relay idle: $N_IDLE devices connected"
# The idle figure is memory, not durability: the relay's data sits on a
# tmpfs here so enrolling 1,000 devices does not wait for 2,000 fsyncs.
mkdir "$T/relay"
mount -t tmpfs -o size=256m,mode=0700 bench-relay "$T/relay"
on_exit "umount -l $T/relay"
relay_init
relay_start
invites "$N_IDLE" "$T/codes"
echo "relay.idle.devices $N_IDLE" >>"$RES"
"$BENCH_RELAY" --relay "127.0.0.1:$RPORT" --fp "$FP" --codes "$T/codes" \
	--mode idle --relay-pid "$RPID" >>"$RES"
relay_stop
