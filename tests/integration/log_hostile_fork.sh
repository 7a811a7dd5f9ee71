#!/usr/bin/env bash
# A relay cannot fork its log silently (docs/PROTOCOL.md 14.8, 14.9):
#   - split view: alice is shown a log in which bob has one more device
#     (the relay's), bob a log of the same size without it.  Each view is
#     consistent on its own; alice's head gossiped to bob is proof of the
#     fork (exit 65, SB_ERR_LOG_FORK, both heads printed), and alice's own
#     next lookup in bob's view is refused as a fork too;
#   - a dropped entry: the relay cuts bob's newest entry out of the log.
#     Alice, who had seen it, refuses the shorter log (exit 64) and, once
#     the log has grown back to her size, refuses it as a fork (exit 65).
# The relay is tests/helpers/hostile_relay --log-attack (HOSTILE= to use
# another build of it; helpers in tests/lib/relay.sh).
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"
size_of() { echo $((16#${1:2:16})); }   # a head's u64 size, from its hex

relay_init
relay_start
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
new_device carol carol@example.com >/dev/null
b=$(dev_id bob)

note "split view: alice sees a device of the relay's in bob's account, bob does not"
log_hostile_start "split:bob@example.com:$T/flip"
rc lookup --keys "$T/alice" bob@example.com >"$T/la"
has "^bob@example.com 1099511627853  [0-9]* unapproved$" <"$T/la" ||
	fail "alice's view: $(cat "$T/la")"
ha=$(rc log-head --keys "$T/alice")
touch "$T/flip"
rc lookup --keys "$T/bob" bob@example.com >"$T/lb"
[ "$(wc -l <"$T/lb")" -eq 1 ] && has " $b " <"$T/lb" || fail "bob's view: $(cat "$T/lb")"
hb=$(rc log-head --keys "$T/bob")
n=$(size_of "$ha")
[ "$(size_of "$hb")" -eq "$n" ] && [ "$ha" != "$hb" ] || fail "not a split: $ha $hb"
grep -q "hostile: log-attack split address=bob@example.com view=1" "$HLOG" &&
	grep -q "hostile: log-attack split address=bob@example.com view=2" "$HLOG" ||
	fail "the attack did not happen: $(cat "$HLOG")"

note "gossip: alice's head reaches bob: a fork, both heads kept"
log_refused 65 "a gossiped tree head of size $n is not consistent with ours (size $n)" \
	rc check-head --keys "$T/bob" "$ha"
grep -qx "relay_client: log: ours $hb" "$T/err" && grep -qx "relay_client: log: theirs $ha" "$T/err" ||
	fail "the two heads are not both given: $(cat "$T/err")"
grep -qx "relay_client: check-head: .*forked.*" "$T/err" || fail "error line: $(cat "$T/err")"

note "alice's next lookup meets bob's view: a fork"
log_refused 65 "bob@example.com: tree head of size $n is not consistent with the newest seen (size $n)" \
	rc lookup --keys "$T/alice" bob@example.com
log_hostile_stop

note "a dropped entry: shorter than what alice saw, then as long again"
rm -f "$T/alice/log-head" "$T/bob/log-head"   # forget the split views
relay_start
new_device bob2 bob@example.com >/dev/null
rc lookup --keys "$T/alice" carol@example.com >/dev/null || fail "honest lookup"
n=$(size_of "$(rc log-head --keys "$T/alice")")
log_hostile_start "drop:bob@example.com"
log_refused 64 "carol@example.com: tree head of size $((n - 1)) is older than the newest seen (size $n)" \
	rc lookup --keys "$T/alice" carol@example.com
grep -q "hostile: log-attack drop address=bob@example.com index=$((n - 1))" "$HLOG" ||
	fail "the attack did not happen: $(cat "$HLOG")"
new_device dave dave@example.com >/dev/null   # the log grows back to n
log_refused 65 "carol@example.com: tree head of size $n is not consistent with the newest seen (size $n)" \
	rc lookup --keys "$T/alice" carol@example.com
log_hostile_stop
exit 0
