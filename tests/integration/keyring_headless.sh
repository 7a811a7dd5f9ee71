#!/usr/bin/env bash
# scripts/with-keyring: a private bus + unlocked gnome-keyring-daemon that
# works headless, keeps keys between commands of one run only, propagates
# CMD's exit status (also after a signal) and leaves no process, no temp dir
# and nothing in HOME behind.
source "$(dirname "$0")/../lib/common.sh"

WK="$SB_TOP/scripts/with-keyring"
TOOL="$SB_BUILD/tests/helpers/keyring_tool"
[ -x "$TOOL" ] || fail "$TOOL not built"
mkdir -p "$T/tmp" "$T/home"
export SEALBOX_KEYRING_TMPDIR="$T/tmp"
export HOME="$T/home"
outer_bus=${DBUS_SESSION_BUS_ADDRESS:-none}

# alive PID: running and not a zombie waiting to be reaped.
alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
gone() { ! alive "$1"; }

# Run inside with-keyring: writes the bus and the keyring daemon's pids.
cat >"$T/record.sh" <<'EOF'
pid_of() {
	dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.GetConnectionUnixProcessID \
		"string:$1" | awk '{print $2}'
}
echo "$(pid_of org.freedesktop.DBus) $(pid_of org.freedesktop.secrets)" >"$1"
echo "$DBUS_SESSION_BUS_ADDRESS" >"$1.bus"
EOF

note "exit status is CMD's"
"$WK" true || fail "with-keyring true failed"
rc=0; "$WK" bash -c 'exit 7' || rc=$?
[ "$rc" -eq 7 ] || fail "exit 7 came back as $rc"
rc=0; "$WK" false || rc=$?
[ "$rc" -eq 1 ] || fail "false came back as $rc"
rc=0; "$WK" "$T/no-such-program" 2>/dev/null || rc=$?
[ "$rc" -eq 127 ] || fail "a missing CMD came back as $rc"
rc=0; "$WK" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 125 ] || fail "no CMD came back as $rc"

note "CMD sees a private bus with our marker, stdin passes through"
out=$(echo hello | "$WK" bash -c '
	[ "$DBUS_SESSION_BUS_ADDRESS" = "$SEALBOX_WITH_KEYRING_BUS" ] || exit 3
	read -r line; echo "$line"')
[ "$out" = hello ] || fail "stdin/stdout did not pass through: '$out'"

note "keys survive between commands of one run, not between runs"
"$WK" bash -c '
	fp=$("$1" store alice@example.com dev-1) || exit 10
	[ "$("$1" load alice@example.com dev-1)" = "$fp" ] || exit 11
	"$1" probe || exit 12' _ "$TOOL" || fail "store/load inside one run failed ($?)"
rc=0; "$WK" "$TOOL" load alice@example.com dev-1 2>"$T/err" || rc=$?
[ "$rc" -eq 32 ] || fail "second run saw the first run's key (exit $rc)"
grep -q "not found in the keyring" "$T/err" || fail "no 'not found' line: $(cat "$T/err")"

note "after a normal exit: daemons gone, temp dir gone, HOME untouched"
"$WK" bash "$T/record.sh" "$T/pids" || fail "record run failed"
read -r bus_pid gkd_pid <"$T/pids"
[ -n "$bus_pid" ] && [ -n "$gkd_pid" ] || fail "pids not recorded: $(cat "$T/pids")"
[ "$(cat "$T/pids.bus")" != "$outer_bus" ] || fail "CMD ran on the caller's bus"
wait_until 5 gone "$bus_pid" || fail "dbus-daemon $bus_pid outlived with-keyring"
wait_until 5 gone "$gkd_pid" || fail "gnome-keyring-daemon $gkd_pid outlived with-keyring"
[ -z "$(ls -A "$T/tmp")" ] || fail "temp dir left behind: $(ls -A "$T/tmp")"
[ -z "$(ls -A "$T/home")" ] || fail "with-keyring wrote into HOME: $(ls -A "$T/home")"

note "daemon killed mid-run: the bus activates a replacement in the private dirs"
# It finds the run's keyring file locked (it never got the password): the
# tool says locked, and the caller's HOME is still untouched.
"$WK" bash -c '
	"$1" store alice@example.com dev-1 >/dev/null || exit 10
	kill "$(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.GetConnectionUnixProcessID \
		string:org.freedesktop.secrets | awk "{print \$2}")" || exit 11
	sleep 0.5
	rc=0; "$1" load alice@example.com dev-1 2>"$2" || rc=$?
	[ "$rc" -eq 31 ] || exit 12
	dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.GetConnectionUnixProcessID \
		string:org.freedesktop.secrets | awk "{print \$2}" >"$3"' \
	_ "$TOOL" "$T/err" "$T/replacement" ||
	fail "killed-daemon run failed ($?): $(cat "$T/err")"
[ -s "$T/replacement" ] || fail "no replacement daemon was activated"
wait_until 5 gone "$(cat "$T/replacement")" ||
	fail "replacement gnome-keyring-daemon $(cat "$T/replacement") outlived with-keyring"
grep -q "keyring is locked" "$T/err" || fail "no 'locked' line: $(cat "$T/err")"
[ -z "$(ls -A "$T/home")" ] || fail "replacement daemon wrote into HOME: $(ls -A "$T/home")"
[ -z "$(ls -A "$T/tmp")" ] || fail "temp dir left behind: $(ls -A "$T/tmp")"

note "after SIGTERM: 143, CMD and daemons gone"
"$WK" bash -c 'bash "$1" "$2"; echo $$ >"$2.cmd"; exec sleep 60' _ "$T/record.sh" "$T/pids2" &
wk=$!
wait_until 10 test -s "$T/pids2.cmd" || fail "signal run did not start"
read -r bus_pid gkd_pid <"$T/pids2"
sleep_pid=$(cat "$T/pids2.cmd")
kill -TERM "$wk"
rc=0; wait "$wk" || rc=$?
[ "$rc" -eq 143 ] || fail "SIGTERM came back as $rc"
wait_until 5 gone "$sleep_pid" || fail "CMD $sleep_pid outlived with-keyring"
wait_until 5 gone "$bus_pid" || fail "dbus-daemon $bus_pid outlived with-keyring"
wait_until 5 gone "$gkd_pid" || fail "gnome-keyring-daemon $gkd_pid outlived with-keyring"
[ -z "$(ls -A "$T/tmp")" ] || fail "temp dir left behind after TERM: $(ls -A "$T/tmp")"
exit 0
