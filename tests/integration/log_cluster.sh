#!/usr/bin/env bash
# One transparency log for a whole cluster (docs/PROTOCOL.md 14, the
# PostgreSQL store): two relay nodes share the log table and the log key
# (node B's directory is a copy of A's), each keeps its own tree in memory
# and catches up with the table before it answers.  A device linked
# through B by a device on A, a removal through A, and every head from
# either node are one log: lookups on one node after changes on the other
# verify, and heads gossiped between devices on different nodes are
# consistent.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"
source "$SB_TOP/tests/lib/pg.sh"
source "$SB_TOP/tests/lib/cluster.sh"

cluster_init
node_start A
node_start B
cmp -s "$T/nodeA/tls/log-key.pem" "$T/nodeB/tls/log-key.pem" || fail "the nodes' log keys differ"
new_device_on A alice alice@example.com
new_device_on B bob bob@example.com
[ "$(on_node A log-key --keys "$T/alice")" = "$(on_node B log-key --keys "$T/bob")" ] ||
	fail "the nodes serve different log keys"

note "bob's phone offers itself on B; bob approves it on A"
"$RELAY_CLIENT" keygen --keys "$T/phone" >/dev/null
on_node B link-offer --keys "$T/phone" --address bob@example.com --timeout 30 \
	>"$T/offer.out" 2>"$T/offer.err" &
offer=$!
wait_until 10 grep -q "^code: " "$T/offer.out" || fail "no link code"
code=$(sed -n 's/^code: //p' "$T/offer.out")
listed() { on_node A link-list --keys "$T/bob" | has "^$code "; }
wait_until 10 listed || fail "A does not see the offer made on B"
on_node A link-approve --keys "$T/bob" "$code" | has "^approved device " || fail "approve on A"
wait "$offer" || fail "link-offer on B: $(cat "$T/offer.err")"
p=$(dev_id phone)

note "each node answers from the one log"
on_node B lookup --keys "$T/alice" bob@example.com | has "^bob@example.com $p  [0-9]* approved$" ||
	fail "B's answer"
on_node A remove --keys "$T/phone" "$p"
on_node B lookup --keys "$T/alice" bob@example.com >"$T/l"
[ "$(wc -l <"$T/l")" -eq 1 ] || fail "the removal through A does not show on B: $(cat "$T/l")"
on_node A lookup --keys "$T/bob" alice@example.com >/dev/null || fail "A's answer to bob"
on_node A lookup --keys "$T/alice" bob@example.com >/dev/null || fail "A's answer to alice"
ha=$(on_node A log-head --keys "$T/alice"); hb=$(on_node B log-head --keys "$T/bob")
on_node B check-head --keys "$T/bob" "$ha" | has "^consistent$" || fail "alice's head on B"
on_node A check-head --keys "$T/alice" "$hb" | has "^consistent$" || fail "bob's head on A"
node_stop A
node_stop B
exit 0
