# relay.sh - sourced by tests/integration/relay_*.sh after tests/lib/common.sh.
#
# Starts the real sealbox-relay on 127.0.0.1 on a free port with its data in
# $T/relay, and drives devices through the test helper relay_client (built
# from tests/helpers/relay_client.c on the client library).
#
#   relay_init [init options]   -> $RDATA, $RPORT, $FP (the pinned fingerprint)
#   relay_start [serve options] -> $RPID; log in $RLOG; stopped on exit
#   relay_stop                  -> SIGTERM, wait; fails unless it exits 0
#   new_device DIR ADDRESS      -> keys in $T/DIR, invited and registered
#   rc CMD [options]            -> relay_client CMD --relay .. --fp ..
#   cs [options]                -> cosender --relay .. --fp .. (another user's
#                                  device sending real sealed messages:
#                                  tests/helpers/cosender.c)
#   relay_vmhwm_kb              -> the relay's peak RSS so far (kB)
#   relay_swap_identity DEV FILE [unlogged]
#                               -> as whoever runs the relay: device DEV's
#                                  identity in relay.db becomes FILE's bytes
#                                  (the relay is stopped and started again),
#                                  with a "change" entry appended to the
#                                  transparency log as PROTOCOL 14.3 spells it
#                                  (an operator who logs what it does, so
#                                  answers stay consistent and the change is
#                                  public); `unlogged`: the database edit alone
#   mb_sql SQL [ARGS...]        -> a read-only query on the relay's database
#   log_hostile_start ATTACK    -> stops the relay and serves $RDATA on the same
#                                  port with tests/helpers/hostile_relay
#                                  --log-attack ATTACK (MODE:ADDRESS[:FILE], the
#                                  log's lies: tests/helpers/hostile_log.h);
#                                  $HPID, its log in $HLOG; HOSTILE= overrides
#                                  the program
#   log_hostile_stop            -> SIGTERM, wait (exit 0), $HLOG emptied
#   log_refused STATUS WHY CMD... -> CMD (a relay_client command) exits STATUS
#                                  (64 log proof, 65 fork) and says
#                                  "relay_client: log: WHY"; stderr in $T/err

RELAY_CLIENT="$SB_BUILD/tests/helpers/relay_client"
[ -x "$RELAY_CLIENT" ] || fail "$RELAY_CLIENT not built (run make)"
COSENDER="$SB_BUILD/tests/helpers/cosender"
[ -x "$COSENDER" ] || fail "$COSENDER not built (run make)"
[ -x "$SEALBOX_RELAY" ] || fail "$SEALBOX_RELAY not built (run make)"
RLOG="$T/relay.log"
RPID=

relay_init() {
	RDATA="$T/relay"
	RPORT=$(free_port)
	FP=$("$SEALBOX_RELAY" init --data "$RDATA" --listen "127.0.0.1:$RPORT" "$@") ||
		fail "relay init failed"
	[[ "$FP" =~ ^[0-9a-f]{64}$ ]] || fail "init printed '$FP', not a SHA-256 fingerprint"
}

relay_start() {
	local before
	before=$(grep -c "listening on" "$RLOG" 2>/dev/null || true)
	"$SEALBOX_RELAY" serve --data "$RDATA" "$@" 2>>"$RLOG" &
	RPID=$!
	on_exit "kill -9 $RPID"
	_listening() { [ "$(grep -c "listening on" "$RLOG" 2>/dev/null || true)" -gt "${before:-0}" ]; }
	wait_until $((10 * ${MB_SLOW:-1})) _listening || fail "relay did not start: $(tail -3 "$RLOG")"
}

relay_stop() {
	local st=0
	[ -n "$RPID" ] || return 0
	kill -TERM "$RPID" 2>/dev/null || true
	wait "$RPID" || st=$?
	RPID=
	[ "$st" -eq 0 ] || fail "relay exited with status $st"
	if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$RLOG"; then
		fail "sanitizer report in relay log"
	fi
}

