#!/usr/bin/env bash
# sealbox-test: alone (its assertions involve time: see scripts/run-tests.sh)
# Relay errors say which (issue 17): every command that connects (init,
# devices, verify, status) names the failure in one line:
#   nothing listening           "connection refused"
#   accepts and never answers   "timed out after N s", within N + 2 s
#   another certificate         "certificate fingerprint mismatch: expected X, got Y"
#   a plain-TCP server's junk   "TLS handshake failed: REASON" (OpenSSL's)
# and the connect timeout is a few seconds by default, not the 15 s that
# `sealbox devices` used to hang.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
H=$(mb_home alice)
cp "$H/config" "$T/config.good"

# A TCP server in python3: "silent" accepts and never answers, "garbage"
# answers a TLS ClientHello with text.
server() {
	python3 - "$1" "$2" <<'PY' &
import socket, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
held = []
while True:
    c, _ = s.accept()
    if mode == "garbage":
        try:
            c.recv(4096)
            c.sendall(b"HTTP/1.0 400 this is no TLS server\r\n\r\n" * 4)
        except OSError:
            pass
        time.sleep(0.2)
        c.close()
    else:
        held.append(c)
PY
	on_exit "kill $!"
	wait_until 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $2)).close()" ||
		fail "python3 $1 server did not start"
}

# point RELAY [FINGERPRINT]: alice's config names another relay.
point() {
	sed -e "s/^relay *=.*/relay = $1/" \
	    -e "s/^fingerprint *=.*/fingerprint = ${2:-$FP}/" "$T/config.good" >"$H/config"
}

# each REGEX: devices, verify and status all say REGEX (status on its
# relay line, exit 1); the failing commands in one line, exit 1.
each() {
	local re=$1 st rc
	expect_fail 1 "^sealbox: devices: relay 127\\.0\\.0\\.1:[0-9]+: $re\$" \
		"$SEALBOX" devices --home "$H" bob@example.com
	expect_fail 1 "^sealbox: verify: relay 127\\.0\\.0\\.1:[0-9]+: $re\$" \
		"$SEALBOX" verify --home "$H" bob@example.com
	rc=0
	st=$("$SEALBOX" status --home "$H") || rc=$?
	[ "$rc" -eq 1 ] || fail "status exit $rc"
	grep -Eq "^relay: +127\\.0\\.0\\.1:[0-9]+ unreachable: $re\$" <<<"$st" ||
		fail "status says: $(grep '^relay' <<<"$st")"
}

# init_fails PORT FINGERPRINT REGEX: a fresh init against that relay.
init_fails() {
	local code
	code=$("$SEALBOX_RELAY" invite --data "$RDATA" carol@example.com) || fail "invite"
	expect_fail 1 "^sealbox: init: relay 127\\.0\\.0\\.1:$1: $3\$" \
		"$SEALBOX" init --home "$T/carol" --address carol@example.com \
		--relay "127.0.0.1:$1" --fingerprint "$2" <<<"$code"
	[ ! -e "$T/carol/config" ] || fail "a failed init wrote a config"
}

export SEALBOX_CONNECT_TIMEOUT=2

note "nothing listening: connection refused"
dead=$(free_port)
point "127.0.0.1:$dead"
each "connection refused"
init_fails "$dead" "$FP" "connection refused"

note "a listener that never answers: timed out after 2 s, within 4 s"
silent=$(free_port)
server silent "$silent"
point "127.0.0.1:$silent"
t0=$(date +%s%N)
expect_fail 1 '^sealbox: devices: relay 127\.0\.0\.1:[0-9]+: timed out after 2 s$' \
	"$SEALBOX" devices --home "$H" bob@example.com
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# N + 2 s (a sanitizer build starts slower: its slack scales with MB_SLOW).
[ "$ms" -lt $(( 2000 + 2000 * MB_SLOW )) ] || fail "devices took $ms ms to time out after 2 s"
each "timed out after 2 s"
init_fails "$silent" "$FP" "timed out after 2 s"
note "without SEALBOX_CONNECT_TIMEOUT the connect timeout is 5 s"
t0=$(date +%s%N)
expect_fail 1 '^sealbox: devices: relay 127\.0\.0\.1:[0-9]+: timed out after 5 s$' \
	env -u SEALBOX_CONNECT_TIMEOUT "$SEALBOX" devices --home "$H" bob@example.com
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt $(( 5000 + 2000 * MB_SLOW )) ] || fail "default connect timeout: $ms ms"

note "a relay with another certificate: both fingerprints"
other=$(printf 'ab%.0s' $(seq 32))
point "127.0.0.1:$RPORT" "$other"
each "certificate fingerprint mismatch: expected $other, got $FP"
init_fails "$RPORT" "$other" "certificate fingerprint mismatch: expected $other, got $FP"

note "a plain-TCP server that sends garbage: TLS handshake failed"
junk=$(free_port)
server garbage "$junk"
point "127.0.0.1:$junk"
each "TLS handshake failed: [a-z][^:]*"
init_fails "$junk" "$FP" "TLS handshake failed: [a-z][^:]*"

note "and the right relay still works"
cp "$T/config.good" "$H/config"
"$SEALBOX" devices --home "$H" bob@example.com >/dev/null || fail "devices against the real relay"
mb_finish
