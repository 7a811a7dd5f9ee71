#!/usr/bin/env bash
# No usable Secret Service: every keyring operation fails with one clear line
# ("no Secret Service ... run under scripts/with-keyring") and exit 30
# (SB_ERR_NO_KEYRING), for each way a real machine gets there:
#   - a session bus on which nothing owns or can activate org.freedesktop.secrets
#     (GDBus ServiceUnknown), e.g. a server with D-Bus but no keyring package;
#   - a bus that tries to activate one and the activation fails (Spawn.*);
#   - a bus that activates a real gnome-keyring-daemon that has no default
#     keyring (a server where nobody ever logged in to a desktop);
#   - a bus address whose socket does not exist (G_IO_ERROR);
#   - no bus address at all and no X11 to autolaunch one.
source "$(dirname "$0")/../lib/common.sh"

TOOL="$SB_BUILD/tests/helpers/keyring_tool"
[ -x "$TOOL" ] || fail "$TOOL not built"

# bus_config FILE [SERVICEDIR]: a session bus config, activation only from
# SERVICEDIR (none when omitted).
bus_config() {
	{
		echo '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"'
		echo ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">'
		echo '<busconfig><type>session</type>'
		echo "<listen>unix:dir=$T</listen><auth>EXTERNAL</auth>"
		[ -z "${2:-}" ] || echo "<servicedir>$2</servicedir>"
		echo '<policy context="default"><allow send_destination="*" eavesdrop="true"/>'
		echo '<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>'
	} >"$1"
}

# on_bus CONF CMD...: CMD on a fresh bus from CONF; the bus daemon's own
# chatter goes to a log so CMD's stderr stays one line.
on_bus() {
	local conf=$1
	shift
	dbus-run-session --config-file="$conf" -- bash -c 'exec "$@" 2>&3 3>&-' _ "$@" \
		3>&2 2>>"$T/bus.log"
}

# expect_no_keyring DETAIL_REGEX CMD...: every operation exits 30 with the
# no-keyring line, and the detail names the underlying D-Bus/GIO error.
expect_no_keyring() {
	local detail=$1 op
	shift
	for op in probe "store a@example.com d1" "load a@example.com d1" "delete a@example.com d1"; do
		# shellcheck disable=SC2086
		expect_fail 30 'keyring_tool: no usable Secret Service on the D-Bus session bus' \
			"$@" "$TOOL" $op
	done
	local err
	err=$("$@" "$TOOL" probe 2>&1) && fail "probe succeeded"
	[[ "$err" =~ $detail ]] || fail "detail '$err' does not match '$detail'"
}

note "bus without any Secret Service"
bus_config "$T/bare.conf"
expect_no_keyring 'org\.freedesktop\.secrets.*g-dbus-error-quark 2\)' \
	on_bus "$T/bare.conf"

note "bus whose org.freedesktop.secrets activation fails"
mkdir -p "$T/services"
printf '[D-BUS Service]\nName=org.freedesktop.secrets\nExec=/bin/false\n' \
	>"$T/services/org.freedesktop.secrets.service"
bus_config "$T/broken.conf" "$T/services"
expect_no_keyring 'exited with status 1 \(g-dbus-error-quark 25\)' \
	on_bus "$T/broken.conf"

note "activated gnome-keyring-daemon without a default keyring"
mkdir -p "$T/home" "$T/run"
chmod 700 "$T/run"
[ -f /usr/share/dbus-1/services/org.freedesktop.secrets.service ] ||
	fail "gnome-keyring's D-Bus activation file is not installed"
# The stock session bus activates the installed gnome-keyring-daemon, which
# (and the bus) get a private HOME and runtime dir.
on_stock_bus() {
	env HOME="$T/home" XDG_DATA_HOME="$T/home/data" XDG_CONFIG_HOME="$T/home/config" \
		XDG_CACHE_HOME="$T/home/cache" XDG_RUNTIME_DIR="$T/run" \
		dbus-run-session -- bash -c 'exec "$@" 2>&3 3>&-' _ "$@" 3>&2 2>>"$T/bus.log"
}
expect_no_keyring 'no default collection' on_stock_bus

note "bus address pointing at no socket"
expect_no_keyring 'g-io-error-quark' \
	env DBUS_SESSION_BUS_ADDRESS="unix:path=$T/no-such-bus" DISPLAY= \
	XDG_RUNTIME_DIR="$T/no-runtime"

note "no bus address at all"
expect_no_keyring 'g-io-error-quark' \
	env -u DBUS_SESSION_BUS_ADDRESS -u DISPLAY XDG_RUNTIME_DIR="$T/no-runtime"
exit 0