relay_swap_identity() {
	relay_stop
	python3 - "$RDATA/relay.db" "$1" "$2" "${3:-logged}" <<'PY' || fail "could not swap device $1's identity"
import hashlib, sqlite3, struct, sys, time
con = sqlite3.connect(sys.argv[1])
dev, new = int(sys.argv[2]), open(sys.argv[3], "rb").read()
row = con.execute("SELECT address FROM devices WHERE id = ?", (dev,)).fetchone()
if row is None:
    sys.exit(1)
if sys.argv[4] == "logged":
    a = hashlib.sha256(b"sealbox-log address v1\x00" + row[0].encode()).digest()
    seq = con.execute("SELECT coalesce(max(seq) + 1, 0) FROM log WHERE addr = ?", (a,)).fetchone()[0]
    idx = con.execute("SELECT coalesce(max(idx) + 1, 0) FROM log").fetchone()[0]
    entry = (struct.pack(">BB", 1, 2) + a + struct.pack(">IQQH", seq, dev, int(time.time()), len(new))
             + new + struct.pack(">QB", 0, 0))
    con.execute("INSERT INTO log(idx, addr, seq, entry, leaf) VALUES (?, ?, ?, ?, ?)",
                (idx, a, seq, entry, hashlib.sha256(b"\x00" + entry).digest()))
con.execute("UPDATE devices SET identity = ? WHERE id = ?", (new, dev))
con.commit()
PY
	relay_start
}

relay_vmhwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$RPID/status"
}

rc() {
	local cmd=$1
	shift
	"$RELAY_CLIENT" "$cmd" --relay "127.0.0.1:$RPORT" --fp "$FP" "$@"
}

cs() { "$COSENDER" --relay "127.0.0.1:$RPORT" --fp "$FP" "$@"; }

new_device() {
	local dir=$1 address=$2 code
	"$RELAY_CLIENT" keygen --keys "$T/$dir" >/dev/null || fail "keygen $dir"
	code=$("$SEALBOX_RELAY" invite --data "$RDATA" "$address") || fail "invite $address"
	rc register --keys "$T/$dir" --address "$address" --code "$code" --name "$dir" ||
		fail "register $dir"
}

dev_id() { cat "$T/$1/device_id"; }

# expect_rc WANT CMD...: CMD must exit with status WANT.
expect_rc() {
	local want=$1 st=0
	shift
	"$@" || st=$?
	[ "$st" -eq "$want" ] || fail "exit $st, wanted $want: $*"
}

# A fresh random 16-byte message id in hex.
new_msgid() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# has PATTERN: stdin matches PATTERN.  Reads all of stdin first, so the
# writer never dies of SIGPIPE (which pipefail would count as a failure).
has() {
	local in
	in=$(cat)
	grep -q -- "$1" <<<"$in"
}

# mb_sql SQL [ARGS...]: one read-only query on the relay's SQLite database
# (WAL: safe while the relay runs); prints rows, columns separated by '|'.
mb_sql() {
	python3 - "$RDATA" "$@" <<'PY'
import sqlite3, sys
data, sql, args = sys.argv[1], sys.argv[2], sys.argv[3:]
con = sqlite3.connect("file:%s/relay.db?mode=ro" % data, uri=True, timeout=10)
for row in con.execute(sql, args):
    print("|".join("" if v is None else (v.hex() if isinstance(v, bytes) else str(v)) for v in row))
PY
}

HOSTILE=${HOSTILE:-$SB_BUILD/tests/helpers/hostile_relay}
HLOG="$T/hostile.log"
HPID=

log_hostile_start() {
	[ -x "$HOSTILE" ] || fail "$HOSTILE not built (run make)"
	relay_stop
	"$HOSTILE" --data "$RDATA" --seed 1 --max-inject 0 --log-attack "$1" 2>>"$HLOG" &
	HPID=$!
	on_exit "kill -9 $HPID"
	_hl() { grep -q "listening on" "$HLOG"; }
	wait_until $((10 * ${MB_SLOW:-1})) _hl || fail "hostile relay did not start: $(tail -3 "$HLOG")"
}

log_hostile_stop() {
	local st=0
	kill -TERM "$HPID"
	wait "$HPID" || st=$?
	[ "$st" -eq 0 ] || fail "hostile relay exited $st"
	if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$HLOG"; then
		fail "sanitizer report in the hostile relay's log"
	fi
	HPID=
	: >"$HLOG"
}

log_refused() {
	local st_want=$1 want=$2 st=0
	shift 2
	"$@" >"$T/out" 2>"$T/err" || st=$?
	[ "$st" -eq "$st_want" ] || fail "exit $st, wanted $st_want: $* ($(cat "$T/out" "$T/err"))"
	grep -qxF "relay_client: log: $want" "$T/err" || fail "reason: $(cat "$T/err")"
}
