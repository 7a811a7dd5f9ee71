#!/usr/bin/env bash
# Bad command lines for every command of sealbox and sealbox-relay: missing,
# extra, unknown and garbage arguments (very long, control characters,
# bytes that are not UTF-8, out-of-range numbers, files that are not what
# they should be).  Each must end with a non-zero exit status that is not a
# signal, exactly one line on stderr, nothing on stdout, and nothing left
# behind in the home.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"

H="$T/home"
export SEALBOX_HOME="$H"
LONG=$(head -c 5000 /dev/zero | tr '\0' a)
NL=$'bob\n@example.com'
BIN=$'\xff\xfe\x80'
printf 'garbage, not a key\n' >"$T/junk"
head -c 200 /dev/zero | tr '\0' 7 >"$T/longcode"
: >"$T/empty"
mkdir -p "$T/dir" "$T/mnt"
"$SEALBOX" keygen --suite ec --out "$T/k" >/dev/null || fail "keygen for the fixtures"
n=0 bad=0

# one STDIN_FILE PROGRAM ARGS...: the checks above for one command line.
one() {
	local in=$1 rc=0 out err
	shift
	n=$((n + 1))
	out=$(timeout 20 "$@" <"$in" 2>"$T/err") || rc=$?
	err=$(cat "$T/err")
	local why=
	if [ "$rc" -eq 0 ]; then why="exit 0"
	elif [ "$rc" -ge 124 ]; then why="exit $rc (signal or timeout)"
	elif [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || [ -z "$err" ]; then
		why="$(printf '%s\n' "$err" | wc -l) lines on stderr"
	elif [ -n "$out" ]; then why="output on stdout"
	elif grep -qE "Sanitizer|runtime error" "$T/err"; then why="sanitizer report"
	fi
	if [ -n "$why" ]; then
		bad=$((bad + 1))
		printf 'BAD (%s): %q\n  stderr: %s\n' "$why" "$*" "$(head -c 400 "$T/err")" >&2
	fi
}
sb() { one /dev/null "$SEALBOX" "$@"; }
sr() { one /dev/null "$SEALBOX_RELAY" "$@"; }

# The bare programs print their usage (several lines) and fail.
for prog in "$SEALBOX" "$SEALBOX_RELAY"; do
	n=$((n + 1))
	rc=0
	"$prog" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	[ "$rc" -gt 0 ] && [ "$rc" -lt 124 ] && [ ! -s "$T/out" ] && grep -q "^usage:" "$T/err" || {
		bad=$((bad + 1))
		echo "BAD: bare $prog: exit $rc, stderr $(head -c 200 "$T/err")" >&2
	}
done

sb bogus
sb ''
sb "$LONG"
sb "$BIN"
sb --home

# init
sb init
sb init --bogus
sb init extra
sb init --address
sb init --address "$LONG" --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)"
sb init --address "$NL" --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)"
sb init --address "$BIN" --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)"
sb init --address a@example.com --relay 127.0.0.1:99999 --fingerprint "$(printf '%064d' 0)"
sb init --address a@example.com --relay nonsense --fingerprint "$(printf '%064d' 0)"
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint zz
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" --suite rsa
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" --device-name "$NL"
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" --device-name "$LONG"
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)"
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" extra
# the enrollment code: never in argv, only from a private file or stdin
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" --code x
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" --code
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" --code-file "$T/nonexistent"
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" --code-file "$T/junk"
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" --code-file "$T/dir"
one "$T/junk" "$SEALBOX" init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)"
one "$T/longcode" "$SEALBOX" init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)"
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" --device-name "$BIN"
sb init --address a@example.com --relay 127.0.0.1:1 --fingerprint "$(printf '%064d' 0)" --device-name $'evil\u202egnp.exe'

# mount
sb mount
sb mount --bogus
sb mount "$T/mnt" extra
sb mount "$T/nonexistent"
sb mount "$T/junk"
sb mount "$T/mnt" -o
sb mount "$T/mnt" -o "$LONG"

# status, devices, verify (no device here)
sb status --bogus
sb status extra
sb status
sb devices
sb devices --bogus
sb devices "$NL"
sb devices "$BIN"
sb devices "$LONG"
sb devices a@example.com extra
sb verify
sb verify --bogus
sb verify "$NL"
sb verify a@example.com extra
sb verify a@example.com

# keygen
sb keygen
sb keygen --bogus
sb keygen --out
sb keygen --suite foo --out "$T/k1"
sb keygen --suite pair --bits 12 --out "$T/k2"
sb keygen --suite pair --bits 99999999999999999999999 --out "$T/k3"
sb keygen --suite pair --bits -2048 --out "$T/k4"
sb keygen --out "$T/k"
sb keygen --out "$T/junk/x"
sb keygen --out "$T/k5" extra

# seal and open
sb seal
sb seal --bogus
sb seal --sign-key "$T/junk" --sender "$T/k/identity.der" --recipient "$T/k/identity.der" --in "$T/empty"
sb seal --sign-key "$T/k/sign.pem" --sender "$T/junk" --recipient "$T/k/identity.der" --in "$T/empty"
sb seal --sign-key "$T/k/sign.pem" --sender "$T/k/identity.der" --recipient "$T/empty" --in "$T/empty"
sb seal --sign-key "$T/nonexistent" --sender "$T/k/identity.der" --recipient "$T/k/identity.der"
sb seal --sign-key "$T/k/sign.pem" --sender "$T/k/identity.der" --recipient "$T/k/identity.der" --in "$T/dir"
sb open
sb open --bogus
sb open --encrypt-key "$T/k/encrypt.pem" --recipient "$T/k/identity.der" --sender "$T/k/identity.der" --in "$T/junk"
sb open --encrypt-key "$T/k/encrypt.pem" --recipient "$T/k/identity.der" --sender "$T/k/identity.der" --in "$T/empty"
sb open --encrypt-key "$T/k/sign.pem" --recipient "$T/k/identity.der" --sender "$T/k/identity.der" --in "$T/junk"
sb open --encrypt-key "$T/junk" --recipient "$T/k/identity.der" --sender "$T/k/identity.der" --in "$T/junk"
one "$T/junk" "$SEALBOX" open --encrypt-key "$T/k/encrypt.pem" --recipient "$T/k/identity.der" --sender "$T/k/identity.der"

# sealbox-relay
sr bogus
sr init
sr init --data
sr init --data "$T/r1" --listen nonsense
sr init --data "$T/r1" --inline-limit 5
sr init --data "$T/r1" --retention-days 0
sr init --data "$T/r1" --blob-max -1
sr init --data "$T/r1" extra
sr init --data "$T/junk/r"
sr serve
sr serve --data "$T/nonexistent"
sr serve --data "$T/dir"
sr serve --data "$T/dir" --idle-timeout 0
sr serve --data "$T/dir" --idle-timeout 99999999999999999999
sr invite
sr invite --data "$T/dir" a@example.com
sr invite --data "$T/dir"
sr invite --data "$T/dir" "$NL"

[ ! -e "$H" ] || [ -z "$(ls -A "$H" 2>/dev/null)" ] ||
	fail "a failed command left files in the home: $(ls -A "$H" | tr '\n' ' ')"
[ ! -e "$T/r1" ] || fail "a refused relay init left $T/r1"
note "$n command lines, $bad bad"
[ "$bad" -eq 0 ] || fail "$bad of $n bad command lines were not one clean error line"
