#!/usr/bin/env bash
# Metrics and JSON logs (issue 16, section 2), on the real relay:
#   - `serve --metrics 127.0.0.1:PORT` serves the Prometheus text format at
#     /metrics (python3 urllib scrapes it; every sample line parses); the
#     counters move by exactly what happened: a send accepted, pushed and
#     acknowledged, the queue depth up then down, blob bytes stored,
#     connections and authenticated devices, errors by class (a refused
#     AUTH, a stale send, a malformed frame, a TLS failure);
#   - anything but GET/HEAD of /metrics is refused; a non-loopback
#     --metrics is a usage error (exit 2);
#   - `--log-format json`: every line of the log is one JSON object
#     (python3 json.loads), a device name with quotes and a backslash comes
#     back exactly; in text form the same name is escaped.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
expect_fail 2 '^sealbox-relay: serve: --metrics wants a loopback HOST:PORT' \
	"$SEALBOX_RELAY" serve --data "$RDATA" --metrics 0.0.0.0:9100
expect_fail 2 '^sealbox-relay: serve: --metrics wants a loopback HOST:PORT' \
	"$SEALBOX_RELAY" serve --data "$RDATA" --metrics 192.168.1.1:9100
expect_fail 2 '^sealbox-relay: serve: --log-format must be text or json$' \
	"$SEALBOX_RELAY" serve --data "$RDATA" --log-format xml
MPORT=$(free_port)
relay_start --metrics "127.0.0.1:$MPORT" --log-format json

# scrape: "name value" per sample (labels kept in the name).
scrape() {
	python3 - "$MPORT" <<'PY'
import re, sys, urllib.request
r = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5)
assert r.status == 200, r.status
assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
for line in r.read().decode("ascii").splitlines():
    if line.startswith("#"):
        assert re.match(r"^# (HELP|TYPE) sealbox_relay_[a-z_]+ ", line), line
        continue
    m = re.match(r'^(sealbox_relay_[a-z_]+(\{class="[a-z_]+"\})?) ([0-9]+)$', line)
    assert m, "not a sample: " + line
    print(m.group(1), m.group(3))
PY
}
val() { awk -v k="$1" '$1 == k { print $2 }' "$T/m"; }
# expect NAME VALUE: the last scrape says so.
expect() { [ "$(val "$1")" = "$2" ] || fail "$1 is '$(val "$1")', wanted $2"; }

scrape >"$T/m" || fail "scrape failed"
expect sealbox_relay_messages_accepted_total 0
expect sealbox_relay_connections 0
expect sealbox_relay_queue_depth 0
expect sealbox_relay_devices 0
[ "$(grep -c '^sealbox_relay_errors_total{class=' "$T/m")" -eq 16 ] || fail "error classes: $(grep errors "$T/m")"

new_device alice alice@example.com >/dev/null
"$RELAY_CLIENT" keygen --keys "$T/bob" >/dev/null
code=$("$SEALBOX_RELAY" invite --data "$RDATA" bob@example.com)
bobname='bob "the \ laptop"'
rc register --keys "$T/bob" --address bob@example.com --code "$code" --name "$bobname" ||
	fail "register bob"
b=$(dev_id bob)

note "a send to bob while he is offline: accepted, queued"
m=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m" --text hi | has accepted || fail "send"
scrape >"$T/m"
expect sealbox_relay_messages_accepted_total 1
expect sealbox_relay_queue_depth 1
expect sealbox_relay_devices 2
expect sealbox_relay_messages_pushed_total 0

note "bob online: pushed, acknowledged, the queue empty, one device authenticated"
rc recv --keys "$T/bob" --count 2 --timeout 30 --ack --ready-file "$T/bob.ready" >"$T/bob.out" 2>&1 &
recv=$!
on_exit "kill $recv"
wait_until 10 grep -q "^push .*msg=$m " "$T/bob.out" || fail "bob got nothing: $(cat "$T/bob.out")"
wait_until 10 sh -c "'$SEALBOX_RELAY' devices --data '$RDATA' bob@example.com | awk 'NR == 2 { exit \$4 != 0 }'" ||
	fail "bob's item was not acknowledged"
