#!/usr/bin/env bash
# sealbox-test: alone (its assertions involve time: see scripts/run-tests.sh)
# Issue 12, finding 9: addresses could be enumerated at 20,000 lookups/s
# and every lookup told any account what the other accounts call their
# devices.  Now:
#   - LOOKUP_RESULT carries the device names only to the account's own
#     devices; another account gets ids and identities (all a sender
#     needs) with an empty name;
#   - LOOKUP is rate-limited per device (a token bucket counted in
#     addresses, relay.conf lookup_rate / lookup_burst): a burst past it is
#     refused with RATE_LIMIT (exit 55) on a connection that stays open,
#     reconnecting does not refill the bucket, and a normal send still
#     works right after;
#   - SEND is rate-limited the same way (send_rate / send_burst).
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
cat >>"$RDATA/relay.conf" <<CONF
lookup_rate = 1
lookup_burst = 20
send_rate = 1
send_burst = 10
CONF
relay_start
new_device alice alice@example.com >/dev/null
new_device bob "bob@example.com" >/dev/null
new_device bob2 "bob@example.com" >/dev/null
new_device mallory mallory@example.com >/dev/null
b=$(dev_id bob); b2=$(dev_id bob2)

note "another account sees no device names; the account itself does"
out=$(rc lookup --keys "$T/mallory" bob@example.com)
[ "$(wc -l <<<"$out")" -eq 2 ] || fail "want bob's 2 devices: $out"
grep -q "^bob@example.com $b  [0-9]" <<<"$out" || fail "mallory saw bob's device name: $out"
grep -q "^bob@example.com $b2  [0-9]" <<<"$out" || fail "mallory saw bob2's name: $out"
rc lookup --keys "$T/bob2" bob@example.com | has "^bob@example.com $b bob [0-9]" ||
	fail "bob's own devices lost their names"

note "a burst of lookups past the limit is refused, not disconnected"
st=0
rc lookup --keys "$T/mallory" --count 100 bob@example.com >/dev/null 2>"$T/burst.err" || st=$?
[ "$st" -eq 55 ] || fail "burst of 100 lookups: exit $st, wanted 55 (RATE_LIMIT): $(cat "$T/burst.err")"
grep -q "relay rate limit reached" "$T/burst.err" || fail "refusal said '$(cat "$T/burst.err")'"
passed=$(sed -n 's/.*: \([0-9]*\) passed before the refusal/\1/p' "$T/burst.err")
[ -n "$passed" ] && [ "$passed" -ge 10 ] && [ "$passed" -le 30 ] ||
	fail "$passed lookups passed before the refusal (burst 20 + refill)"
# 32 addresses in one request cost 32: no cheaper enumeration that way
many=$(for i in $(seq 1 32); do printf 'x%d@example.com ' "$i"; done)
# shellcheck disable=SC2086
expect_rc 55 rc lookup --keys "$T/mallory" $many
note "reconnecting does not refill the bucket"
# a refilled bucket would pass all 5; at 1/s only what the reconnect took
st=0
rc lookup --keys "$T/mallory" --count 5 bob@example.com >/dev/null 2>"$T/again.err" || st=$?
[ "$st" -eq 55 ] || fail "after reconnecting: exit $st, wanted 55: $(cat "$T/again.err")"
grep -q "reason=.*rate" "$RLOG" && fail "a rate refusal closed the connection"

note "other devices are not affected; the refused one sends normally"
rc lookup --keys "$T/alice" bob@example.com | has "^bob@example.com $b " || fail "alice's lookup"
# a send looks its recipients up first: wait for a token or two
sleep 2
m=$(new_msgid)
rc send --keys "$T/mallory" --to bob@example.com --msgid "$m" --text after-burst >/dev/null ||
	fail "mallory's send after her lookup burst"
rc recv --keys "$T/bob" --count 1 --timeout 10 | has "msg=$m .*payload=after-burst" ||
	fail "bob did not get the message sent after the burst"

note "a burst of sends past the limit is refused with RATE_LIMIT"
st=0
out=$(rc send-many --keys "$T/alice" --to mallory@example.com --count 50 2>"$T/send.err") || st=$?
[ "$st" -eq 55 ] || fail "burst of 50 sends: exit $st, wanted 55: $(cat "$T/send.err")"
n=$(sed -n 's/^sent //p' <<<"$out")
[ -n "$n" ] && [ "$n" -ge 5 ] && [ "$n" -le 25 ] || fail "$n sends passed (burst 10 + refill)"
sleep 2
m=$(new_msgid)
rc send --keys "$T/alice" --to mallory@example.com --msgid "$m" --text later >/dev/null ||
	fail "the bucket did not refill"
relay_stop
exit 0
