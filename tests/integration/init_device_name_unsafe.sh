#!/usr/bin/env bash
# Issue 12, finding 8 (the client's side): a device name is shown to other
# people, so
#   - `sealbox init --device-name` refuses a name holding a bidi override
#     (U+202E), a C1 control, an invisible format character or bytes that
#     are not UTF-8: exit 2, one line naming the offender, before the relay
#     is contacted (no registration, no home, the code still unused);
#   - `sealbox devices` escapes whatever name the relay serves (here one
#     planted in the relay's database, as a relay that does not check, or an
#     older one, would serve it): \u{202E}, \u{0085}, \x1B, \xFF appear, the
#     raw bytes never reach the terminal.
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] ||
	exec "$(dirname "$0")/../../scripts/with-keyring" bash "$0" "$@"
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start
code=$("$SEALBOX_RELAY" invite --data "$RDATA" alice@example.com) || fail "invite"
init() {   # init NAME: alice's device into $T/home, the code on stdin
	"$SEALBOX" init --home "$T/home" --address alice@example.com \
		--relay "127.0.0.1:$RPORT" --fingerprint "$FP" --device-name "$1" <<<"$code"
}

note "init refuses names that could disguise themselves"
expect_fail 2 '^sealbox: init: --device-name holds U\+202E at offset 5: control and invisible format characters could disguise the name$' \
	init $'phone\u202egnp.exe'
expect_fail 2 'holds U\+0085 at offset 1' init $'a\u0085b'
expect_fail 2 'holds U\+200B at offset 3' init $'lap\u200btop'
expect_fail 2 'holds U\+FEFF at offset 0' init $'\ufefflaptop'
expect_fail 2 '^sealbox: init: --device-name is not UTF-8 \(byte 0xFF at offset 3\)$' init $'lap\xfftop'
expect_fail 2 '^sealbox: init: --device-name is not UTF-8 \(byte 0xC3 at offset 3\)$' init $'caf\xc3'
[ ! -e "$T/home" ] || fail "a refused name created the home"
if grep -q 'register ' "$RLOG"; then fail "a refused name reached the relay"; fi

note "ordinary names, accents and emoji included, still work"
out=$(init $'Jos\u00e9\'s \U0001F4F1' 2>&1) || fail "init with a plain UTF-8 name: $out"
list=$("$SEALBOX" devices --home "$T/home") || fail "devices: $list"
grep -qF $'Jos\u00e9\'s \U0001F4F1' <<<"$list" || fail "devices printed '$list'"

note "devices escapes a hostile name the relay serves"
id=$(awk -F' *= *' '$1 == "device_id" { print $2 }' "$T/home/config")
relay_stop
# RLO "gnp.exe", NEL, ESC "[2J", a lone 0xFF, a backslash.
python3 - "$RDATA/relay.db" "$id" <<'PY' || fail "could not plant the name"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
name = b"ph\xe2\x80\xaegnp.exe\xc2\x85\x1b[2J\xff\\"
n = con.execute("UPDATE devices SET name = CAST(? AS TEXT) WHERE id = ?",
                (name, int(sys.argv[2]))).rowcount
con.commit()
sys.exit(0 if n == 1 else 1)
PY
relay_start
"$SEALBOX" devices --home "$T/home" >"$T/devices.out" || fail "devices with a hostile name failed"
python3 - "$T/devices.out" <<'PY' || fail "devices printed: $(od -c "$T/devices.out" | head -5)"
import sys
out = open(sys.argv[1], "rb").read()
want = b"ph\\u{202E}gnp.exe\\u{0085}\\x1B[2J\\xFF\\\\"
bad = [b for b in (b"\xe2\x80\xae", b"\xc2\x85", b"\x1b", b"\xff") if b in out]
if want not in out or bad:
    sys.exit("want %r, raw %r in %r" % (want, bad, out))
out.decode("utf-8")   # valid UTF-8 as a whole
PY
[ "$(wc -l <"$T/devices.out")" -eq 1 ] || fail "one device, one line: $(cat "$T/devices.out")"
relay_stop
