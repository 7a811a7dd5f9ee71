#!/usr/bin/env bash
# Runs the test suites and prints each runner's own summary:
#   unit:        every build/tests/test_* cmocka binary (cmocka's summary lines)
#   integration: every tests/integration/*.sh; prints "N passed, N failed"
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
	pass=0 fail=0 failed=()
	logdir=$(mktemp -d /tmp/sealbox-itest.XXXXXX)
	for t in "$top"/tests/integration/*.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh)
		start=$(date +%s)
		if SB_BUILD="$build" SB_TOP="$top" timeout 600 bash "$t" >"$logdir/$name.log" 2>&1; then
			echo "PASS $name ($(( $(date +%s) - start ))s)"
			pass=$((pass + 1))
		else
			rc=$?
			echo "FAIL $name (exit $rc, $(( $(date +%s) - start ))s); last lines of $logdir/$name.log:"
			tail -n 25 "$logdir/$name.log" | sed 's/^/    /'
			fail=$((fail + 1))
			failed+=("$name")
			status=1
		fi
	done
	echo "integration: $pass passed, $fail failed"
	[ "$fail" -eq 0 ] && rm -rf "$logdir"
fi
exit $status
