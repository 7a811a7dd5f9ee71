#!/usr/bin/env bash
# Issue 12, finding 8 (relay side): REGISTER refuses a device name that is
# not well-formed UTF-8 or that holds control or invisible format
# characters (C0, DEL, C1, zero-width, bidi overrides and isolates, BOM):
# an RLO in "phone<RLO>gnp.exe" makes other accounts' screens read
# "phoneexe.png".  The refusal is INVALID_ARG (exit 3) with a text that
# says why, nothing is enrolled, the code stays usable, and ordinary
# names (accents, emoji) still register.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start
"$RELAY_CLIENT" keygen --keys "$T/alice" >/dev/null || fail "keygen"
code=$("$SEALBOX_RELAY" invite --data "$RDATA" alice@example.com) || fail "invite"

reg() { rc register --keys "$T/alice" --address alice@example.com --code "$code" --name "$1"; }

note "hostile names are refused with a reason"
for name in $'phone\u202egnp.exe' $'a\u202db' $'lap\u200btop' $'x\u200fy' $'\ufefflaptop' \
	$'iso\u2066late' $'pdi\u2069' $'c1\u0085x' $'c1\u009bx' $'tab\there' $'del\x7f' \
	$'bad\xfftop' $'cut\xc3' $'over\xc0\xaflong' $'surr\xed\xa0\x80ogate' $'tag\U000E0041'; do
	err=$(reg "$name" 2>&1 >/dev/null) && fail "registered name $(printf '%q' "$name")"
	st=$(reg "$name" >/dev/null 2>&1; echo $?) || true
	[ "$st" -eq 3 ] || fail "name $(printf '%q' "$name"): exit $st, wanted 3 (INVALID_ARG)"
	grep -q "invalid argument" <<<"$err" || fail "refusal said '$err'"
done
n=$(grep -c "register refused .*: bad device name" "$RLOG" || true)
[ "$n" -ge 16 ] || fail "refusals not logged ($n)"
if grep -q "^.* register conn=" "$RLOG"; then fail "a hostile name was enrolled"; fi

note "the code still enrolls an ordinary UTF-8 name; it reads back unchanged"
id=$(reg $'Jos\u00e9\'s \U0001F4F1') || fail "plain UTF-8 name refused"
rc lookup --keys "$T/alice" alice@example.com | has "^alice@example.com $id Jos"$'\u00e9'"'s "$'\U0001F4F1' ||
	fail "name did not read back"
relay_stop
exit 0
