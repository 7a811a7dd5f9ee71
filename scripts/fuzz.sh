#!/usr/bin/env bash
# fuzz.sh - builds and runs the libFuzzer harnesses in fuzz/
# (docs/SECURITY.md section 5).  `make fuzz` runs `fuzz.sh build`.
#
#   fuzz.sh build                 clang + libFuzzer + ASan/UBSan binaries in
#                                 build-fuzz/fuzz/ (installs clang if missing)
#   fuzz.sh list                  the targets (fuzz/fuzz_<target>.c)
#   fuzz.sh seed                  (re)writes the seed corpora (fuzz/seeds.py)
#   fuzz.sh run TARGET SECONDS    fuzzes one target: one process, nice 10
#                                 (FUZZ_NICE overrides); new
#                                 inputs go to build-fuzz/corpus/TARGET,
#                                 findings to build-fuzz/artifacts/TARGET/,
#                                 the log to build-fuzz/logs/TARGET.log
#   fuzz.sh merge TARGET          minimises fuzz/corpus/TARGET + the run's
#                                 corpus back into fuzz/corpus/TARGET (every
#                                 edge kept; -use_counters=0)
#   fuzz.sh all SECONDS           run + merge for every target in turn
#   FUZZ_KEEP_GOING=1 fuzz.sh run|all ...   -fork=1 -ignore_crashes=1: go on
#                                 after a finding (still one process)
#   fuzz.sh stats                 the last run's final line per target
#
# A finding is never fixed here: copy the reproducer to
# fuzz/crashes/TARGET/ so `make check` replays it from then on.
# The machine is shared: one fuzzing process at a time, always niced.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
FB=${FUZZ_BUILD:-build-fuzz}

