#!/usr/bin/env bash
# The operator's directory commands (issue 16, section 2), on the real
# relay while it serves:
#   - `devices ADDRESS` lists id, enrolled, last seen, queued items and the
#     name (escaped), exactly;
#   - `remove-device ID` drops the device's queue and the blobs it
#     uploaded (records and files), closes its live connection, and the
#     address's contacts see the change at their next lookup; a sender
#     whose set was looked up before the removal is refused as stale and
#     re-seals for the remaining devices only (rounds=2);
#   - `remove-address ADDRESS` removes every device and voids unused
#     invites; the address is then unknown to senders;
#   - a second `serve` on the same data directory fails with "already
#     served by pid N", exit 1; once the first stops, serve starts again.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
new_device bob2 bob@example.com >/dev/null
a=$(dev_id alice); b=$(dev_id bob); b2=$(dev_id bob2)
admin() { "$SEALBOX_RELAY" "$1" --data "$RDATA" "${@:2}"; }

note "a second serve on the same directory"
# (timeout: a relay without the lock would serve on, not fail)
expect_fail 1 "^sealbox-relay: serve: already served by pid $RPID\$" \
	timeout 10 "$SEALBOX_RELAY" serve --data "$RDATA" --listen "127.0.0.1:$(free_port)"

note "devices: exact table"
rc send --keys "$T/alice" --to bob@example.com --msgid "$(new_msgid)" --text one | has accepted ||
	fail "send to bob"
out=$(admin devices bob@example.com)
iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
[ "$(sed -n 1p <<<"$out")" = "ID       ENROLLED             LAST SEEN              QUEUED  NAME" ] ||
	fail "devices header: $(sed -n 1p <<<"$out")"
[[ "$(sed -n 2p <<<"$out")" =~ ^$b\ +$iso\ +$iso\ +1\ \ \"bob\"$ ]] || fail "devices row 1: $out"
[[ "$(sed -n 3p <<<"$out")" =~ ^$b2\ +$iso\ +$iso\ +1\ \ \"bob2\"$ ]] || fail "devices row 2: $out"
[ "$(wc -l <<<"$out")" -eq 3 ] || fail "devices: $out"
expect_fail 1 '^sealbox-relay: devices: no device is enrolled for this address$' \
	admin devices nobody@example.com
expect_fail 1 '^sealbox-relay: devices: address must be an e-mail address' admin devices 'x y'
expect_fail 2 '^sealbox-relay: devices: exactly one ADDRESS' admin devices
expect_fail 2 '^sealbox-relay: remove-device: ID must be a device id' admin remove-device 12x
expect_fail 1 '^sealbox-relay: devices: no relay here' \
	"$SEALBOX_RELAY" devices --data "$T/nothing" bob@example.com
[ ! -e "$T/nothing" ] || fail "devices made $T/nothing"

note "remove-device while the device is connected, with a blob it uploaded"
head -c 70000 /dev/urandom >"$T/blob.bin"
uri=$(rc blob-put --keys "$T/bob2" "$T/blob.bin" 2>/dev/null) || fail "blob-put"
[ -f "$RDATA/blobs/${uri#sbblob:}" ] || fail "no blob file for $uri"
rc recv --keys "$T/bob2" --count 5 --timeout 20 --ready-file "$T/bob2.ready" \
	>"$T/bob2.out" 2>"$T/bob2.err" &
recv=$!
on_exit "kill $recv"
wait_until 10 test -e "$T/bob2.ready" || fail "bob2 did not connect"
out=$(admin remove-device "$b2") || fail "remove-device: $out"
[ "$out" = "removed device $b2 of bob@example.com: 1 queued item and 1 blob (70000 bytes) dropped" ] ||
	fail "remove-device said: $out"
wait_until 10 grep -q "close conn=.* device=$b2 reason=device removed" "$RLOG" ||
	fail "bob2's connection was not closed: $(tail -3 "$RLOG")"
grep -q "reload" "$RLOG" || fail "serve was not told"
[ ! -e "$RDATA/blobs/${uri#sbblob:}" ] || fail "the removed device's blob file is still there"
[ "$(mb_sql 'SELECT count(*) FROM queue WHERE device_id=?' "$b2")" = 0 ] || fail "bob2's queue left"
[ "$(mb_sql 'SELECT count(*) FROM blobs WHERE owner=?' "$b2")" = 0 ] || fail "bob2's blob record left"
[ "$(mb_sql 'SELECT count(*) FROM queue WHERE device_id=?' "$b")" = 1 ] || fail "bob's queue was touched"
expect_rc 43 rc recv --keys "$T/bob2" --count 1 --timeout 3
expect_fail 1 '^sealbox-relay: remove-device: no such device$' admin remove-device "$b2"
out=$(admin devices bob@example.com)
[ "$(wc -l <<<"$out")" -eq 2 ] && [[ "$(sed -n 2p <<<"$out")" =~ ^$b\  ]] || fail "devices after: $out"

note "contacts see the change at their next lookup"
[ "$(rc lookup --keys "$T/alice" bob@example.com | awk '{ print $2 }' | paste -sd,)" = "$b" ] ||
	fail "lookup still lists the removed device"

note "a sender that looked up before a removal is refused as stale and re-seals"
new_device bob3 bob@example.com >/dev/null
b3=$(dev_id bob3)
m=$(new_msgid)
out=$(rc send --keys "$T/alice" --to bob@example.com --msgid "$m" --text race \
	--on-first-seal "'$SEALBOX_RELAY' remove-device --data '$RDATA' $b3 >/dev/null")
[[ "$out" == "accepted "*"rounds=2" ]] || fail "no refresh after the removal: $out"
[ "$(rc status --keys "$T/alice" --msgid "$m" | cut -d' ' -f1 | paste -sd,)" = "$b" ] ||
	fail "status after the stale round: $(rc status --keys "$T/alice" --msgid "$m")"
grep -q "send stale conn=.* device=$a .* extra=1" "$RLOG" || fail "no stale refusal logged"

note "remove-address: every device, unused invites voided"
new_device bob4 bob@example.com >/dev/null
b4=$(dev_id bob4)
"$SEALBOX_RELAY" invite --data "$RDATA" bob@example.com >"$T/code" || fail "invite"
out=$(admin remove-address bob@example.com) || fail "remove-address: $out"
want="removed device $b of bob@example.com: 2 queued items and 0 blobs (0 bytes) dropped
removed device $b4 of bob@example.com: 0 queued items and 0 blobs (0 bytes) dropped
removed bob@example.com: 1 unused invite voided"
[ "$out" = "$want" ] || fail "remove-address said: $out"
expect_fail 1 '^sealbox-relay: remove-address: no device and no invite for this address$' \
	admin remove-address bob@example.com
"$RELAY_CLIENT" keygen --keys "$T/bob5" >/dev/null
expect_rc 50 rc register --keys "$T/bob5" --address bob@example.com --code "$(cat "$T/code")" \
	--name bob5
expect_rc 60 rc send --keys "$T/alice" --to bob@example.com --msgid "$(new_msgid)"
[ "$(mb_sql 'SELECT count(*) FROM queue WHERE device_id IN (?,?)' "$b" "$b4")" = 0 ] ||
	fail "bob's queues left"

note "after a clean stop the directory can be served again"
relay_stop
relay_start
[ "$(admin devices alice@example.com | awk 'NR == 2 { print $1 }')" = "$a" ] || fail "alice gone"
relay_stop
exit 0
