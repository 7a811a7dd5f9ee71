#!/usr/bin/env bash
# The client library's threading model: 8 threads share one client and
# issue blocking requests at once (lookup, send, status) while the same
# client receives pushes on its I/O thread (alice2 writes to alice
# meanwhile); every request gets its own answer, and every message arrives
# exactly once.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

rounds=15
relay_init
relay_start
new_device alice alice@example.com >/dev/null
new_device alice2 alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null

# bob receives everything while alice's threads hammer the relay; alice2
# (alice's other device) gets a copy of each send and also stays online.
rc recv --keys "$T/bob" --count $((8 * rounds)) --ack --timeout 60 \
	--ready-file "$T/bob.ready" >"$T/bob.out" 2>"$T/bob.err" &
bobpid=$!
wait_until 10 test -f "$T/bob.ready" || fail "bob never connected"
rc send-many --keys "$T/alice2" --to alice@example.com --count 30 >"$T/a2send.out" &
a2send=$!
out=$(rc stress --keys "$T/alice" --to bob@example.com --count $rounds --timeout 30) ||
	fail "stress: $out"
wait "$a2send" || fail "alice2's sends to alice"
grep -c "push conn=.* device=$(dev_id alice) " "$RLOG" >/dev/null ||
	fail "alice's stressed client received no pushes"
[ "$out" = "sent $((8 * rounds))" ] || fail "stress: $out"
wait "$bobpid" || fail "bob: $(tail -2 "$T/bob.err")"
[ "$(grep -c '^push ' "$T/bob.out")" -eq $((8 * rounds)) ] || fail "bob's pushes"
[ "$(cut -d' ' -f3 "$T/bob.out" | sort -u | wc -l)" -eq $((8 * rounds)) ] ||
	fail "duplicate or lost message ids"
rc recv --keys "$T/alice2" --count $((8 * rounds)) --ack --timeout 30 >"$T/a2.out" ||
	fail "alice2 did not get every copy"
relay_stop
exit 0