targets() {
	local f
	for f in fuzz/fuzz_*.c; do
		f=${f#fuzz/fuzz_}
		echo "${f%.c}"
	done
}

need_target() {
	[ -f "fuzz/fuzz_$1.c" ] || { echo "fuzz.sh: no target '$1' (try: fuzz.sh list)" >&2; exit 2; }
	[ -x "$FB/fuzz/fuzz_$1" ] || { echo "fuzz.sh: $FB/fuzz/fuzz_$1 not built (make fuzz)" >&2; exit 1; }
}

build() {
	if ! command -v clang >/dev/null 2>&1; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "fuzz.sh: clang missing and not root; run: sudo apt-get install clang" >&2
			exit 1
		fi
		echo "fuzz.sh: installing clang" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang >/dev/null
	fi
	make --no-print-directory BUILD="$FB" CC=clang FUZZER=1 fuzz-bins
}

run() {
	local t=$1 secs=$2 work
	need_target "$t"
	work="$top/$FB/runs/$t"
	mkdir -p "$FB/corpus/$t" "$FB/artifacts/$t" "$FB/logs" "$work" "fuzz/crashes/$t"
	rm -f "$work"/fuzz-*.log
	# Harnesses pass over known open findings (fuzz/findings/) while
	# fuzzing; the replay in `make check` keeps asserting them.
	export SB_FUZZ_SKIP_KNOWN=1
	if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
		# -fork=1: still one fuzzing process at a time, restarted after a
		# finding, so a target with a known open finding (fuzz/findings/)
		# keeps exploring past it.
		(cd "$work" && nice -n 10 "$top/$FB/fuzz/fuzz_$t" -fork=1 -ignore_crashes=1 \
			-max_total_time="$secs" -timeout=25 -report_slow_units=25 -rss_limit_mb=2048 \
			-artifact_prefix="$top/$FB/artifacts/$t/" \
			"$top/$FB/corpus/$t" "$top/fuzz/corpus/$t" >"$work/fuzz-0.log" 2>&1) || true
	else
		# -report_slow_units=25: an input is slow only where it would
		# time out; an RSA-4096 PKCS#8 key takes 2.5 s under ASan (its
		# pairwise check tests p and q for primality) and more on a busy
		# machine, which is not a finding.
		# One in-process fuzzer; every line of its output gets the
		# seconds since the start appended (" @Ns"), so the log shows
		# when coverage last grew, not just at which execution.
		(cd "$work" && nice -n "${FUZZ_NICE:-10}" "$top/$FB/fuzz/fuzz_$t" \
			-max_total_time="$secs" -timeout=25 -report_slow_units=25 -rss_limit_mb=2048 \
			-print_final_stats=1 \
			-artifact_prefix="$top/$FB/artifacts/$t/" \
			"$top/$FB/corpus/$t" "$top/fuzz/corpus/$t" 2>&1 |
			stamp >"$work/fuzz-0.log") || true
	fi
	cp "$work/fuzz-0.log" "$FB/logs/$t.log"
	stats_one "$t"
	if [ -n "$(ls -A "$FB/artifacts/$t")" ]; then
		echo "fuzz.sh: $t: FINDINGS in $FB/artifacts/$t/:" >&2
		ls -l "$FB/artifacts/$t" >&2
		return 1
	fi
}

merge() {
	local t=$1 tmp
	need_target "$t"
	tmp=$(mktemp -d "$top/$FB/merge.XXXXXX")
	# -use_counters=0: the checked-in corpus keeps every edge reached, not
	# every hit-count bucket, which keeps it a tenth of the size.  The full
	# working corpus stays in $FB/corpus/$t for the next run.
	SB_FUZZ_SKIP_KNOWN=1 nice -n 10 "$FB/fuzz/fuzz_$t" -merge=1 -use_counters=0 \
		-timeout=25 "$tmp" "fuzz/corpus/$t" "$FB/corpus/$t" >"$FB/logs/$t.merge.log" 2>&1
	[ -n "$(ls -A "$tmp")" ] || { echo "fuzz.sh: merge of $t produced nothing" >&2; exit 1; }
	rm -rf "fuzz/corpus/$t"
	mv "$tmp" "fuzz/corpus/$t"
	# The seeds stay whatever the merge chose: the valid sealed payloads
	# are what lets a later run get past parsing at once.
	python3 fuzz/seeds.py >/dev/null
	echo "$t: corpus $(find "fuzz/corpus/$t" -type f | wc -l) files," \
		"$(find "fuzz/corpus/$t" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}') bytes"
}

# Appends " @Ns" (seconds since the run began) to every line read.
stamp() {
	local line start=$SECONDS
	while IFS= read -r line; do
		printf '%s @%ds\n' "$line" $((SECONDS - start))
	done
}

stats_one() {
	local t=$1 log="$FB/logs/$1.log"
	[ -f "$log" ] || { echo "$t: no log"; return; }
	# Plain mode ends with "#N DONE cov: ..." and "Done N runs in S
	# second(s)"; fork mode with "#N: cov: ... time: Ss job: J".
	echo "$t: $(grep -E '^#[0-9]+[[:space:]]+DONE|^#[0-9]+: cov:' "$log" | tail -n1)" \
		"$(grep -E '^Done [0-9]+ runs' "$log" | tail -n1)"
	# The plateau: when the last input with new coverage was found.
	local last
	last=$(grep -E '^#[0-9]+[[:space:]]+NEW' "$log" | tail -n1)
	echo "$t: last new coverage: ${last:-none in this run}"
}

cmd=${1:-}
case "$cmd" in
build) build ;;
list) targets ;;
seed) python3 fuzz/seeds.py ;;
run) [ $# -eq 3 ] || { echo "usage: fuzz.sh run TARGET SECONDS" >&2; exit 2; }; run "$2" "$3" ;;
merge) [ $# -eq 2 ] || { echo "usage: fuzz.sh merge TARGET" >&2; exit 2; }; merge "$2" ;;
all)
	[ $# -eq 2 ] || { echo "usage: fuzz.sh all SECONDS" >&2; exit 2; }
	rc=0
	for t in $(targets); do
		run "$t" "$2" || rc=1
		merge "$t"
	done
	exit $rc
	;;
stats) for t in $(targets); do stats_one "$t"; done ;;
*) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
