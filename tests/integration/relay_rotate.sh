#!/usr/bin/env bash
# Certificate rotation without re-initialising devices (issue 16, section
# 2; PROTOCOL.md 13.10), with real mounts:
#   - `rotate-cert` prints the next fingerprint; the relay keeps serving the
#     current certificate and announces the next one (PIN_NEXT) to alice,
#     connected at that moment, who pins it as next_fingerprint in her
#     config;
#   - bob, offline at the rotation, connects before the switch and learns
#     it at authentication;
#   - after `rotate-cert --switch` (serve told by SIGHUP, no restart) bob
#     connects to the new certificate, promotes the pin (fingerprint = the
#     new one, no next_fingerprint) and receives what alice sends over her
#     older connection; after a relay restart alice reconnects to the new
#     certificate and promotes it too;
#   - carol, offline from the rotation to the switch, is refused with
#     "certificate fingerprint mismatch: expected OLD, got NEW" (status,
#     exit 1) until re-pinned by hand, then works;
#   - rotate-cert refuses a second pending rotation, --switch without one.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_device carol carol@example.com
OLD=$FP
cfgval() { awk -F' *= *' -v k="$2" '$1 == k { print $2 }' "$(mb_home "$1")/config"; }
# pinned NAME KEY VALUE: NAME's config says KEY = VALUE now (for wait_until).
pinned() { [ "$(cfgval "$1" "$2")" = "$3" ]; }

mb_mount alice
wait_until "$(mb_secs 10)" grep -q "auth conn=.* device=$(mb_device_id alice) " "$RLOG" ||
	fail "alice did not connect"

note "rotate while alice is online"
NEW=$("$SEALBOX_RELAY" rotate-cert --data "$RDATA") || fail "rotate-cert"
[[ "$NEW" =~ ^[0-9a-f]{64}$ ]] && [ "$NEW" != "$OLD" ] || fail "rotate-cert printed '$NEW'"
[ "$(stat -c %a "$RDATA/tls/next-key.pem")" = 600 ] || fail "next key mode"
wait_until "$(mb_secs 10)" grep -q "tls next certificate ${NEW:0:16}... announced" "$RLOG" ||
	fail "the relay did not announce the next certificate: $(tail -3 "$RLOG")"
wait_until "$(mb_secs 10)" pinned alice next_fingerprint "$NEW" ||
	fail "alice's config: $(grep fingerprint "$(mb_home alice)/config")"
[ "$(cfgval alice fingerprint)" = "$OLD" ] || fail "alice dropped the current pin"
grep -q "sealbox: relay: next certificate $NEW announced; pinned as next_fingerprint" \
	"$(mb_log alice)" || fail "alice's log: $(tail -3 "$(mb_log alice)")"
expect_fail 1 '^sealbox-relay: rotate-cert: a next certificate is pending already' \
	"$SEALBOX_RELAY" rotate-cert --data "$RDATA"

note "bob, offline at the rotation, connects before the switch"
mb_mount bob
wait_until "$(mb_secs 10)" pinned bob next_fingerprint "$NEW" ||
	fail "bob did not learn the next pin at authentication"
mb_umount bob

note "switch, serve told by SIGHUP"
out=$("$SEALBOX_RELAY" rotate-cert --data "$RDATA" --switch) || fail "switch: $out"
[ "$out" = "$NEW" ] || fail "switch printed '$out'"
[ ! -e "$RDATA/tls/next-key.pem" ] && [ ! -e "$RDATA/tls/next-cert.pem" ] || fail "next files left"
wait_until "$(mb_secs 10)" grep -q "tls certificate ${NEW:0:16}... now served" "$RLOG" ||
	fail "serve did not take the new certificate: $(tail -3 "$RLOG")"
expect_fail 1 '^sealbox-relay: rotate-cert: no next certificate is pending' \
	"$SEALBOX_RELAY" rotate-cert --data "$RDATA" --switch

mb_mount bob
wait_until "$(mb_secs 10)" pinned bob fingerprint "$NEW" ||
	fail "bob did not promote the pin: $(grep fingerprint "$(mb_home bob)/config")"
[ -z "$(cfgval bob next_fingerprint)" ] || fail "bob kept a next_fingerprint"
grep -q "sealbox: relay: now serving its next certificate $NEW; pinned as fingerprint" \
	"$(mb_log bob)" || fail "bob's log: $(tail -3 "$(mb_log bob)")"
mkdir -p "$(mb_mnt alice)/outbox/bob@example.com"
echo "after the switch" >"$(mb_mnt alice)/outbox/bob@example.com/note.txt"
got=$(wait_for_file 20 "$(mb_mnt bob)/inbox/alice@example.com" "$(mb_inbox_re note.txt)")
[ "$(cat "$got")" = "after the switch" ] || fail "bob read: $(cat "$got")"

note "alice reconnects to the new certificate after a relay restart"
relay_stop
relay_start
wait_until "$(mb_secs 20)" pinned alice fingerprint "$NEW" ||
	fail "alice did not promote the pin: $(grep fingerprint "$(mb_home alice)/config")"
[ -z "$(cfgval alice next_fingerprint)" ] || fail "alice kept a next_fingerprint"

note "carol missed the whole window: a clear refusal, then a re-pin"
rc=0
st=$(SEALBOX_CONNECT_TIMEOUT=5 "$SEALBOX" status --home "$(mb_home carol)") || rc=$?
[ "$rc" -eq 1 ] || fail "status exit $rc"
grep -qx "relay:    127.0.0.1:$RPORT unreachable: certificate fingerprint mismatch: expected $OLD, got $NEW" \
	<<<"$st" || fail "carol's status: $(grep '^relay' <<<"$st")"
sed -i "s/^fingerprint = .*/fingerprint = $NEW/" "$(mb_home carol)/config"
st=$("$SEALBOX" status --home "$(mb_home carol)") || fail "status after the re-pin: $st"
grep -qx "relay:    127.0.0.1:$RPORT reachable, authenticated" <<<"$st" ||
	fail "carol after the re-pin: $(grep '^relay' <<<"$st")"
mb_finish
