#!/usr/bin/env bash
# sealbox init with a good enrollment code: keys go into the (real) keyring,
# the device is registered at the (real) relay, the home gets a 0600 config
# with the relay's device id and no key material; `devices` lists it with a
# key fingerprint, `status` sees the keyring and the relay; re-running init
# on that home is refused with one line and changes nothing.
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] ||
	exec "$(dirname "$0")/../../scripts/with-keyring" bash "$0" "$@"
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

TOOL="$SB_BUILD/tests/helpers/keyring_tool"
relay_init
relay_start
home="$T/alice"
code=$("$SEALBOX_RELAY" invite --data "$RDATA" alice@example.com) || fail "invite"

(umask 077; printf '%s\n' "$code" >"$T/code")
out=$("$SEALBOX" init --home "$home" --address ' Alice@Example.COM ' \
	--relay "127.0.0.1:$RPORT" --fingerprint "$FP" --code-file "$T/code" \
	--device-name laptop 2>&1) || fail "init: $out"
[[ "$out" =~ ^alice@example\.com:\ device\ [0-9]+\ \(laptop,\ suite\ ec\) ]] ||
	fail "init printed '$out'"
[ -f "$home/config" ] || fail "no config"
[ "$(stat -c %a "$home/config")" = 600 ] || fail "config mode $(stat -c %a "$home/config")"
[ "$(stat -c %a "$home")" = 700 ] || fail "home mode $(stat -c %a "$home")"
grep -qx 'address = alice@example.com' "$home/config" || fail "address not canonical in config"
grep -qx 'suite = ec' "$home/config" || fail "suite not in config"
grep -qx 'device_name = laptop' "$home/config" || fail "device name not in config"
grep -qx "fingerprint = $FP" "$home/config" || fail "fingerprint not in config"
id=$(awk -F' *= *' '$1 == "device_id" { print $2 }' "$home/config")
[[ "$id" =~ ^[1-9][0-9]*$ ]] || fail "device_id '$id'"
if grep -qi 'PRIVATE\|BEGIN' "$home/config"; then fail "key material in config"; fi
# The config, and store.db with the account's devices as init found them
# (their public identities: the first pins, issue 14); no key material.
[ "$(ls -A "$home" | tr '\n' ' ')" = "config store.db " ] ||
	fail "home holds more than the config and store.db: $(ls -A "$home")"
if grep -qai 'PRIVATE\|BEGIN' "$home/store.db"; then fail "key material in store.db"; fi

# The keys are in the keyring under (address, device id).
"$TOOL" load alice@example.com "$id" >/dev/null || fail "signing key not in the keyring"

# The relay knows the device; devices shows it with its fingerprint.
list=$("$SEALBOX" devices --home "$home") || fail "devices failed"
[[ "$list" =~ ^$id\ +laptop\ +ec\ +([0-9a-f]{4}\ ){7}[0-9a-f]{4}\ +\(this\ device\)$ ]] ||
	fail "devices printed '$list'"
st=$("$SEALBOX" status --home "$home") || fail "status failed: $st"
grep -q '^keyring: *ok' <<<"$st" || fail "status keyring: $st"
grep -q '^relay: .*reachable, authenticated' <<<"$st" || fail "status relay: $st"
grep -q '^outbox: *0 queued, 0 failed' <<<"$st" || fail "status outbox: $st"

# Re-running init is refused: one line, nothing changed, no new device.
before=$(sha256sum <"$home/config")
code2=$("$SEALBOX_RELAY" invite --data "$RDATA" alice@example.com) || fail "invite 2"
expect_fail 1 'already initialised' "$SEALBOX" init --home "$home" \
	--address alice@example.com --relay "127.0.0.1:$RPORT" --fingerprint "$FP" <<<"$code2"
[ "$(sha256sum <"$home/config")" = "$before" ] || fail "config changed by refused init"
[ "$(wc -l <<<"$("$SEALBOX" devices --home "$home")")" -eq 1 ] || fail "refused init added a device"

# SEALBOX_HOME is honoured like --home; pair suite with a small modulus works.
code3=$("$SEALBOX_RELAY" invite --data "$RDATA" +4915112345678) || fail "invite 3"
SEALBOX_HOME="$T/phone" "$SEALBOX" init --address '+49 151 1234-5678' \
	--relay "127.0.0.1:$RPORT" --fingerprint "$FP" --code-file - --suite pair \
	--bits 2048 <<<"$code3" >/dev/null || fail "init pair"
grep -qx 'address = +4915112345678' "$T/phone/config" || fail "phone not canonical"
grep -qx 'suite = pair' "$T/phone/config" || fail "suite pair not in config"
SEALBOX_HOME="$T/phone" "$SEALBOX" devices | grep -q ' pair ' || fail "pair device not listed"
relay_stop
