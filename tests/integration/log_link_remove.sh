#!/usr/bin/env bash
# The transparency log as an honest relay keeps it (docs/PROTOCOL.md 14):
# every device pins the log key the relay's init printed; a device linked
# by an existing one carries that device's countersignature, one added by
# an invitation to an account that has devices is "unapproved"; a removal
# signed by a device and one by the operator both land in the log, and
# every device's view stays one log across lookups, gossip and a restart.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

RDATA="$T/relay"
RPORT=$(free_port)
FP=$("$SEALBOX_RELAY" init --data "$RDATA" --listen "127.0.0.1:$RPORT" 2>"$T/init.err") ||
	fail "relay init failed"
LOGFP=$(sed -n 's/^log key fingerprint: \([0-9a-f]\{64\}\)$/\1/p' "$T/init.err")
[ -n "$LOGFP" ] || fail "init printed no log key fingerprint: $(cat "$T/init.err")"
[ "$(stat -c %a "$RDATA/tls/log-key.pem")" = 600 ] || fail "log key not mode 0600"
relay_start
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
a=$(dev_id alice); b=$(dev_id bob)

note "a device pins the log key the relay printed"
[ "$(rc log-key --keys "$T/alice")" = "$LOGFP" ] || fail "log key fingerprint differs"
[ "$(rc log-key --keys "$T/alice")" = "$LOGFP" ] || fail "pinned key changed"

note "bob's new phone is linked: its code, approved by bob's first device"
"$RELAY_CLIENT" keygen --keys "$T/phone" >/dev/null
[ "$(rc log-key --keys "$T/phone")" = "$LOGFP" ] ||
	fail "a device not yet enrolled cannot fetch the log key (sealbox init pins it first)"
rc link-offer --keys "$T/phone" --address bob@example.com --name phone --timeout 30 \
	>"$T/offer.out" 2>"$T/offer.err" &
offer=$!
wait_until 10 grep -q "^code: " "$T/offer.out" || fail "no link code printed"
code=$(sed -n 's/^code: //p' "$T/offer.out")
[[ "$code" =~ ^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$ ]] || fail "code '$code'"
listed() { rc link-list --keys "$T/bob" | has "^$code phone$"; }
wait_until 10 listed || fail "offer not listed for bob: $(rc link-list --keys "$T/bob")"
expect_rc 44 rc link-approve --keys "$T/bob" "0000-0000-0000-0000"
expect_rc 13 rc link-approve --keys "$T/bob" "not-a-code"
rc link-approve --keys "$T/bob" "$code" | has "^approved device " || fail "approve"
wait "$offer" || fail "link-offer failed: $(cat "$T/offer.err")"
p=$(dev_id phone)
has "^linked as device $p$" <"$T/offer.out" || fail "link-offer output: $(cat "$T/offer.out")"
grep -q "link approve conn=.* added=$p address=bob@example.com" "$RLOG" ||
	fail "approval not logged by the relay"

note "alice sees bob's phone approved by bob's first device"
rc lookup --keys "$T/alice" bob@example.com >"$T/l1"
has "^bob@example.com $b [^ ]* [0-9]*$" <"$T/l1" || fail "first device: $(cat "$T/l1")"
has "^bob@example.com $p  [0-9]* approved$" <"$T/l1" || fail "phone: $(cat "$T/l1")"
rc events --keys "$T/alice" bob@example.com >"$T/e1"
[ "$(cat "$T/e1")" = "0 add device=$b signer=0
1 add device=$p signer=$b" ] || fail "bob's history: $(cat "$T/e1")"

note "an invitation to an account with devices is the operator's word: unapproved"
new_device laptop bob@example.com >/dev/null
l=$(dev_id laptop)
rc lookup --keys "$T/alice" bob@example.com | has "^bob@example.com $l  [0-9]* unapproved$" ||
	fail "operator-added device not flagged"

note "bob's phone removes the laptop (signed); the operator removes the phone"
rc remove --keys "$T/phone" "$l"
grep -q "remove conn=.* removed=$l address=bob@example.com signed" "$RLOG" ||
	fail "signed removal not logged"
"$SEALBOX_RELAY" remove-device --data "$RDATA" "$p" >/dev/null
rc events --keys "$T/alice" bob@example.com >"$T/e2"
[ "$(tail -n 3 "$T/e2")" = "2 add device=$l signer=0
3 remove device=$l signer=$p
4 remove device=$p signer=0" ] || fail "bob's history: $(cat "$T/e2")"
rc lookup --keys "$T/alice" bob@example.com >"$T/l2"
[ "$(wc -l <"$T/l2")" -eq 1 ] && has " $b " <"$T/l2" || fail "after removals: $(cat "$T/l2")"

note "two devices' heads are one log; both survive a relay restart"
rc lookup --keys "$T/bob" alice@example.com >/dev/null
ha=$(rc log-head --keys "$T/alice"); hb=$(rc log-head --keys "$T/bob")
rc check-head --keys "$T/bob" "$ha" | has "^consistent$" || fail "alice's head refused"
rc check-head --keys "$T/alice" "$hb" | has "^consistent$" || fail "bob's head refused"
relay_stop
relay_start
new_device carol carol@example.com >/dev/null
rc lookup --keys "$T/alice" carol@example.com | has "^carol@example.com " ||
	fail "lookup after restart"
[ "$(rc log-head --keys "$T/alice")" != "$ha" ] || fail "alice's head did not move"
rc check-head --keys "$T/alice" "$hb" | has "^consistent$" || fail "older head refused"
rc check-head --keys "$T/bob" "$(rc log-head --keys "$T/alice")" | has "^consistent$" ||
	fail "newer head refused"
relay_stop
exit 0
