#!/usr/bin/env bash
# Pinned keys and alerts a file tool can see (issue 14, points 1 and 2).
# The first time alice's agent uses bob's device keys (her first send) it
# pins them; bob's answer shows under inbox/bob@example.com.  Then whoever
# runs the relay swaps bob's device identity for a key of their own and
# sends alice a message as bob's device.  Alice's mount must show the
# change where any tool sees it: one line in MNT/alerts, the same line in
# its log and in `sealbox status`, "changed: ..." in user.sealbox.trust of
# both bob folders; the forged message never shows; the pin stays bob's
# real key, across a remount, and alice's next message to bob is sealed
# to it, not to the operator's key.  `sealbox trust accept` takes the new
# key: only then is a message sealed to it (which shows the check above
# could see the difference).
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"
command -v openssl >/dev/null || fail "openssl not installed"

mb_alice_to_bob
bobdev=$(mb_device_id bob) alicedev=$(mb_device_id alice)

# payload_of DEVICE FILE OUT: the payload queued at the relay for DEVICE of
# the message FILE (an outbox file: its user.sealbox.id) into OUT.
payload_of() {
	local id
	id=$(getfattr --absolute-names --only-values -n user.sealbox.id "$2")
	python3 - "$RDATA/relay.db" "$1" "$id" "$3" <<'PY' || fail "no payload for $2 at the relay"
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=10)
row = con.execute("SELECT payload FROM queue WHERE device_id = ? AND msgid = ?",
                  (int(sys.argv[2]), bytes.fromhex(sys.argv[3]))).fetchone()
sys.exit(1) if row is None else open(sys.argv[4], "wb").write(row[0])
PY
}
# opens_with_op PAYLOAD: the operator's key opens it.
opens_with_op() {
	"$SEALBOX" open --encrypt-key "$T/op/encrypt.pem" --recipient "$T/op/identity.der" \
		--sender "$T/alice.der" --in "$1" --out "$T/opened" 2>"$T/open.err"
}

note "first contact: alice's send pins bob's device"
[ -f "$A/alerts" ] || fail "no $A/alerts: $(ls -la "$A")"
[ "$(stat -c %a "$A/alerts")" = 400 ] || fail "alerts mode $(stat -c %a "$A/alerts")"
[ ! -s "$A/alerts" ] || fail "alerts before anything happened: $(cat "$A/alerts")"
echo "first" >"$O/first.txt"
wait_status 20 "$O/first.txt" '^delivered 1/1$'
old=$(mb_fp alice bob@example.com "$bobdev")
[[ "$old" =~ ^[0-9a-f]{32}$ ]] || fail "bob's fingerprint: '$old'"
want=$(printf 'bob@example.com: unverified\n  device %s %s' "$bobdev" "$old")
# (alice's own account comes first: "alice@example.com: this account")
bobs() { "$SEALBOX" trust --home "$(mb_home alice)" | sed -n '/^bob@example.com:/,$p'; }
mine=$(printf 'alice@example.com: this account\n  device %s %s' "$alicedev" \
	"$(mb_fp alice alice@example.com "$alicedev")")
[ "$("$SEALBOX" trust --home "$(mb_home alice)" | head -2)" = "$mine" ] ||
	fail "alice's own account: $("$SEALBOX" trust --home "$(mb_home alice)")"
got=$(bobs) || fail "sealbox trust"
[ "$got" = "$want" ] || fail "alice's pins: '$got', wanted '$want'"
[ "$(mb_trust "$O")" = unverified ] || fail "outbox trust: '$(mb_trust "$O")'"
mkdir "$B/outbox/alice@example.com"
echo "real bob" >"$B/outbox/alice@example.com/hello.txt"
wait_for_file 20 "$A/inbox/bob@example.com" "$(mb_inbox_re hello.txt)" >/dev/null
[ "$(mb_trust "$A/inbox/bob@example.com")" = unverified ] ||
	fail "inbox trust: '$(mb_trust "$A/inbox/bob@example.com")'"
[ ! -s "$A/alerts" ] || fail "first contact alerted: $(cat "$A/alerts")"
mb_sql "SELECT identity FROM devices WHERE id = ?" "$alicedev" | xxd -r -p >"$T/alice.der"

note "the operator swaps bob's device key and sends as bob's device"
"$SEALBOX" keygen --suite ec --out "$T/op" >/dev/null || fail "keygen"
openssl pkcs8 -topk8 -nocrypt -in "$T/op/sign.pem" -outform DER -out "$T/op/sign.der" ||
	fail "openssl pkcs8"
