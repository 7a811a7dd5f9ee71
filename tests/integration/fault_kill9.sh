#!/usr/bin/env bash
# kill -9 of the sender's agent, the relay and the receiver's agent at
# seeded random points during a stream of messages and attachments: after
# everything restarts, every message is in bob's inbox exactly once with
# the bytes alice wrote, and every file alice's close accepted is delivered.
#
#   FAULT_SEED   the schedule (default fixed; the log names it to repeat)
#   FAULT_N      messages (default 60), FAULT_M attachments (default 3)
# The full run recorded in docs/SECURITY.md is FAULT_N=1000 FAULT_M=20.
#
# A kill lands in the background after a random delay of 0..400 ms, so it
# hits whatever is running: a write into the outbox, the spool's fsync, the
# relay's commit, a push being stored.  A write that fails because the
# mount died is judged by what the remounted outbox shows: a file listed
# with its full bytes and a status was accepted (close returned after the
# durable spool, the answer was lost); anything else is written again.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
MB_CASE_LIMIT=${MB_CASE_LIMIT:-$(( ${FAULT_N:-60} * 4 + 120 ))}
source "$SB_TOP/tests/lib/mailbox.sh"

SEED=${FAULT_SEED:-424242}
N=${FAULT_N:-60}
M=${FAULT_M:-3}
CHECK="$SB_TOP/tests/hostile/check_inbox.py"
RANDOM=$SEED
note "seed $SEED, $N messages, $M attachments"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_mount alice
mb_mount bob
O="$(mb_mnt alice)/outbox/bob@example.com"
mkdir "$O"
mkdir -p "$T/sent"

kills=0
KPIDS=()
# Starts a background kill -9 of one victim after a random delay.
schedule_kill() {
	local victim=$((RANDOM % 3)) delay pid what
	delay=$(printf '0.%03d' $((RANDOM % 400)))
	case $victim in
	0) pid=$(mb_pid alice); what=alice ;;
	1) pid=$RPID; what=relay ;;
	*) pid=$(mb_pid bob); what=bob ;;
	esac
	[ -n "$pid" ] || return 0
	kills=$((kills + 1))
	echo "kill $kills: $what (pid $pid) in ${delay}s" >>"$T/kills.log"
	( sleep "$delay"; kill -KILL "$pid" 2>/dev/null ) &
	KPIDS+=($!)
}

# Brings back whatever a kill took down.
revive() {
	local d pid
	for d in alice bob; do
		pid=$(mb_pid "$d")
		if [ -z "$pid" ] || ! _mb_alive "$pid"; then
			[ -z "$pid" ] || _mb_wait_pid "$pid" 10
			_mb_pid[$d]=
			fusermount3 -u "$(mb_mnt "$d")" 2>/dev/null ||
				fusermount3 -uz "$(mb_mnt "$d")" 2>/dev/null || true
			mb_mount "$d"
		fi
	done
	if [ -n "$RPID" ] && ! kill -0 "$RPID" 2>/dev/null; then
		wait "$RPID" 2>/dev/null || true
		RPID=
	fi
	if [ -z "$RPID" ] || ! _mb_alive "$RPID"; then
		wait "$RPID" 2>/dev/null || true
		relay_start
	fi
}

# 0 when NAME in the outbox holds the intended bytes and has a status.
accepted() {
	local f="$O/$1"
	[ -f "$f" ] && cmp -s "$f" "$T/sent/$1" && [ -n "$(mb_status "$f")" ]
}

# put NAME: writes it until the outbox accepted it.
put() {
	local name=$1 try
	for try in 1 2 3 4 5 6; do
		if cp "$T/sent/$name" "$O/$name" 2>>"$T/kills.log"; then
			wait_until 5 accepted "$name" && return 0
			echo "$name: written, status '$(mb_status "$O/$name")'" >>"$T/kills.log"
		fi
		sleep 0.5
		for p in "${KPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
		KPIDS=()
		revive
		accepted "$name" && { echo "$name: accepted before the crash" >>"$T/kills.log"; return 0; }
	done
	fail "could not write $name into the outbox in 6 tries"
}

att_every=$(( N / (M > 0 ? M : 1) ))
j=0
for i in $(seq 1 "$N"); do
	names=("m$i.txt")
	mb_data $((1 + (i * 131) % 2000)) "$i" >"$T/sent/m$i.txt"
	if [ "$M" -gt 0 ] && [ $((i % att_every)) -eq 0 ] && [ "$j" -lt "$M" ]; then
		j=$((j + 1))
		names+=("att$j.bin")
		mb_data $((5000 + j * 40000)) "a$j" >"$T/sent/att$j.bin"
	fi
	for name in "${names[@]}"; do
		[ $((RANDOM % 5)) -ne 0 ] || schedule_kill
		put "$name"
	done
	# Now and then a kill lands between writes too.
	if [ $((i % 10)) -eq 0 ]; then
		for p in "${KPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
		KPIDS=()
		revive
	fi
done
for p in "${KPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
revive
note "$kills kills scheduled; $(grep -c 'accepted before the crash' "$T/kills.log" 2>/dev/null || echo 0) writes accepted just before a crash"
[ "$kills" -gt 0 ] || fail "the schedule killed nothing"

total=$(ls "$T/sent" | wc -l)
[ "$total" -eq $((N + M)) ] || fail "wrote $total files, wanted $((N + M))"
# Status is refreshed on demand (a read of the xattr asks the relay), so
# every pass reads each file still pending; those delivered drop out.
mapfile -t _pending < <(ls "$T/sent")
_all_delivered() {
	local rest=() f
	for f in "${_pending[@]}"; do
		[ "$(mb_status "$O/$f")" = "delivered 1/1" ] || rest+=("$f")
	done
	_pending=("${rest[@]}")
	[ "${#_pending[@]}" -eq 0 ]
}
_wait_delivered() {
	local deadline=$(( $(date +%s) + $(mb_secs 180) ))
	until _all_delivered; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}
_wait_delivered || {
	for f in "$T/sent"/*; do
		st=$(mb_status "$O/${f##*/}")
		[ "$st" = "delivered 1/1" ] || note "${f##*/}: '$st'"
	done
	note "relay: $(tail -5 "$RLOG")"
	note "connections: $(ss -tn state established "( dport = :$RPORT )" | tail -n +2 | wc -l) to the relay"
	fail "not everything was delivered"
}
wait_queue_empty 60 bob
python3 "$CHECK" inbox "$T/sent" "$(mb_mnt bob)/inbox/alice@example.com" ||
	fail "bob's inbox differs from what alice sent"
for f in "$T/sent"/*; do
	cmp -s "$f" "$O/${f##*/}" || fail "${f##*/} does not read back in alice's outbox"
done
[ "$(ls "$O" | wc -l)" -eq "$total" ] || fail "alice's outbox has $(ls "$O" | wc -l) files, wanted $total"
note "$total files, each once in bob's inbox with its bytes"
mb_finish
