#!/usr/bin/env bash
# A second device for the same address (its own home, its own code) joins
# that address: `devices` lists both with distinct ids and fingerprints and
# marks the right one as "this device"; bob sees alice's two devices.
# `verify` gives both parties the same 12x5-digit code, which changes when
# a device is added.
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] ||
	exec "$(dirname "$0")/../../scripts/with-keyring" bash "$0" "$@"
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start

dev() {   # dev HOME ADDRESS NAME [options]
	local home=$1 addr=$2 name=$3 code
	shift 3
	code=$("$SEALBOX_RELAY" invite --data "$RDATA" "$addr") || fail "invite $addr"
	"$SEALBOX" init --home "$T/$home" --address "$addr" --relay "127.0.0.1:$RPORT" \
		--fingerprint "$FP" --device-name "$name" "$@" <<<"$code" >/dev/null ||
		fail "init $home"
}
idof() { awk -F' *= *' '$1 == "device_id" { print $2 }' "$T/$1/config"; }

dev a1 alice@example.com phone
dev b1 bob@example.com desktop --suite pair
"$SEALBOX" verify --home "$T/a1" bob@example.com >"$T/v1.a" || fail "verify a1"
"$SEALBOX" verify --home "$T/b1" alice@example.com >"$T/v1.b" || fail "verify b1"
code_a=$(sed -n '2,4p' "$T/v1.a")
code_b=$(sed -n '2,4p' "$T/v1.b")
[[ "$(tr '\n' ' ' <<<"$code_a")" =~ ^([0-9]{5}\ ){12}$ ]] || fail "code shape: $code_a"
[ "$code_a" = "$code_b" ] || fail "alice and bob see different codes: $code_a / $code_b"

dev a2 alice@example.com tablet
[ "$(idof a1)" != "$(idof a2)" ] || fail "same device id twice"
l1=$("$SEALBOX" devices --home "$T/a1") || fail "devices a1"
l2=$("$SEALBOX" devices --home "$T/a2") || fail "devices a2"
[ "$(wc -l <<<"$l1")" -eq 2 ] || fail "a1 lists: $l1"
grep -q "^$(idof a1) .*phone.*(this device)" <<<"$l1" || fail "a1 not marked: $l1"
grep -q "^$(idof a2) .*tablet.*(this device)" <<<"$l2" || fail "a2 not marked: $l2"
[ "$(grep -c 'this device' <<<"$l1")" -eq 1 ] || fail "two devices marked: $l1"
fp1=$(awk '{print $4 $5 $6 $7 $8 $9 $10 $11}' <<<"$l1" | sort | uniq | wc -l)
[ "$fp1" -eq 2 ] || fail "fingerprints not distinct: $l1"
lb=$("$SEALBOX" devices --home "$T/b1" alice@example.com) || fail "bob lists alice"
[ "$(wc -l <<<"$lb")" -eq 2 ] || fail "bob sees: $lb"
grep -q "this device" <<<"$lb" && fail "bob's list of alice marks 'this device'"
"$SEALBOX" devices --home "$T/b1" | grep -q ' pair ' || fail "bob's suite"

# The code changes with alice's new device, and both sides still agree.
"$SEALBOX" verify --home "$T/a2" bob@example.com >"$T/v2.a" || fail "verify a2"
"$SEALBOX" verify --home "$T/b1" alice@example.com >"$T/v2.b" || fail "verify b1 again"
[ "$(sed -n '2,4p' "$T/v2.a")" = "$(sed -n '2,4p' "$T/v2.b")" ] || fail "codes differ after a2"
[ "$(sed -n '2,4p' "$T/v2.a")" != "$code_a" ] || fail "code unchanged by a new device"

expect_fail 1 'has no devices' "$SEALBOX" devices --home "$T/a1" carol@example.com
expect_fail 2 'not an e-mail address' "$SEALBOX" verify --home "$T/a1" carol
relay_stop
