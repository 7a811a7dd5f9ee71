#!/usr/bin/env bash
# Runs the test suites and prints each runner's own summary:
#   unit:        every build/tests/test_* cmocka binary (cmocka's summary lines)
#   integration: every tests/integration/*.sh, SB_JOBS (default 2) at a
#                time; prints "N passed, N failed"
# Usage: run-tests.sh BUILD_DIR [unit|integration]
# Exit status is non-zero if anything failed.  A test that cannot run fails:
# nothing is skipped silently.
set -uo pipefail

build=${1:?build dir}
which=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$top/$build" && pwd)
status=0

if [ "$which" = all ] || [ "$which" = unit ]; then
	unit_pass=0 unit_fail=0
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		echo "== unit: $(basename "$t")"
		# Each suite gets its own private D-Bus + unlocked gnome-keyring-daemon
		# (test_keyring needs a real Secret Service; the rest do not mind).
		if (cd "$top" && "$top/scripts/with-keyring" "$t"); then
			unit_pass=$((unit_pass + 1))
		else
			unit_fail=$((unit_fail + 1))
			status=1
		fi
	done
	[ "$unit_fail" -eq 0 ] || echo "unit: $unit_fail suite(s) failed" >&2
fi

if [ "$which" = all ] || [ "$which" = integration ]; then
	# Cases run SB_JOBS at a time (default 2, the cores of the machine the
	# suite is sized for): each starts its own relay on a free port, its
	# own keyring and mounts in its own temp dirs, so they do not share
	# state.  A case whose assertions involve time (deadlines, rates, load)
	# says "# sealbox-test: alone" in its header and runs with nothing
	# beside it, so a neighbour's load cannot fail it.
	jobs=${SB_JOBS:-2}
	pass=0 fail=0 failed=()
	logdir=$(mktemp -d /tmp/sealbox-itest.XXXXXX)
	declare -A pid_name=() name_start=()

	# Reaps one finished case (any, or the one named by $1's pid).
	reap() {
		local pid rc name
		if [ $# -gt 0 ]; then
			pid=$1
			wait "$pid"; rc=$?
		else
			wait -n -p pid; rc=$?
		fi
		name=${pid_name[$pid]}
		unset "pid_name[$pid]"
		if [ "$rc" -eq 0 ]; then
			echo "PASS $name ($(( $(date +%s) - name_start[$name] ))s)"
			pass=$((pass + 1))
		else
			echo "FAIL $name (exit $rc, $(( $(date +%s) - name_start[$name] ))s); last lines of $logdir/$name.log:"
			tail -n 25 "$logdir/$name.log" | sed 's/^/    /'
			fail=$((fail + 1))
			failed+=("$name")
			status=1
		fi
	}
	launch() {
		local t=$1 name
		name=$(basename "$t" .sh)
		name_start[$name]=$(date +%s)
		SB_BUILD="$build" SB_TOP="$top" timeout 600 bash "$t" >"$logdir/$name.log" 2>&1 &
		pid_name[$!]=$name
	}
	alone=() shared=()
	for t in "$top"/tests/integration/*.sh; do
		[ -f "$t" ] || continue
		if grep -q '^# sealbox-test: alone' "$t"; then alone+=("$t"); else shared+=("$t"); fi
	done
	for t in "${shared[@]}"; do
		while [ "${#pid_name[@]}" -ge "$jobs" ]; do reap; done
		launch "$t"
	done
	while [ "${#pid_name[@]}" -gt 0 ]; do reap; done
	for t in "${alone[@]}"; do
		launch "$t"
		reap "$!"
	done
	echo "integration: $pass passed, $fail failed"
	[ "$fail" -eq 0 ] && rm -rf "$logdir"
fi
exit $status
