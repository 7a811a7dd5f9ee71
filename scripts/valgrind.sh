#!/usr/bin/env bash
# valgrind.sh - `make valgrind`: the whole integration suite with every
# project program the cases start under valgrind memcheck.  Not part of
# `make check` (it takes the better part of an hour); the result is recorded
# in docs/SECURITY.md section 4.
#
#   [VG_JOBS=2] scripts/valgrind.sh [BUILD_DIR] [CASE.sh ...]
#
# VG_JOBS runs that many cases at once (default 1); each case's output goes
# to BUILD_DIR/valgrind/cases/CASE.log, a PASS/FAIL line to stdout.
#
# How: BUILD_DIR/valgrind/ mirrors the build dir the cases look in (SB_BUILD)
# with wrapper scripts in place of the programs: sealbox (every subcommand),
# sealbox-relay (serve, init, invite), tests/helpers/hostile_relay (relay
# code) and fuzz/replay_* (the parsers of untrusted bytes) run under
# memcheck; tests/helpers/relay_client and keyring_tool stay native (test
# drivers, not shipped programs; the client library relay_client drives is
# the one the mount daemons run under memcheck).
# A wrapper execs valgrind, so a case's $! and kill still reach the program.
# Each process writes its own log; the script fails if any case fails or any
# log shows a memcheck error or a definitely/indirectly lost block, also in
# the log of a process a case killed on purpose (no summary there).
# Suppressions (tests/valgrind.supp): none is needed today; one added there
# must name third-party internals only, never project code.
#
# Slowness: memcheck is 10-50x slower, so the cases' deadlines scale with
# MB_SLOW (tests/lib), and the cases that stream 1 GiB or run a long kill
# schedule run with smaller sizes through their own knobs (VG_KNOBS below).
# Every case runs; none is excluded (EXCLUDE, printed in the summary, names
# any that must be, with the reason).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
shift || true
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
	for c in "$top"/tests/integration/*.sh; do cases+=("$(basename "$c")"); done
fi

# Cases that cannot run under memcheck, "name.sh:reason"; printed loudly.
EXCLUDE=()

# Deadlines x10 (tests/lib/mailbox.sh, relay.sh; an ASan build uses x4).
export MB_SLOW=${MB_SLOW:-10}
# The watchdog of a mailbox case (MB_CASE_LIMIT x MB_SLOW) may exceed the
# 560 s that suits the 600 s runner: this runner allows VG_CASE_TIMEOUT.
VG_CASE_TIMEOUT=${VG_CASE_TIMEOUT:-1500}
export MB_CASE_CAP=$((VG_CASE_TIMEOUT - 60))
# Sizes: the 1 GiB streams become 48 MiB (still hundreds of chunks); the
# kill -9 schedule 20 messages and 2 attachments.  Peak-RSS limits are
# lifted: under memcheck VmHWM is valgrind's shadow memory, not ours (the
# native `make check` enforces them).
VG_KNOBS=(
	MB_ATTACH_SIZE=$((48 * 1024 * 1024))
	RELAY_BLOB_SIZE=$((48 * 1024 * 1024))
	SB_RSS_LIMIT_KB=$((4 * 1024 * 1024))
	FAULT_N=20 FAULT_M=2
)

command -v valgrind >/dev/null || {
	echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
	exit 1
}
# VG_DIR: the wrapper dir (two runs at once need two).
vg=$(realpath -m "${VG_DIR:-$build/valgrind}")
logs="$vg/logs"
rm -rf "$vg"
mkdir -p "$logs" "$vg/tests/helpers" "$vg/fuzz"

# wrap REL: $vg/REL runs $build/REL under memcheck, its log named after the
# program, its first argument (made file-name safe) and its pid.
wrap() {
	local rel=$1 name
	name=$(basename "$rel")
	cat >"$vg/$rel" <<WRAP
#!/bin/sh
sub=\$(printf '%s' "\${1:-none}" | tr -c 'A-Za-z0-9_' '_' | cut -c1-16)
exec valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \\
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \\
	--num-callers=30 --vgdb=no --child-silent-after-fork=yes \\
	--suppressions="$top/tests/valgrind.supp" \\
	--log-file="$logs/$name-\$sub-%p.log" "$build/$rel" "\$@"
WRAP
	chmod +x "$vg/$rel"
}
wrap sealbox
wrap sealbox-relay
wrap tests/helpers/hostile_relay
for f in "$build"/fuzz/replay_*; do
	[ -x "$f" ] && wrap "fuzz/$(basename "$f")"
done
for h in relay_client keyring_tool; do
	ln -s "$build/tests/helpers/$h" "$vg/tests/helpers/$h"
done

is_excluded() {
	local e
	for e in "${EXCLUDE[@]}"; do [ "${e%%:*}" = "$1" ] && return 0; done
	return 1
}

# run_case CASE: one case, its output in $vg/cases/CASE.log, its verdict
# in $vg/cases/CASE.result.
run_case() {
	local c=$1 t0 st=0
	t0=$(date +%s)
	env SB_BUILD="$vg" SB_TOP="$top" "${VG_KNOBS[@]}" \
		timeout "$VG_CASE_TIMEOUT" bash "$top/tests/integration/$c" \
		>"$vg/cases/$c.log" 2>&1 || st=$?
	if [ "$st" -eq 0 ]; then
		echo "PASS $c ($(( $(date +%s) - t0 )) s)" | tee "$vg/cases/$c.result"
	else
		echo "FAIL $c (exit $st, $(( $(date +%s) - t0 )) s); last lines of $vg/cases/$c.log:" |
			tee "$vg/cases/$c.result"
		tail -n 15 "$vg/cases/$c.log" | sed 's/^/    /'
	fi
}

# VG_JOBS cases at a time (default 1): each valgrind process keeps one core
# busy, and the deadlines above leave room for a second case beside it.
jobs=${VG_JOBS:-1}
mkdir -p "$vg/cases"
start_all=$(date +%s)
failed=() ran=0
for c in "${cases[@]}"; do
	is_excluded "$c" && continue
	ran=$((ran + 1))
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
	echo "== $c (under valgrind)"
	run_case "$c" &
done
wait
for c in "${cases[@]}"; do
	is_excluded "$c" && continue
	grep -q '^PASS' "$vg/cases/$c.result" 2>/dev/null || failed+=("$c")
done

# A log is bad if memcheck reported an error (a killed process prints no
# ERROR SUMMARY, so the error records themselves are looked for too) or a
# block definitely or indirectly lost.
n=0 bad=0
err_re='^==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function|.* bytes in .* blocks are (definitely|indirectly) lost)'
for l in "$logs"/*.log; do
	[ -e "$l" ] || continue
	n=$((n + 1))
	if grep -qE "ERROR SUMMARY: [1-9]|(definitely|indirectly) lost: [1-9]|$err_re" "$l"; then
		bad=$((bad + 1))
		echo "---- $l" >&2
		grep -E "ERROR SUMMARY|definitely lost|indirectly lost|$err_re" "$l" | head -20 >&2
	fi
done
excl=""
[ ${#EXCLUDE[@]} -eq 0 ] || excl=" ($(printf '%s; ' "${EXCLUDE[@]}"))"
echo "valgrind: $ran cases run, ${#EXCLUDE[@]} excluded$excl, ${#failed[@]} failed${failed[*]:+ (${failed[*]})};" \
	"$n processes under memcheck, $bad with errors or lost blocks; $(( $(date +%s) - start_all )) s"
[ "$n" -gt 0 ] || { echo "valgrind: no process ran under valgrind" >&2; exit 1; }
[ ${#failed[@]} -eq 0 ] && [ "$bad" -eq 0 ]
