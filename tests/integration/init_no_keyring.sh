#!/usr/bin/env bash
# No usable Secret Service: sealbox init fails with one clear line naming
# the keyring and how to fix it, before generating keys or contacting the
# relay (the enrollment code stays unused), and leaves no home behind;
# devices/status on an initialised home say the same.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start
code=$("$SEALBOX_RELAY" invite --data "$RDATA" alice@example.com) || fail "invite"
nokeyring() { env DBUS_SESSION_BUS_ADDRESS="unix:path=$T/no-such-bus" DISPLAY= "$@"; }

expect_fail 1 'keyring: no usable Secret Service.*with-keyring' nokeyring "$SEALBOX" init \
	--home "$T/home" --address alice@example.com --relay "127.0.0.1:$RPORT" \
	--fingerprint "$FP" <<<"$code"
[ ! -e "$T/home" ] || fail "home created without a keyring"
grep -q "register" "$RLOG" && fail "relay saw a registration without a keyring"

# The code was not consumed: init works under a real keyring (the code on
# stdin, which with-keyring passes on; never in an argv).
printf '%s\n' "$code" | "$SB_TOP/scripts/with-keyring" bash -c '
	"$SEALBOX" init --home "$1/home" --address alice@example.com \
		--relay "127.0.0.1:$2" --fingerprint "$3" >/dev/null || exit 1
	"$SEALBOX" devices --home "$1/home" </dev/null >/dev/null' _ "$T" "$RPORT" "$FP" ||
	fail "init with the unused code under a keyring"
[ -f "$T/home/config" ] || fail "no config"

# That keyring is gone now: commands needing the keys say so in one line.
expect_fail 1 'keyring: no usable Secret Service' nokeyring "$SEALBOX" devices --home "$T/home"
st=$(nokeyring "$SEALBOX" status --home "$T/home") && fail "status succeeded without keys"
grep -q '^keyring: *no usable Secret Service' <<<"$st" || fail "status: $st"
relay_stop