relay_swap_identity "$bobdev" "$T/op/identity.der"
printf 'bob@example.com' >"$T/op/address"
echo "$bobdev" >"$T/op/device_id"
cs --keys "$T/op" --to alice@example.com --name forged.txt --text "not bob" >/dev/null ||
	fail "the operator's send"
new=$(mb_fp alice bob@example.com "$bobdev")
[[ "$new" =~ ^[0-9a-f]{32}$ && "$new" != "$old" ]] || fail "new fingerprint '$new' (old $old)"
wait_until "$(mb_secs 20)" grep -q "rejected message .* from bob@example.com/" "$(mb_log alice)" ||
	fail "the forged message was not rejected: $(tail -3 "$(mb_log alice)")"

line=$(mb_alert_shown alice bob@example.com "device $bobdev changed $old -> $new")
[ "$(wc -l <"$A/alerts")" -eq 1 ] || fail "MNT/alerts: $(cat "$A/alerts")"
changed="changed: bob@example.com device $bobdev changed $old -> $new"
# Recorded before the message was judged.
al=$(grep -n "sealbox: alert: " "$(mb_log alice)" | head -1 | cut -d: -f1)
rj=$(grep -n "rejected message .* from bob@example.com/" "$(mb_log alice)" | head -1 | cut -d: -f1)
[ "$al" -lt "$rj" ] || fail "the alert (line $al) came after the verdict (line $rj)"
[ "$(mb_count "$A/inbox/bob@example.com" "$(mb_inbox_re forged.txt)")" -eq 0 ] ||
	fail "the forged message shows: $(ls "$A/inbox/bob@example.com")"

note "MNT/alerts is read-only"
[ "$(mb_errno write "$A/alerts")" = EROFS ] || fail "write alerts: $(mb_errno write "$A/alerts")"
[ "$(mb_errno unlink "$A/alerts")" = EROFS ] || fail "rm alerts: $(mb_errno unlink "$A/alerts")"
[ "$(mb_errno truncate "$A/alerts")" = EROFS ] || fail "truncate: $(mb_errno truncate "$A/alerts")"
[ "$(mb_errno setxattr "$A/alerts")" = EROFS ] || fail "setxattr: $(mb_errno setxattr "$A/alerts")"

note "a remount keeps the pin, the alert and the trust state"
mb_umount alice
mb_mount alice
[ "$(cat "$A/alerts")" = "$line" ] || fail "alerts after remount: $(cat "$A/alerts")"
[ "$(mb_trust "$O")" = "$changed" ] || fail "outbox trust after remount: '$(mb_trust "$O")'"
want=$(printf 'bob@example.com: %s\n  device %s %s' "$changed" "$bobdev" "$old")
[ "$(bobs)" = "$want" ] || fail "pins after remount: $(bobs)"

note "alice's next message is sealed to bob's pinned key, not the operator's"
echo "second" >"$O/second.txt"
wait_status 20 "$O/second.txt" '^(sent|delivered 1/1)$'
payload_of "$bobdev" "$O/second.txt" "$T/second.msg"
! opens_with_op "$T/second.msg" || fail "sealed to the operator's key"
[ "$(wc -l <"$A/alerts")" -eq 1 ] || fail "the same change alerted twice: $(cat "$A/alerts")"

note "trust accept takes the operator's key: now it is used"
out=$("$SEALBOX" trust --home "$(mb_home alice)" accept Bob@Example.com) ||
	fail "trust accept: $out"
[ "$(mb_trust "$O")" = unverified ] || fail "trust after accept: '$(mb_trust "$O")'"
st=$("$SEALBOX" status --home "$(mb_home alice)") || true
! grep -q "^alert:" <<<"$st" || fail "status still lists alerts after accept: $st"
want=$(printf 'bob@example.com: unverified\n  device %s %s' "$bobdev" "$new")
[ "$(bobs)" = "$want" ] || fail "pins after accept: $(bobs)"
echo "third" >"$O/third.txt"
wait_status 20 "$O/third.txt" '^(sent|delivered 1/1)$'
payload_of "$bobdev" "$O/third.txt" "$T/third.msg"
opens_with_op "$T/third.msg" || fail "not sealed to the accepted key: $(cat "$T/open.err")"
# The payload's plaintext is the inner message (content, then the gossip
# extension): the content is in it.
grep -qa 'third' "$T/opened" || fail "opened: $(od -c "$T/opened" | tail -3)"
[ "$(cat "$A/alerts")" = "$line" ] || fail "MNT/alerts keeps history: $(cat "$A/alerts")"

expect_fail 2 'not an e-mail address' "$SEALBOX" trust --home "$(mb_home alice)" accept bob
expect_fail 2 'unknown subcommand' "$SEALBOX" trust --home "$(mb_home alice)" forget
mb_finish
