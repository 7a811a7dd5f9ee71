# common.sh - sourced by every tests/integration/*.sh case.
#
# A case runs with `set -euo pipefail`, gets its own temp dir ($T), and
# registers cleanups with `on_exit CMD` (run in reverse order on any exit).
# It fails with `fail MESSAGE` and passes by exiting 0.  There is no skip: a
# case that cannot run fails loudly.
set -euo pipefail

: "${SB_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SB_BUILD:=$SB_TOP/build}"
SEALBOX="$SB_BUILD/sealbox"
SEALBOX_RELAY="$SB_BUILD/sealbox-relay"
export SB_TOP SB_BUILD SEALBOX SEALBOX_RELAY

T=$(mktemp -d /tmp/sealbox-case.XXXXXX)
_sb_cleanups=()

on_exit() { _sb_cleanups+=("$*"); }

_sb_run_cleanups() {
	local rc=$? i
	set +e
	for ((i = ${#_sb_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_sb_cleanups[i]}" >/dev/null 2>&1
	done
	if [ "$rc" -eq 0 ]; then
		rm -rf "$T"
	else
		echo "case failed (exit $rc); files kept in $T" >&2
	fi
	exit "$rc"
}
trap _sb_run_cleanups EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "-- $*" >&2; }

# expect_fail STATUS_REGEX MESSAGE_REGEX CMD...: CMD must exit non-zero
# with an exit status matching STATUS_REGEX and a stderr matching
# MESSAGE_REGEX (one line).
expect_fail() {
	local want_rc=$1 want_msg=$2 rc=0 err
	shift 2
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" -ne 0 ] || fail "expected failure, got success: $*"
	[[ "$rc" =~ ^($want_rc)$ ]] || fail "exit $rc, wanted $want_rc: $*"
	[[ "$err" =~ $want_msg ]] || fail "stderr '$err' does not match '$want_msg': $*"
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "more than one line on stderr: $err"
}

# wait_until SECONDS CMD...: polls CMD every 0.05 s until it succeeds.
wait_until() {
	local deadline=$(( $(date +%s) + $1 ))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# free_port: an unused TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

[ -x "$SEALBOX" ] || fail "$SEALBOX not built (run make)"
