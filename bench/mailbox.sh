#!/usr/bin/env bash
# mailbox.sh RESULTS - the end-to-end mailbox benchmarks of `make bench`
# (docs/BENCHMARKS.md), appended to RESULTS as `KEY V1 V2 ...` lines.
#
# Runs exactly as the integration cases do (tests/lib/mailbox.sh): the real
# relay on 127.0.0.1, devices enrolled with `sealbox init` into a private
# keyring (scripts/with-keyring), real FUSE mounts.  alice sends; bob (one
# device, mounted) receives; ten group members with three devices each are
# enrolled but never mounted (the fan-out only waits for relay acceptance).
#
# Environment: SB_BUILD (the optimised build), BENCH_QUICK=1 (reduced sizes
# for development), BENCH_SRC (a 1 GiB source file on tmpfs, made by
# scripts/bench.sh), BENCH_SMALL (the small files GnuPG also gets),
# BENCH_PROFILE=FILE: instead of the figures, run alice's
# mount under BENCH_PROFILE_TOOL (callgrind or strace; output FILE) through
# a reduced send workload (BENCH_PROFILE_BOTH=1: bob's mount too; the
# strace output goes to FILE.alice, FILE.bob).  BENCH_ATT_NM=REASON: no attachment run, its
# figures recorded as not measured for REASON.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/bench}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
RES=${1:?usage: mailbox.sh RESULTS}
export MB_CASE_LIMIT=560
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	N_LAT=100 N_SMALL=30 RUNS=3 FAN_RUNS=3 MEMBERS=10 ATT_MB=64
else
	N_LAT=1000 N_SMALL=200 RUNS=3 FAN_RUNS=5 MEMBERS=10 ATT_MB=1024
fi
if [ -n "${BENCH_PROFILE:-}" ]; then
	N_LAT=20 N_SMALL=20 RUNS=1 ATT_MB=16
	# mb_mount runs "$SEALBOX" mount: a wrapper puts only the mount of the
	# profiled device (alice) under callgrind.
	real=$SEALBOX
	cat >"$T/sealbox-prof" <<EOF
#!/bin/sh
if [ "\$1" = mount ] && [ "\${BENCH_PROFILE_THIS:-}" = 1 ]; then
	case "${BENCH_PROFILE_TOOL:-callgrind}" in
	strace) exec strace -f -c -w -o "$BENCH_PROFILE.\$BENCH_PROFILE_WHO" "$real" "\$@" ;;
	*) exec valgrind --tool=callgrind --callgrind-out-file="$BENCH_PROFILE" -q "$real" "\$@" ;;
	esac
fi
exec "$real" "\$@"
EOF
	chmod +x "$T/sealbox-prof"
	SEALBOX="$T/sealbox-prof"
	MB_SLOW=10
fi
res() { echo "$*" >>"$RES"; }

mb_relay
mb_device alice alice@bench.example
mb_device bob bob@bench.example
if [ -n "${BENCH_PROFILE:-}" ]; then
	BENCH_PROFILE_THIS=1 BENCH_PROFILE_WHO=alice mb_mount alice
else
	mb_mount alice
fi
if [ -n "${BENCH_PROFILE_BOTH:-}" ]; then
	BENCH_PROFILE_THIS=1 BENCH_PROFILE_WHO=bob mb_mount bob
else
	mb_mount bob
fi
A=$(mb_mnt alice) B=$(mb_mnt bob)
O="$A/outbox/bob@bench.example" I="$B/inbox/alice@bench.example"
mkdir "$O"

# ---- delivery latency (first, while bob's inbox folder is short) ---------
note "latency: $N_LAT messages, one at a time"
python3 "$here/mbtool.py" latency "$O" "$I" "$N_LAT" lat.ms >>"$RES"

# ---- small messages: the same files GnuPG gets -----------------------------
small=${BENCH_SMALL:-}
if [ -z "$small" ]; then
	small="$T/small"
	mkdir "$small"
	for ((i = 0; i < N_SMALL; i++)); do
		mb_data 1000 "$i" | base64 -w 76 | head -c 1000 >"$small/m$(printf %04d "$i").txt"
	done
fi
note "small messages: $RUNS runs of $(ls "$small" | wc -l) files"
python3 "$here/mbtool.py" small "$O" "$I" "$small" "$RUNS" small.fps >>"$RES"

# ---- attachment: write until sent, read back on bob ------------------------
if [ -n "${BENCH_ATT_NM:-}" ]; then
	for k in att.write_close.mbs att.write_sent.mbs att.read.mbs att.hwm_send.kb att.hwm_recv.kb; do
		res "$k NM $BENCH_ATT_NM"
	done
	ATT_MB=0
fi
[ "$ATT_MB" -eq 0 ] || {
note "attachment: $ATT_MB MiB"
src=${BENCH_SRC:-}
if [ -z "$src" ]; then
	src="$T/att.bin"
	mb_data $((ATT_MB << 20)) 7 >"$src"
fi
size=$((ATT_MB << 20))
[ "$(stat -c %s "$src")" -ge "$size" ] || fail "$src is smaller than $ATT_MB MiB"
t0=$(date +%s.%N)
head -c "$size" "$src" | dd of="$O/big.bin" bs=1M iflag=fullblock status=none
t1=$(date +%s.%N)
wait_status 300 "$O/big.bin" '^(sent|delivered .*)$'
t2=$(date +%s.%N)
got=$(wait_for_file 300 "$I" "$(mb_inbox_re big.bin)")
t3=$(date +%s.%N)
dd if="$got" of=/dev/null bs=1M status=none
t4=$(date +%s.%N)
[ "$(stat -c %s "$got")" -eq "$size" ] || fail "bob's copy is $(stat -c %s "$got") bytes"
res "att.mb $ATT_MB"
res "att.write_close.mbs $(echo "$size $t0 $t1" | awk '{ printf "%.1f", $1 / 1e6 / ($3 - $2) }')"
res "att.write_sent.mbs $(echo "$size $t0 $t2" | awk '{ printf "%.1f", $1 / 1e6 / ($3 - $2) }')"
res "att.arrive.s $(echo "$t2 $t3" | awk '{ printf "%.2f", $2 - $1 }')"
res "att.read.mbs $(echo "$size $t3 $t4" | awk '{ printf "%.1f", $1 / 1e6 / ($3 - $2) }')"
res "att.hwm_send.kb $(mb_vmhwm_kb alice)"
res "att.hwm_recv.kb $(mb_vmhwm_kb bob)"
}

# ---- fan-out: 10 members x 3 devices, none mounted -------------------------
if [ -z "${BENCH_PROFILE:-}" ]; then
	note "fan-out: enrolling $MEMBERS members x 3 devices"
	group=
	for ((m = 1; m <= MEMBERS; m++)); do
		for d in 1 2 3; do
			mb_device "m${m}d$d" "member$m@bench.example" --suite ec
		done
		group+="${group:+,}member$m@bench.example"
	done
	mkdir "$A/outbox/$group"
	python3 "$here/mbtool.py" fanout "$A/outbox/$group" "$FAN_RUNS" fanout.ms >>"$RES"
	# Every run reached all 30 devices (relay-side rows, not our word).
	last=$(mb_sql "SELECT COUNT(*) FROM status WHERE sender_device = ? GROUP BY msgid ORDER BY COUNT(*) DESC LIMIT 1" \
		"$(mb_device_id alice)")
	[ "$last" -eq $((MEMBERS * 3)) ] || fail "the group send reached $last devices, not $((MEMBERS * 3))"
fi
mb_finish
