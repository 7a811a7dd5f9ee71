#!/usr/bin/env bash
# Relay setup and enrollment: init prints the certificate's fingerprint and
# keeps its key private; an invite code enrolls once, for its address only;
# lookup returns every device of one or many addresses.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
want=$(openssl x509 -in "$RDATA/tls/cert.pem" -noout -fingerprint -sha256 |
	sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
[ "$FP" = "$want" ] || fail "init fingerprint $FP != openssl's $want"
[ "$(stat -c %a "$RDATA/tls/key.pem")" = 600 ] || fail "TLS key is not mode 0600"
expect_fail 1 "already initialised" "$SEALBOX_RELAY" init --data "$RDATA"
expect_fail 1 "e-mail address or an E.164" "$SEALBOX_RELAY" invite --data "$RDATA" not-an-address
expect_fail 1 "e-mail address or an E.164" "$SEALBOX_RELAY" invite --data "$RDATA" +12
expect_fail 2 "inline-limit" "$SEALBOX_RELAY" init --data "$T/other" --inline-limit 5000
"$SEALBOX_RELAY" --help | has "sealbox-relay invite" || fail "--help"
relay_start

note "good code"
a=$(new_device alice alice@example.com)
[ "$a" -ge 1 ] || fail "no device id"

note "reused code, wrong code, code of another address"
"$RELAY_CLIENT" keygen --keys "$T/mallory" >/dev/null
code=$("$SEALBOX_RELAY" invite --data "$RDATA" bob@example.com)
[[ "$code" =~ ^[0-9a-f]{4}(-[0-9a-f]{4}){4}$ ]] || fail "odd code '$code'"
"$RELAY_CLIENT" keygen --keys "$T/bob" >/dev/null
b=$(rc register --keys "$T/bob" --address bob@example.com --code "$code" --name bob)
expect_rc 50 rc register --keys "$T/mallory" --address bob@example.com --code "$code"
expect_rc 50 rc register --keys "$T/mallory" --address bob@example.com --code 0000-0000-0000-0000-0000
code2=$("$SEALBOX_RELAY" invite --data "$RDATA" carol@example.com)
expect_rc 50 rc register --keys "$T/mallory" --address bob@example.com --code "$code2"
# the code is still good for carol, who it was made for
c=$(rc register --keys "$T/mallory" --address carol@example.com --code "$code2" --name carol)
grep -q "register refused" "$RLOG" || fail "refusals not logged"

note "phone numbers enroll too; a second device of bob"
p=$(new_device phone +15551234567)
b2=$(new_device bob2 bob@example.com)

note "lookup of one and of many addresses"
out=$(rc lookup --keys "$T/alice" bob@example.com)
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || fail "bob should have 2 devices: $out"
# Another account sees ids and identities, not the names (issue 12, 9).
grep -q "^bob@example.com $b  " <<<"$out" || fail "bob's first device missing: $out"
grep -q "^bob@example.com $b2  " <<<"$out" || fail "bob's second device missing: $out"
out=$(rc lookup --keys "$T/bob2" bob@example.com)
grep -q "^bob@example.com $b bob " <<<"$out" || fail "bob's own lookup lacks names: $out"
out=$(rc lookup --keys "$T/alice" bob@example.com carol@example.com +15551234567 nobody@example.com)
[ "$(printf '%s\n' "$out" | wc -l)" -eq 4 ] || fail "want 4 devices: $out"
grep -q "^carol@example.com $c  " <<<"$out" || fail "carol missing"
grep -q "^+15551234567 $p " <<<"$out" || fail "phone missing"
! grep -q nobody <<<"$out" || fail "unknown address has devices?"

note "a stopped relay keeps its directory"
relay_stop
relay_start
rc lookup --keys "$T/bob" alice@example.com | has "^alice@example.com $a  " ||
	fail "directory lost over restart"
relay_stop
exit 0
