#!/usr/bin/env bash
# A send names the device set it was sealed for; when that set differs from
# the directory (recipients' devices + the sender's other devices) the whole
# batch is refused, missing and extra devices are named, nothing is stored.
# Payloads over the inline limit are refused whole as well.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init --inline-limit 4096
relay_start
new_device alice alice@example.com >/dev/null
new_device alice2 alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
new_device bob2 bob@example.com >/dev/null
new_device carol carol@example.com >/dev/null
a2=$(dev_id alice2); b=$(dev_id bob); b2=$(dev_id bob2); c=$(dev_id carol)

note "missing devices (bob's second, alice's own other one)"
m=$(new_msgid)
out=$(expect_rc 46 rc send-raw --keys "$T/alice" --to bob@example.com --msgid "$m" \
	--devices "$b" 2>/dev/null)
missing=$(sed -n 's/.*missing=\([^ ]*\).*/\1/p' <<<"$out" | tr ',' '\n' | sort | paste -sd,)
[ "$missing" = "$(printf '%s\n' "$a2" "$b2" | sort | paste -sd,)" ] || fail "missing: $out"
[[ "$out" == *"extra= "* || "$out" == *"extra=" ]] || fail "no extra expected: $out"

note "an extra device (carol is not a recipient)"
out=$(expect_rc 46 rc send-raw --keys "$T/alice" --to bob@example.com --msgid "$m" \
	--devices "$b,$b2,$a2,$c" 2>/dev/null)
[[ "$out" == "stale missing= extra=$c" ]] || fail "extra: $out"

note "an unknown device id"
out=$(expect_rc 46 rc send-raw --keys "$T/alice" --to bob@example.com --msgid "$m" \
	--devices "$b,$b2,$a2,999999" 2>/dev/null)
[[ "$out" == "stale missing= extra=999999" ]] || fail "unknown id: $out"

note "nothing was stored for anyone"
expect_rc 44 rc status --keys "$T/alice" --msgid "$m"
for d in bob bob2 alice2 carol; do
	rc recv --keys "$T/$d" --count 0 --timeout 1 >/dev/null || fail "$d got a refused batch"
done

note "the exact set is accepted (same message id: the refusals stored nothing)"
out=$(rc send-raw --keys "$T/alice" --to bob@example.com --msgid "$m" --devices "$b2,$a2,$b")
[ "$out" = accepted ] || fail "exact set refused: $out"

note "the client library looks up and seals for the right set by itself"
m2=$(new_msgid)
rc send --keys "$T/bob" --to alice@example.com,carol@example.com --msgid "$m2" --text group |
	grep -q "^accepted" || fail "group send"
st=$(rc status --keys "$T/bob" --msgid "$m2" | cut -d' ' -f1 | sort | paste -sd,)
[ "$st" = "$(printf '%s\n' "$(dev_id alice)" "$a2" "$b2" "$c" | sort | paste -sd,)" ] ||
	fail "group status devices: $st"

note "a device enrolls between lookup and send: the library refreshes and re-seals"
"$RELAY_CLIENT" keygen --keys "$T/bob3" >/dev/null
code3=$("$SEALBOX_RELAY" invite --data "$RDATA" bob@example.com)
hook="$RELAY_CLIENT register --relay 127.0.0.1:$RPORT --fp $FP --keys $T/bob3"
hook+=" --address bob@example.com --code $code3 --name bob3 >/dev/null"
m5=$(new_msgid)
out=$(rc send --keys "$T/alice" --to bob@example.com --msgid "$m5" --text race \
	--on-first-seal "$hook")
[[ "$out" == "accepted "*"rounds=2" ]] || fail "no refresh-and-retry: $out"
rc status --keys "$T/alice" --msgid "$m5" | has "^$(dev_id bob3) queued" ||
	fail "the late device was not included"

note "unknown recipient"
expect_rc 60 rc send --keys "$T/alice" --to nobody@example.com --msgid "$(new_msgid)"

note "payload over the inline limit: the whole batch is refused"
m3=$(new_msgid)
expect_rc 47 rc send --keys "$T/alice" --to bob@example.com --msgid "$m3" --size 4097
expect_rc 44 rc status --keys "$T/alice" --msgid "$m3"
rc send --keys "$T/alice" --to bob@example.com --msgid "$m3" --size 4096 | has accepted ||
	fail "a payload of exactly the limit was refused"
grep -q "send stale" "$RLOG" || fail "stale refusal not logged"
grep -q "inline limit" "$RLOG" || fail "oversize refusal not logged"
relay_stop
exit 0
