#!/usr/bin/env bash
# Retention: queued messages and blobs expire after --retention-days; the
# sender then sees "expired" and the device never receives them.  The clock
# is moved with the relay's TEST-ONLY --test-clock-file.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init --retention-days 2
echo 0 >"$T/clock"
relay_start --test-clock-file "$T/clock" --sweep-interval 1
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
b=$(dev_id bob)

old=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$old" --text old >/dev/null
head -c 100000 /dev/urandom >"$T/blob"
uri=$(rc blob-put --keys "$T/alice" "$T/blob" 2>/dev/null)
[ "$(ls "$RDATA/blobs" | grep -vc tmp)" -eq 1 ] || fail "blob file not stored"

note "one day later: still there"
echo $((86400 + 60)) >"$T/clock"
sleep 1.5
[ "$(rc status --keys "$T/alice" --msgid "$old")" = "$b queued" ] || fail "expired too early"
new=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$new" --text new >/dev/null

note "past retention for the first message only"
echo $((2 * 86400 + 120)) >"$T/clock"
wait_until 10 grep -q "expire items=1" "$RLOG" || fail "no expiry sweep logged"
[ "$(rc status --keys "$T/alice" --msgid "$old")" = "$b expired" ] || fail "status not expired"
[ "$(rc status --keys "$T/alice" --msgid "$new")" = "$b queued" ] || fail "newer one expired too"
rc recv --keys "$T/bob" --count 2 --timeout 2 >"$T/got" && fail "an expired message was delivered"
grep -q "payload=new" "$T/got" || fail "the unexpired message was not delivered"
! grep -q "payload=old" "$T/got" || fail "the expired message was delivered"

note "the blob expired too: gone from disk and refused"
expect_rc 44 rc blob-get --keys "$T/bob" "$uri" "$T/out"
[ "$(ls "$RDATA/blobs" | grep -vc tmp)" -eq 0 ] || fail "expired blob file still on disk"
grep -q "blob expired" "$RLOG" || fail "blob expiry not logged"
relay_stop
exit 0
