#!/usr/bin/env bash
# bench.sh [BUILD] - `make bench`: every benchmark of issue 6 in one run,
# one table on stdout, written with the machine and date to
# docs/BENCHMARKS.md.  BUILD is the optimised build dir (build-bench).
#
# Order: crypto (bench/bench_crypto) and `openssl speed`; the references
# GnuPG and gocryptfs; the relay (bench/relay.sh); the mailbox end to end
# (bench/mailbox.sh, inside scripts/with-keyring); then, for every missed
# target, a profile (perf when `perf stat -e instructions` works, else
# valgrind's callgrind on a reduced run, plus strace's syscall wall times for
# the mount, since callgrind counts instructions and not time spent waiting).
#
# Stops on any error (set -e); installs gnupg, gocryptfs and valgrind with
# apt-get when missing; never prints a number it did not measure.
# BENCH_QUICK=1 runs reduced sizes (development only; the report says so).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build-bench}
case $BUILD in /*) ;; *) BUILD="$top/$BUILD" ;; esac
export SB_BUILD=$BUILD SB_TOP=$top
QUICK=${BENCH_QUICK:-0}
OUT=${BENCH_OUT:-$top/docs/BENCHMARKS.md}
start=$(date +%s)
say() { echo "bench: $*" >&2; }

for b in sealbox sealbox-relay bench/bench_crypto bench/bench_relay tests/helpers/relay_client; do
	[ -x "$BUILD/$b" ] || { say "$BUILD/$b not built (run make bench)"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { say "needs root: it mounts tmpfs for the gocryptfs reference"; exit 1; }

# ---- the comparison tools ---------------------------------------------------
need=()
command -v gpg >/dev/null || need+=(gnupg)
command -v gocryptfs >/dev/null || need+=(gocryptfs)
command -v valgrind >/dev/null || need+=(valgrind)
command -v strace >/dev/null || need+=(strace)
if [ "${#need[@]}" -gt 0 ]; then
	say "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

W=$(mktemp -d /tmp/sealbox-bench.XXXXXX)
SRCFS="$W/src"
cleanup() {
	local rc=$?
	[ "$rc" -eq 0 ] || { say "failed (exit $rc); results so far:"; cat "$RES" >&2 2>/dev/null || true; }
	umount "$SRCFS" 2>/dev/null || umount -l "$SRCFS" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
RES="$W/results"
: >"$RES"
res() { echo "$*" >>"$RES"; }

if [ "$QUICK" = 1 ]; then ATT_MB=64 N_SMALL=30 GO_RUNS=2; else ATT_MB=1024 N_SMALL=200 GO_RUNS=3; fi
res "meta.date $(date -u '+%Y-%m-%d %H:%M UTC')"
res "meta.cores $(nproc)"
res "meta.cpu $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
res "meta.load_start $(cut -d' ' -f1 /proc/loadavg)"
res "meta.quick $QUICK"
res "meta.att_mb $ATT_MB"
res "meta.build ${BUILD#"$top"/} (-O2 -g), $(openssl version | cut -d' ' -f1-2), $(gcc --version | head -1)"

# ---- per-device crypto and openssl speed -----------------------------------
say "crypto: seal/open beside the OpenSSL floor"
"$BUILD/bench/bench_crypto" >>"$RES"

say "openssl speed"
ossl() { openssl speed -mr -seconds 1 "$@" 2>/dev/null | grep '^+F'; }
ossl rsa2048 | awk -F: '$1 == "+F2" { printf "ossl.rsa2048.sign.us %.2f\nossl.rsa2048.verify.us %.2f\n", 1e6 / $4, 1e6 / $5 }' >>"$RES"
ossl ecdsap256 | awk -F: '$1 == "+F4" { printf "ossl.ecdsap256.sign.us %.2f\nossl.ecdsap256.verify.us %.2f\n", 1e6 / $4, 1e6 / $5 }' >>"$RES"
ossl ecdhp256 | awk -F: '$1 == "+F5" { printf "ossl.ecdhp256.us %.2f\n", 1e6 / $4 }' >>"$RES"
for alg in aes-128-ctr aes-256-ctr sha1; do
	ossl -bytes 16384 -evp "$alg" | awk -F: -v a="$alg" '$1 == "+F" { printf "ossl.%s.mbs %.0f\n", a, $4 / 1e6 }' >>"$RES"
done
for k in rsa2048.sign.us ecdsap256.sign.us ecdhp256.us aes-256-ctr.mbs sha1.mbs; do
	grep -q "^ossl.$k " "$RES" || { say "openssl speed gave no $k"; exit 1; }
done

# ---- inputs: the small files and the attachment source (on tmpfs) ----------
mkdir -p "$W/small" "$SRCFS"
for ((i = 0; i < N_SMALL; i++)); do
	{ openssl enc -aes-128-ctr -nosalt -pass "pass:bench-$i" -pbkdf2 -iter 1 -in /dev/zero 2>/dev/null || true; } |
		head -c 750 | base64 -w 76 | head -c 1000 >"$W/small/m$(printf %04d "$i").txt"
done
mount -t tmpfs -o size=$((ATT_MB + 64))m,mode=0700 bench-src "$SRCFS"
{ openssl enc -aes-128-ctr -nosalt -pass pass:bench-attachment -pbkdf2 -iter 1 -in /dev/zero 2>/dev/null || true; } |
	head -c $((ATT_MB << 20)) >"$SRCFS/src.bin"
[ "$(stat -c %s "$SRCFS/src.bin")" -eq $((ATT_MB << 20)) ] || { say "attachment source short"; exit 1; }

# ---- references: GnuPG and gocryptfs -----------------------------------------
say "GnuPG: $N_SMALL files, 3 runs"
bash "$top/bench/gpg.sh" "$RES" "$W/small" 3 "$W"
say "gocryptfs: $ATT_MB MiB on tmpfs, $GO_RUNS runs"
bash "$top/bench/gocryptfs.sh" "$RES" "$SRCFS/src.bin" "$ATT_MB" "$GO_RUNS" "$W"

# The relay and the mounts keep their data on disk under /tmp (durability is
# part of every figure).  A disk too full for a run is no error of the
# product: those figures are recorded as not measured, with the reason.
free_mb() { df -Pm /tmp | awk 'NR == 2 { print $4 }'; }
nm_all() {
	local k
	for k in "${@:2}"; do res "$k NM $1"; done
}

# ---- the relay -----------------------------------------------------------------
if [ "$(free_mb)" -lt 300 ]; then
	say "relay: skipped, only $(free_mb) MB free on /tmp"
	nm_all "only $(free_mb) MB free on /tmp at the time (the relay's database needs ~300 MB of room)" \
		relay.rate relay.idle.hwm_kb
else
	say "relay: routing rate and idle memory"
	BENCH_QUICK=$QUICK bash "$top/bench/relay.sh" "$RES"
fi

# ---- the mailbox end to end ------------------------------------------------------
need_mb=$((ATT_MB * 7 / 2 + 300))
if [ "$(free_mb)" -lt 300 ]; then
	say "mailbox: skipped, only $(free_mb) MB free on /tmp"
	nm_all "only $(free_mb) MB free on /tmp at the time (mounts, spools and the relay need ~300 MB)" \
		lat.ms small.fps fanout.ms att.write_close.mbs att.write_sent.mbs att.read.mbs \
		att.hwm_send.kb att.hwm_recv.kb
else
	att_nm=
	[ "$(free_mb)" -ge "$need_mb" ] ||
		att_nm="only $(free_mb) MB free on /tmp at the time; the $ATT_MB MiB attachment needs ~$need_mb MB (outbox spool, relay blob, inbox copy)"
	say "mailbox: latency, small messages, attachment, fan-out${att_nm:+ (attachment skipped: $att_nm)}"
	BENCH_QUICK=$QUICK BENCH_SRC="$SRCFS/src.bin" BENCH_SMALL="$W/small" BENCH_ATT_NM="$att_nm" \
		bash "$top/bench/mailbox.sh" "$RES"
fi
umount "$SRCFS"

# ---- profiles of the missed targets -----------------------------------------------
# The summaries below cut their tools' output with head: a closed pipe is
# expected there, not an error (the profiled runs themselves still stop the
# bench if they fail).
set +o pipefail
use_perf=0
if perf stat -e instructions true 2>&1 | grep -qE '[0-9,]+ +instructions'; then use_perf=1; fi
misses=$(python3 "$top/bench/report.py" "$RES" misses)
mount_profiled=0
for m in $misses; do
	p="$W/profile.$m.txt"
	case $m in
	seal)
		read -r wsuite wsize < <(python3 "$top/bench/report.py" "$RES" worst-seal)
		say "profile: seal ($wsuite, $wsize B; reduced bench_crypto run)"
		if [ "$use_perf" = 1 ]; then
			perf record -q -g -o "$W/perf.seal" "$BUILD/bench/bench_crypto" --quick "$wsuite" "$wsize" >/dev/null 2>&1
			{ echo "perf record, bench_crypto --quick $wsuite $wsize, top symbols by self time:"; echo '```'
			  perf report -i "$W/perf.seal" --stdio --no-children 2>/dev/null | grep -E '^ +[0-9]' | head -25; echo '```'; } >"$p"
		else
			# Two runs, each collecting only inside one function, so the
			# product's seal and the floor can be set side by side.
			for fn in crypto_seal floor_seal; do
				valgrind --tool=callgrind -q --callgrind-out-file="$W/cg.$fn" \
					--toggle-collect="$fn" "$BUILD/bench/bench_crypto" --quick "$wsuite" "$wsize" >/dev/null
			done
			{ echo "valgrind --tool=callgrind on \`bench_crypto --quick $wsuite $wsize\` (a tenth of the operations; perf cannot count instructions on this machine), collecting only inside crypto_seal, then only inside the floor's floor_seal: self cost by function, top 18 each. What the seal spends beyond the floor's list is the overhead."
			  for fn in crypto_seal floor_seal; do
				echo; echo "Inside $fn:"; echo '```'
				callgrind_annotate --inclusive=no "$W/cg.$fn" 2>/dev/null | grep -E '^ *[0-9,]+ ' | head -19
				echo '```'
			  done; } >"$p"
		fi
		;;
	small | p99 | attach | rss)
		if [ "$mount_profiled" = 0 ] && [ "$(free_mb)" -lt 300 ]; then
			echo "not profiled: only $(free_mb) MB free on /tmp for the profiled mount's run" >"$W/profile.mount.txt"
			mount_profiled=1
		fi
		if [ "$mount_profiled" = 0 ]; then
			say "profile: the sending mount under callgrind, then under strace (reduced run)"
			BENCH_PROFILE="$W/cg.mount" BENCH_PROFILE_TOOL=callgrind \
				bash "$top/bench/mailbox.sh" "$W/prof.res" >/dev/null
			BENCH_PROFILE="$W/strace.mount" BENCH_PROFILE_TOOL=strace BENCH_PROFILE_BOTH=1 \
				bash "$top/bench/mailbox.sh" "$W/prof2.res" >/dev/null
			{ echo "Reduced run (20 one-at-a-time messages, 20 small files, a 16 MiB attachment) with the \`sealbox mount\` processes profiled."
			  echo; echo "Where alice's (the sender's) instructions go, by our own functions (valgrind --tool=callgrind, inclusive cost, top 25 functions of sealbox's sources; OpenSSL has no symbols here; perf cannot count instructions on this machine):"; echo '```'
			  callgrind_annotate --inclusive=yes "$W/cg.mount" 2>/dev/null |
				grep -E '^ *[0-9,]+ +(\([^)]*\) +)?(agent|client|crypto|fs|proto|keyring|common|cli)/[a-z_0-9]+\.c:[a-z_0-9]+ \[' | head -25; echo '```'
			  echo; echo "And by self cost, every library (top 12):"; echo '```'
			  callgrind_annotate --inclusive=no "$W/cg.mount" 2>/dev/null | grep -E '^ *[0-9,]+ ' | head -13; echo '```'
			  for who in alice bob; do
				echo; echo "Where $who's wall time goes (strace -f -c -w: time inside system calls summed over all threads; read, futex, epoll_wait and poll are mostly idle threads waiting for FUSE requests, locks and the network; fsync/fdatasync are durability waits):"; echo '```'
				head -18 "$W/strace.mount.$who"; echo '```'
			  done; } >"$W/profile.mount.txt"
			mount_profiled=1
		fi
		cp "$W/profile.mount.txt" "$p"
		;;
	esac
done

res "meta.load_end $(cut -d' ' -f1 /proc/loadavg)"
res "meta.seconds $(( $(date +%s) - start ))"
awk -v l="$(grep '^meta.load_start ' "$RES" | cut -d' ' -f2)" 'BEGIN { exit !(l < 1.0) }' &&
	res "meta.quiet yes" || res "meta.quiet no"
cp "$RES" "$W/results.keep"
python3 "$top/bench/report.py" "$RES" report "$OUT" "$W"
say "wrote $OUT in $(( $(date +%s) - start )) s"
