# cluster.sh - sourced after tests/lib/{common,relay,pg}.sh: two
# sealbox-relay nodes, A and B, on one real PostgreSQL server, sharing one
# TLS identity (node B's directory is a copy of node A's, as docs/RELAY.md
# "Running a cluster" says to make one).
#
#   cluster_init [init options] -> pg_start; $T/nodeA (init --store $PGDSN),
#                                  $T/nodeB (cp -a); $PORT_A $PORT_B; $FP;
#                                  RDATA=$T/nodeA (invites), RPORT=$PORT_A
#   node_start A|B [serve opts] -> NODE_PID[A|B]; log $T/nodeA.log ...
#   node_stop A|B               -> SIGTERM, must exit 0, no sanitizer report
#   node_kill A|B               -> SIGKILL (a node that dies mid-work)
#   node_vmhwm_kb A|B           -> the node's peak RSS so far
#   on_node A|B CMD [options]   -> relay_client CMD against that node only
#   new_device_on A|B DIR ADDRESS -> keys in $T/DIR, registered through that node

declare -A NODE_PID NODE_PORT

cluster_init() {
	pg_start
	PORT_A=$(free_port)
	PORT_B=$(free_port)
	NODE_PORT=([A]=$PORT_A [B]=$PORT_B)
	FP=$("$SEALBOX_RELAY" init --data "$T/nodeA" --listen "127.0.0.1:$PORT_A" \
		--store "$PGDSN" "$@") || fail "relay init --store failed"
	[[ "$FP" =~ ^[0-9a-f]{64}$ ]] || fail "init printed '$FP', not a SHA-256 fingerprint"
	cp -a "$T/nodeA" "$T/nodeB"
	RDATA="$T/nodeA"
	RPORT=$PORT_A
}

node_start() {
	local n=$1 log="$T/node$1.log" before
	shift
	before=$(grep -c "listening on" "$log" 2>/dev/null || true)
	"$SEALBOX_RELAY" serve --data "$T/node$n" --listen "127.0.0.1:${NODE_PORT[$n]}" "$@" \
		2>>"$log" &
	NODE_PID[$n]=$!
	on_exit "kill -9 ${NODE_PID[$n]}"
	_node_up() { [ "$(grep -c "listening on" "$log" 2>/dev/null || true)" -gt "${before:-0}" ]; }
	wait_until $((10 * ${MB_SLOW:-1})) _node_up || fail "node $n did not start: $(tail -3 "$log")"
}

node_stop() {
	local n=$1 st=0
	[ -n "${NODE_PID[$n]:-}" ] || return 0
	kill -TERM "${NODE_PID[$n]}" 2>/dev/null || true
	wait "${NODE_PID[$n]}" || st=$?
	NODE_PID[$n]=
	[ "$st" -eq 0 ] || fail "node $n exited with status $st"
	if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T/node$n.log"; then
		fail "sanitizer report in node $n's log"
	fi
}

node_kill() {
	kill -KILL "${NODE_PID[$1]}"
	wait "${NODE_PID[$1]}" 2>/dev/null || true
	NODE_PID[$1]=
}

node_vmhwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/${NODE_PID[$1]}/status"
}

on_node() {
	local n=$1 cmd=$2
	shift 2
	"$RELAY_CLIENT" "$cmd" --relay "127.0.0.1:${NODE_PORT[$n]}" --fp "$FP" "$@"
}

new_device_on() {
	local n=$1 dir=$2 address=$3 code
	"$RELAY_CLIENT" keygen --keys "$T/$dir" >/dev/null || fail "keygen $dir"
	code=$("$SEALBOX_RELAY" invite --data "$T/node$n" "$address") || fail "invite $address"
	on_node "$n" register --keys "$T/$dir" --address "$address" --code "$code" --name "$dir" \
		>/dev/null || fail "register $dir on node $n"
}
