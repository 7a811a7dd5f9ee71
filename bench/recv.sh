#!/usr/bin/env bash
# recv.sh [N_LAT] [N_SMALL] [RUNS] - the receiving side's share of the
# mailbox benchmarks (bench/mailbox.sh: latency, small messages) alone,
# for before/after comparisons of agent/recv/ (bench/NOTES.md).
#
# alice sends, bob (one device, mounted) receives, as in mailbox.sh.  Prints
# `KEY V1 V2 ...` lines on stdout:
#   lat.ms          close() in alice's outbox -> listed in bob's inbox (ms)
#   recv.lat.ms     the same messages: push reached bob -> record committed
#                   (bob's log line "stored X ms after its push")
#   small.fps       files/s, RUNS runs of N_SMALL 1000-byte files
#   recv.small.ms   push -> committed for the small messages
#   list.ms         one listing of bob's inbox folder at the end (ms), 50
#                   times, and list.entries its size
#   strace.*        bob's mount under `strace -f -c` (attached) while the
#                   last run's N_SMALL messages arrive: calls per message of
#                   fsync, fdatasync, pwrite64, write, and the table itself
#                   on stderr
# Environment: SB_BUILD (default build), RECV_STRACE=0 to skip strace,
# RECV_BOB_SEALBOX=BINARY: bob's mount runs another build's sealbox (the
# receiver before a change, beside the same relay and sender).
here=$(cd "$(dirname "$0")" && pwd); top=${here%/bench}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
N_LAT=${1:-300} N_SMALL=${2:-200} RUNS=${3:-3}
export MB_CASE_LIMIT=560
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

# (mb_alice_to_bob, with bob's sealbox swapped: its first mount makes
# his store's schema, which an older build may not open afterwards)
_mb_mount=$(declare -f mb_mount)
mb_mount() {
	if [ "$1" = bob ] && [ -n "${RECV_BOB_SEALBOX:-}" ]; then
		SEALBOX=$RECV_BOB_SEALBOX _mb_mount_orig "$@"
	else
		_mb_mount_orig "$@"
	fi
}
eval "${_mb_mount/mb_mount/_mb_mount_orig}"
mb_alice_to_bob

# The receiver's own figure, from bob's log: the last N arrivals.
recv_ms() {
	grep -o 'stored [0-9.]* ms after its push' "$(mb_log bob)" | awk '{ print $2 }' |
		tail -n "$1" | tr '\n' ' '
}

note "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$here/mbtool.py" latency "$O" "$I" "$N_LAT" lat.ms
echo "recv.lat.ms $(recv_ms "$N_LAT")"

small="$T/small"
mkdir "$small"
for ((i = 0; i < N_SMALL; i++)); do
	mb_data 1000 "$i" | base64 -w 76 | head -c 1000 >"$small/m$(printf %04d "$i").txt"
done
if [ "$RUNS" -gt 1 ]; then
	python3 "$here/mbtool.py" small "$O" "$I" "$small" $((RUNS - 1)) small.fps
	echo "recv.small.ms $(recv_ms $(((RUNS - 1) * N_SMALL)))"
fi
# The last run with strace attached to every thread of bob's mount.
if [ "${RECV_STRACE:-1}" = 1 ]; then
	strace -f -c -o "$T/strace.bob" -p "$(mb_pid bob)" &
	st=$!
	sleep 1
fi
# (other names than the runs before: mbtool names files r0-NAME)
mkdir "$T/last"
for f in "$small"/*; do ln "$f" "$T/last/x-${f##*/}"; done
python3 "$here/mbtool.py" small "$O" "$I" "$T/last" 1 small_strace.fps
if [ "${RECV_STRACE:-1}" = 1 ]; then
	sleep 0.5
	kill -INT "$st"
	wait "$st" || true
	cat "$T/strace.bob" >&2
	for sc in fsync fdatasync pwrite64 write; do
		echo "strace.$sc.per_msg $(awk -v sc="$sc" -v n="$N_SMALL" \
			'$NF == sc { printf "%.2f", ($4 + 0) / n; f = 1 } END { if (!f) print 0 }' "$T/strace.bob")"
	done
fi
# What one listing of bob's folder costs now (it grows with the folder):
# the poll that sees an arrival is one such listing after the COMMIT.
python3 - "$I" <<'PY'
import os, sys, time
t = []
for _ in range(50):
    t0 = time.monotonic(); n = len(os.listdir(sys.argv[1])); t.append((time.monotonic() - t0) * 1e3)
print("list.ms " + " ".join("%.3f" % v for v in t))
print("list.entries %d" % n)
PY
note "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
mb_finish
