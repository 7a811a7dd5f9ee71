#!/usr/bin/env bash
# `sealbox init` never registers a second device by accident (issue 17):
# the default home ($SEALBOX_HOME, else $XDG_DATA_HOME/sealbox) that is
# already initialised is refused in one line naming it and --home; so is a
# default home that exists and holds anything (a store without its
# config); nothing is registered and the enrollment code stays unused.  An
# empty default home, or another --home, still works.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_mount alice       # so the home holds a store, as a used home does
mb_umount alice
H=$(mb_home alice)
ndev() { mb_sql "SELECT COUNT(*) FROM devices WHERE address = ?" "$1"; }
init() {
	"$SEALBOX" init --address alice@example.com --relay "127.0.0.1:$RPORT" \
		--fingerprint "$FP" --device-name second "$@"
}
code=$("$SEALBOX_RELAY" invite --data "$RDATA" alice@example.com) || fail "invite"

note "SEALBOX_HOME initialised: refused"
expect_fail 1 "^sealbox: init: $H is already initialised \\($H/config exists\\): init would register a second device; for another device give --home DIR\$" \
	env SEALBOX_HOME="$H" "$SEALBOX" init --address alice@example.com \
	--relay "127.0.0.1:$RPORT" --fingerprint "$FP" <<<"$code"
[ "$(ndev alice@example.com)" -eq 1 ] || fail "a refused init registered a device"

note "XDG_DATA_HOME/sealbox initialised: refused"
mkdir -p "$T/xdg"
cp -a "$H" "$T/xdg/sealbox"
expect_fail 1 "^sealbox: init: $T/xdg/sealbox is already initialised \\($T/xdg/sealbox/config exists\\): init would register a second device; for another device give --home DIR\$" \
	env -u SEALBOX_HOME XDG_DATA_HOME="$T/xdg" "$SEALBOX" init --address alice@example.com \
	--relay "127.0.0.1:$RPORT" --fingerprint "$FP" <<<"$code"

note "a default home that holds a store but lost its config: refused"
rm "$T/xdg/sealbox/config"
expect_fail 1 "^sealbox: init: the default home $T/xdg/sealbox already exists and is not empty; for a new device give --home DIR\$" \
	env -u SEALBOX_HOME XDG_DATA_HOME="$T/xdg" "$SEALBOX" init --address alice@example.com \
	--relay "127.0.0.1:$RPORT" --fingerprint "$FP" <<<"$code"
[ "$(ndev alice@example.com)" -eq 1 ] || fail "a refused init registered a device"

note "the code was not used: --home for the second device works"
init --home "$T/second" <<<"$code" >/dev/null || fail "init --home for the second device"
[ "$(ndev alice@example.com)" -eq 2 ] || fail "second device not registered"

note "an empty default home is fine"
mkdir -p "$T/xdg2/sealbox"
code=$("$SEALBOX_RELAY" invite --data "$RDATA" carol@example.com) || fail "invite carol"
env -u SEALBOX_HOME XDG_DATA_HOME="$T/xdg2" "$SEALBOX" init --address carol@example.com \
	--relay "127.0.0.1:$RPORT" --fingerprint "$FP" <<<"$code" >/dev/null || fail "init into an empty default home"
[ -s "$T/xdg2/sealbox/config" ] || fail "no config in the empty default home"
mb_finish
