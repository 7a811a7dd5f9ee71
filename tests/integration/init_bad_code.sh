#!/usr/bin/env bash
# sealbox init that cannot complete leaves nothing behind: a wrong
# enrollment code, a code for another address, an unreachable relay and a
# wrong pinned fingerprint each fail with one line, write no config, remove
# the home they created and store no key; the code that was refused for the
# wrong address still works for its own.  Bad arguments exit 2.
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] ||
	exec "$(dirname "$0")/../../scripts/with-keyring" bash "$0" "$@"
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

TOOL="$SB_BUILD/tests/helpers/keyring_tool"
relay_init
relay_start

init() {
	"$SEALBOX" init --home "$T/home" --address alice@example.com "$@"
}
nothing_left() {
	[ ! -e "$T/home" ] || fail "home left behind after a failed init: $(ls -A "$T/home")"
	expect_fail 32 'not found|no such|missing' "$TOOL" load alice@example.com 1
}

note "wrong code"
expect_fail 1 'enrollment code' init --relay "127.0.0.1:$RPORT" --fingerprint "$FP" \
	<<<WRONG-CODE-123
nothing_left

note "a code for another address"
bob_code=$("$SEALBOX_RELAY" invite --data "$RDATA" bob@example.com) || fail "invite bob"
expect_fail 1 'enrollment code' init --relay "127.0.0.1:$RPORT" --fingerprint "$FP" \
	<<<"$bob_code"
nothing_left

note "wrong pinned fingerprint"
code=$("$SEALBOX_RELAY" invite --data "$RDATA" alice@example.com) || fail "invite"
bad_fp=$(printf '%064d' 0)
expect_fail 1 'relay 127\.0\.0\.1:[0-9]+: .*(TLS|pin|fingerprint|certificate)' \
	init --relay "127.0.0.1:$RPORT" --fingerprint "$bad_fp" <<<"$code"
nothing_left

note "relay not listening"
dead=$(free_port)
expect_fail 1 'relay 127\.0\.0\.1:[0-9]+: ' \
	env SEALBOX_CONNECT_TIMEOUT=2 "$SEALBOX" init --home "$T/home" \
	--address alice@example.com --relay "127.0.0.1:$dead" --fingerprint "$FP" <<<"$code"
nothing_left

note "bad arguments: exit 2"
expect_fail 2 'not an e-mail address' init --address nobody --relay "h:1" \
	--fingerprint "$FP" <<<x
expect_fail 2 'fingerprint' init --relay "127.0.0.1:$RPORT" --fingerprint abc <<<x
expect_fail 2 'suite' init --relay "127.0.0.1:$RPORT" --fingerprint "$FP" --suite rsa <<<x
expect_fail 2 'required' "$SEALBOX" init --home "$T/home"
nothing_left

note "failure after registering (config cannot be written): keys and device undone"
mkdir -p "$T/stuck/.config.tmp/blocker"
expect_fail 1 'config' "$SEALBOX" init --home "$T/stuck" --address alice@example.com \
	--relay "127.0.0.1:$RPORT" --fingerprint "$FP" <<<"$code"
[ ! -e "$T/stuck/config" ] || fail "config written"
grep -q 'register .*address=alice@example.com' "$RLOG" || fail "the relay never saw the registration"
undone_id=$(sed -n 's/.*register conn=[0-9]* device=\([0-9]*\) address=alice@example.com.*/\1/p' "$RLOG" | tail -1)
expect_fail 32 'not found|no such|missing' "$TOOL" load alice@example.com "$undone_id"
code=$("$SEALBOX_RELAY" invite --data "$RDATA" alice@example.com) || fail "invite again"

note "the unused codes still work afterwards"
out=$(init --relay "127.0.0.1:$RPORT" --fingerprint "$FP" <<<"$code" 2>&1) ||
	fail "init with the good code after failures: $out"
[ -f "$T/home/config" ] || fail "no config"
# Only this device: the one undone above was removed from the relay.
n=$("$SEALBOX" devices --home "$T/home" | wc -l)
[ "$n" -eq 1 ] || fail "alice has $n devices; the undone registration was not removed"
"$SEALBOX" init --home "$T/bob" --address bob@example.com --relay "127.0.0.1:$RPORT" \
	--fingerprint "$FP" <<<"$bob_code" >/dev/null || fail "bob's code was consumed"
relay_stop
