#!/usr/bin/env bash
# A relay that lies about the directory is caught by the device that asks
# (docs/PROTOCOL.md 14.8), each lie with its own reason, exit status 64
# (SB_ERR_LOG_PROOF) and nothing of the answer used:
#   - an answer listing a device whose keys are in no log entry;
#   - alice's identity edited in relay.db (no log entry: the database edit
#     an operator can make);
#   - a device logged as countersigned by bob's device, which never signed;
# and the one lie the log lets through, told honestly:
#   - a device the relay enrolled in bob's account itself (an invitation:
#     logged without countersignature) is listed "unapproved", for the
#     agent to refuse (an account's later devices are approved by one of
#     its own).
# The relay is tests/helpers/hostile_relay (the real server over a lying
# store, --log-attack; HOSTILE= to use another build of it; helpers in
# tests/lib/relay.sh).
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

# refused64 WHY CMD...: a log proof failure, its reason, and nothing printed.
refused64() {
	log_refused 64 "$@"
	grep -qx "relay_client: lookup: directory answer does not match the relay's transparency log" \
		"$T/err" || fail "error line: $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "a refused answer was printed: $(cat "$T/out")"
}

relay_init
relay_start
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
new_device carol carol@example.com >/dev/null
a=$(dev_id alice); b=$(dev_id bob); c=$(dev_id carol)
rc lookup --keys "$T/alice" bob@example.com carol@example.com >/dev/null ||
	fail "honest lookup"
rc lookup --keys "$T/bob" alice@example.com >/dev/null || fail "honest lookup"

note "a lookup answered with keys that are in no log entry"
log_hostile_start "unlogged-device:bob@example.com"
refused64 "bob@example.com: device 1099511627853: served but not in the log" \
	rc lookup --keys "$T/alice" bob@example.com
grep -q "hostile: log-attack unlogged-device address=bob@example.com" "$HLOG" ||
	fail "the attack did not happen"
log_hostile_stop

note "alice's identity swapped in relay.db, without a log entry"
relay_start
"$RELAY_CLIENT" keygen --keys "$T/op" >/dev/null
cp "$T/alice/identity.der" "$T/alice.der"
relay_swap_identity "$a" "$T/op/identity.der" unlogged
refused64 "alice@example.com: device $a: served identity is not the logged one" \
	rc lookup --keys "$T/bob" alice@example.com
relay_swap_identity "$a" "$T/alice.der" unlogged
rc lookup --keys "$T/bob" alice@example.com | has "^alice@example.com $a " ||
	fail "alice's real keys refused"

note "a device logged as countersigned by carol's device, which never signed"
log_hostile_start "forged-countersig:carol@example.com"
grep -q "hostile: log-attack forged-countersig address=carol@example.com device=[0-9]* signer=$c$" \
	"$HLOG" || fail "the attack did not happen: $(cat "$HLOG")"
f=$(sed -n 's/.*forged-countersig .* device=\([0-9]*\) .*/\1/p' "$HLOG")
refused64 "carol@example.com: device $f: countersignature by device $c does not verify" \
	rc lookup --keys "$T/alice" carol@example.com
log_hostile_stop

note "a device the relay enrolled in bob's account: logged, and unapproved"
log_hostile_start "unsigned-device:bob@example.com"
u=$(sed -n 's/.*unsigned-device address=bob@example.com device=\([0-9]*\)$/\1/p' "$HLOG")
[ -n "$u" ] || fail "the attack did not happen: $(cat "$HLOG")"
rc lookup --keys "$T/alice" bob@example.com >"$T/l"
has "^bob@example.com $u  [0-9]* unapproved$" <"$T/l" || fail "not flagged: $(cat "$T/l")"
has "^bob@example.com $b  [0-9]*$" <"$T/l" || fail "bob's own device: $(cat "$T/l")"
rc events --keys "$T/bob" bob@example.com | has "^1 add device=$u signer=0$" ||
	fail "bob's own history does not show it"
log_hostile_stop
exit 0
