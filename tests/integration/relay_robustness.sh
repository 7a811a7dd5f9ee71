#!/usr/bin/env bash
# Hostile and broken peers: a TLS 1.2 client, plain garbage, malformed,
# oversized, truncated and unknown frames, a client that never speaks, a
# wrong pinned fingerprint.  Each such connection is closed with a logged
# reason while a connected device keeps receiving and the relay keeps
# serving.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start --auth-timeout 2 --idle-timeout 3
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null

# bob stays connected through all of it and must get both messages
rc recv --keys "$T/bob" --count 2 --timeout 60 --ack --ping 1 --ready-file "$T/bob.ready" \
	>"$T/bob.out" 2>"$T/bob.err" &
bobpid=$!
wait_until 10 test -f "$T/bob.ready" || fail "bob never connected"
m1=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m1" --text before >/dev/null

note "TLS 1.2 is refused"
if echo | timeout 10 openssl s_client -connect "127.0.0.1:$RPORT" -tls1_2 >"$T/s12" 2>&1; then
	fail "TLS 1.2 handshake succeeded"
fi
wait_until 5 grep -q "reason=tls: unsupported protocol" "$RLOG" || fail "TLS 1.2 refusal not logged"
echo | timeout 10 openssl s_client -connect "127.0.0.1:$RPORT" -tls1_3 2>&1 |
	has "TLSv1.3" || fail "TLS 1.3 handshake failed"

note "plain garbage instead of TLS"
head -c 512 /dev/urandom >/dev/tcp/127.0.0.1/"$RPORT" || true
wait_until 5 grep -q "reason=tls: " "$RLOG" || fail "garbage not logged"

note "bad frames inside TLS"
for kind in random oversize badtype trailing truncated; do
	rc garbage --kind "$kind" --timeout 5 >/dev/null || fail "relay kept a '$kind' connection open"
done
grep -q "reason=oversized or undersized frame" "$RLOG" || fail "oversize reason"
grep -q "reason=unknown message type 0x7e" "$RLOG" || fail "bad type reason"
grep -q "reason=malformed ping frame (unexpected trailing bytes)" "$RLOG" || fail "trailing reason"
grep -q "reason=malformed auth frame (input is truncated)" "$RLOG" || fail "truncated reason"

note "a client that connects and says nothing is dropped"
exec 7<>/dev/tcp/127.0.0.1/"$RPORT"
wait_until 6 grep -q "reason=tls handshake timeout" "$RLOG" || fail "silent client not dropped"
exec 7<&-

note "an authenticated client that goes quiet is dropped at the idle timeout"
rc recv --keys "$T/alice" --count 0 --timeout 5 --ping 100 >/dev/null ||
	fail "alice received something"
grep -q "device=$(dev_id alice) reason=idle timeout" "$RLOG" || fail "idle client not dropped"

note "a wrong pinned fingerprint is refused by the client"
wrong=$(printf '%064d' 0)
st=0
"$RELAY_CLIENT" lookup --relay "127.0.0.1:$RPORT" --fp "$wrong" --keys "$T/alice" \
	alice@example.com 2>"$T/pin.err" || st=$?
[ "$st" -eq 41 ] || fail "wrong pin: exit $st ($(cat "$T/pin.err"))"

note "bob's connection survived and still gets pushes"
m2=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m2" --text after >/dev/null
wait "$bobpid" || fail "bob lost messages: $(cat "$T/bob.err")"
grep -q "msg=$m1 .*payload=before" "$T/bob.out" || fail "first message"
grep -q "msg=$m2 .*payload=after" "$T/bob.out" || fail "second message"
[ "$(grep -c "auth conn=.* device=$(dev_id bob)" "$RLOG")" -eq 1 ] ||
	fail "bob had to reconnect"
relay_stop
exit 0