scrape >"$T/m"
expect sealbox_relay_messages_pushed_total 1
expect sealbox_relay_messages_acked_total 1
expect sealbox_relay_queue_depth 0
expect sealbox_relay_connections 1
expect sealbox_relay_authenticated_devices 1

note "a blob"
head -c 100000 /dev/urandom >"$T/blob"
rc blob-put --keys "$T/alice" "$T/blob" >/dev/null 2>&1 || fail "blob-put"
scrape >"$T/m"
expect sealbox_relay_blob_bytes_stored 100000
expect sealbox_relay_blobs_stored 1
expect sealbox_relay_blob_bytes_uploaded_total 100000

note "errors by class"
"$RELAY_CLIENT" keygen --keys "$T/eve" >/dev/null
expect_rc 43 rc auth-as --keys "$T/eve" --device "$b"
expect_rc 46 rc send-raw --keys "$T/alice" --to bob@example.com --msgid "$(new_msgid)" \
	--devices 999 >/dev/null 2>&1
rc garbage --text badtype >/dev/null 2>&1 || true
python3 -c "import socket; s = socket.create_connection(('127.0.0.1', $RPORT)); s.sendall(b'GET / HTTP/1.0\r\n\r\n' * 20); s.recv(100); s.close()" 2>/dev/null || true
wait_until 10 grep -q '"reason":"tls: ' "$RLOG" || fail "no tls close logged"
scrape >"$T/m"
expect 'sealbox_relay_errors_total{class="auth"}' 1
expect 'sealbox_relay_errors_total{class="stale"}' 1
expect 'sealbox_relay_errors_total{class="protocol"}' 1
expect 'sealbox_relay_errors_total{class="tls"}' 1
expect 'sealbox_relay_errors_total{class="quota"}' 0
[ "$(val sealbox_relay_connections_accepted_total)" -ge 8 ] || fail "connections accepted: $(val sealbox_relay_connections_accepted_total)"

note "only GET /metrics"
# status METHOD PATH: the HTTP status the endpoint answers.
status() {
	python3 - "$MPORT" "$1" "$2" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request(sys.argv[2], sys.argv[3])
print(c.getresponse().status)
PY
}
[ "$(status GET /other)" = 404 ] || fail "/other answered $(status GET /other)"
[ "$(status HEAD /metrics)" = 200 ] || fail "HEAD answered $(status HEAD /metrics)"
st=$(status POST /metrics)
[ "$st" = 405 ] || [ "$st" = 501 ] || fail "POST answered $st"
kill "$recv" 2>/dev/null; wait "$recv" 2>/dev/null || true
relay_stop

note "every log line is one JSON object; bob's name comes back exactly"
python3 - "$RLOG" "$bobname" "$b" <<'PY' || fail "JSON log check failed"
import json, sys
log, name, dev = sys.argv[1], sys.argv[2], int(sys.argv[3])
events = []
for n, line in enumerate(open(log, encoding="ascii"), 1):
    obj = json.loads(line)
    assert isinstance(obj, dict) and set(obj) >= {"time", "event"}, (n, line)
    events.append(obj)
reg = [e for e in events if e["event"] == "register" and e.get("device") == dev]
assert len(reg) == 1, reg
assert reg[0]["name"] == name and reg[0]["address"] == "bob@example.com", reg[0]
assert any(e["event"] == "send accepted" and e["devices"] == 1 for e in events)
assert any(e["event"] == "ack" and e["device"] == dev and e["detail"] == "deleted" for e in events)
assert any(e["event"].startswith("listening on 127.0.0.1:") and e["clock"] == "real" and
           isinstance(e["max_unauth_per_ip"], int) for e in events)
assert any(e["event"].startswith("metrics on http://127.0.0.1:") for e in events)
PY

note "the same name in a text log is escaped"
: >"$RLOG"
relay_start
"$RELAY_CLIENT" keygen --keys "$T/bob2" >/dev/null
code=$("$SEALBOX_RELAY" invite --data "$RDATA" bob@example.com)
rc register --keys "$T/bob2" --address bob@example.com --code "$code" --name "$bobname" >/dev/null ||
	fail "register bob2"
grep -qF " device=$(dev_id bob2) address=bob@example.com name=\"bob \\\"the \\\\ laptop\\\"\" suite=" \
	"$RLOG" || fail "text register line: $(grep register "$RLOG")"
relay_stop
exit 0
