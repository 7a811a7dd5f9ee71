#!/usr/bin/env bash
# codec_cli: the offline codec end to end - keygen -> seal -> open for both
# suites, and every way `open` must fail: its exit status, its one-line
# reason, and that it leaves no output file (or an existing one unchanged).
# Failure payloads come from the CLI itself and from the independent
# vectors in tests/vectors/ (keys there use the keygen layout).
. "$(dirname "$0")/../lib/common.sh"

V="$SB_TOP/tests/vectors"
cd "$T"

# --- keygen ----------------------------------------------------------------
"$SEALBOX" keygen --suite pair --bits 1280 --out alice >alice.hash
"$SEALBOX" keygen --suite ec --out bob >/dev/null
"$SEALBOX" keygen --suite pair --bits 1280 --out carol >/dev/null
"$SEALBOX" keygen --out dave >/dev/null                       # default: pair, 2048
[[ "$(cat alice.hash)" =~ ^[0-9a-f]{64}$ ]] || fail "keygen did not print H(identity)"
for d in alice bob carol dave; do
	[ "$(stat -c %a $d/sign.pem)" = 600 ] || fail "$d/sign.pem not 0600"
	[ "$(stat -c %a $d/encrypt.pem)" = 600 ] || fail "$d/encrypt.pem not 0600"
	grep -q -- '-----BEGIN PRIVATE KEY-----' $d/encrypt.pem || fail "$d/encrypt.pem not PKCS#8 PEM"
	[ -s $d/identity.der ] || fail "$d/identity.der missing"
done
[ "$(openssl pkey -in dave/encrypt.pem -noout -text | head -1)" = "Private-Key: (2048 bit, 2 primes)" ] ||
	fail "default RSA size is not 2048"
[ "$(openssl pkey -in bob/encrypt.pem -noout -text | grep -c 'prime256v1')" = 1 ] ||
	fail "ec encrypt key is not P-256"

before=$(sha256sum alice/sign.pem)
expect_fail 1 'alice/sign.pem exists; refusing to overwrite' "$SEALBOX" keygen --out alice
[ "$before" = "$(sha256sum alice/sign.pem)" ] || fail "keygen touched an existing key"
expect_fail 2 'bits applies to suite pair only' "$SEALBOX" keygen --suite ec --bits 2048 --out x
expect_fail 2 'bits must be 1280..4096' "$SEALBOX" keygen --bits 1024 --out x
expect_fail 2 'suite must be pair or ec' "$SEALBOX" keygen --suite dsa --out x
[ ! -e x ] || fail "a refused keygen created its directory"
"$SEALBOX" keygen --help | grep -q 'usage: sealbox keygen' || fail "keygen --help"
"$SEALBOX" seal --help | grep -q 'usage: sealbox seal' || fail "seal --help"
"$SEALBOX" open --help | grep -q 'usage: sealbox open' || fail "open --help"

# --- round trips -------------------------------------------------------------
seal() { "$SEALBOX" seal --sign-key "$1/sign.pem" --sender "$1/identity.der" --recipient "$2/identity.der" "${@:3}"; }
unseal() { "$SEALBOX" open --encrypt-key "$2/encrypt.pem" --recipient "$2/identity.der" --sender "$1/identity.der" "${@:3}"; }

head -c 60000 /dev/urandom >big.txt
printf 'hello, world\n' >small.txt
: >empty.txt
for pair in "alice bob" "bob alice" "alice carol" "bob bob" "carol dave"; do
	set -- $pair
	for f in small.txt empty.txt big.txt; do
		seal "$1" "$2" --in $f --out p.bin
		unseal "$1" "$2" --in p.bin --out out.txt
		cmp -s $f out.txt || fail "$1 -> $2: $f did not round-trip"
		rm -f out.txt
	done
	# stdin -> stdout
	seal "$1" "$2" <small.txt | unseal "$1" "$2" >out.txt
	cmp -s small.txt out.txt || fail "$1 -> $2: stdin/stdout round trip"
done
[ "$(head -c1 p.bin | xxd -p)" = 02 ] || fail "pair payload does not start with 0x02"
seal alice bob --in small.txt --out ec.bin
[ "$(head -c1 ec.bin | xxd -p)" = 03 ] || fail "ec payload does not start with 0x03"
head -c 70000 /dev/urandom >huge.txt
expect_fail 1 'larger than one payload holds' seal alice bob --in huge.txt --out h.bin
[ ! -e h.bin ] || fail "a refused seal wrote output"
expect_fail 1 'sign key carol/sign.pem does not match the sender identity' \
	"$SEALBOX" seal --sign-key carol/sign.pem --sender alice/identity.der --recipient bob/identity.der --in small.txt
expect_fail 2 'required' "$SEALBOX" seal --sign-key alice/sign.pem

# --- open failures -----------------------------------------------------------
# open_fails REASON_REGEX ARGS...: exit 1, one line, and no output file in a
# fresh directory; an existing --out file keeps its contents.
open_fails() {
	local want=$1
	shift
	rm -rf o && mkdir o
	expect_fail 1 "^sealbox: open: .*$want" "$SEALBOX" open "$@" --out o/plain.txt
	[ -z "$(ls -A o)" ] || fail "failed open left files: $(ls -A o)"
	echo keep >o/plain.txt
	expect_fail 1 "$want" "$SEALBOX" open "$@" --out o/plain.txt
	[ "$(cat o/plain.txt)" = keep ] || fail "failed open changed an existing output"
	[ "$(ls -A o)" = plain.txt ] || fail "failed open left a temporary file"
	# stdout too stays empty
	[ -z "$("$SEALBOX" open "$@" 2>/dev/null)" ] || fail "failed open wrote to stdout"
}
mutate() { python3 -c "import sys; p=open(sys.argv[1],'rb').read(); open(sys.argv[2],'wb').write($3)" "$1" "$2"; }

seal alice carol --in small.txt --out good.bin
A=(--encrypt-key carol/encrypt.pem --recipient carol/identity.der --sender alice/identity.der)
unseal alice carol --in good.bin >/dev/null

mutate good.bin bad.bin 'bytes([0x03]) + p[1:]'
open_fails 'bad header' "${A[@]}" --in bad.bin
mutate good.bin bad.bin 'p[:-1]'
open_fails 'truncated' "${A[@]}" --in bad.bin
: >bad.bin
open_fails 'truncated' "${A[@]}" --in bad.bin
mutate good.bin bad.bin 'p + b"\0"'
open_fails 'trailing bytes' "${A[@]}" --in bad.bin
mutate good.bin bad.bin 'p[:3 + int.from_bytes(p[1:3], "big")] + b"\0"'
open_fails 'bad lengths' "${A[@]}" --in bad.bin
mutate good.bin bad.bin 'p[:10] + bytes([p[10] ^ 1]) + p[11:]'
open_fails 'signature does not verify' "${A[@]}" --in bad.bin
# Wrong sender identity.
open_fails 'signature does not verify' --encrypt-key carol/encrypt.pem \
	--recipient carol/identity.der --sender bob/identity.der --in good.bin
# Sealed for alice (same RSA size), opened by carol: OAEP fails.
seal bob alice --in small.txt --out for-alice.bin
open_fails 'does not unwrap \(OAEP' --encrypt-key carol/encrypt.pem \
	--recipient carol/identity.der --sender bob/identity.der --in for-alice.bin
# Recipient identity that is not the encrypt key's.
open_fails 'wrong recipient identity' --encrypt-key carol/encrypt.pem \
	--recipient alice/identity.der --sender alice/identity.der --in good.bin
# Carol's encryption key under a different signing key: the identity fits
# the key, but H(recipient) is not the one the sender bound into the tag.
python3 - carol/identity.der bob/identity.der mixed.der <<'PY'
import sys
c = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read()
# both start 30 81 LL 81 43 <67 bytes>; swap in bob's [1]
out = bytearray(c); out[3:3 + 69] = b[3:3 + 69]
open(sys.argv[3], 'wb').write(bytes(out))
PY
open_fails 'integrity tag mismatch' --encrypt-key carol/encrypt.pem \
	--recipient mixed.der --sender alice/identity.der --in good.bin
expect_fail 1 'sender identity .*: ' "$SEALBOX" open "${A[@]:0:4}" --sender small.txt --in good.bin
expect_fail 1 'encrypt key .*: key does not decode' "$SEALBOX" open --encrypt-key small.txt \
	--recipient carol/identity.der --sender alice/identity.der --in good.bin

# The independent vectors, opened through the CLI.
vec() {
	local f="$V/payload-$1"
	sed '1,/^$/d' "$f" | tr -d '\n' | xxd -r -p >vec.bin
	S=$(sed -n 's/^sender: //p' "$f")
	R=$(sed -n 's/^recipient: //p' "$f")
	VA=(--encrypt-key "$V/keys/$R/encrypt.pem" --recipient "$V/keys/$R/identity.der"
		--sender "$V/keys/$S/identity.der" --in vec.bin)
}
vec pair-1280-short
"$SEALBOX" open "${VA[@]}" | grep -qx 'hello, bob' || fail "vector pair-1280-short did not open"
vec ec-short
[ "$("$SEALBOX" open "${VA[@]}")" = 'hello, erin' ] || fail "vector ec-short did not open"
for v in pair-bad-tag:'integrity tag mismatch' ec-bad-tag:'integrity tag mismatch' \
	pair-oaep-sha256:'does not unwrap' ec-gcm-tag-flip:'does not unwrap' \
	pair-wrong-sender:'signature' pair-short-body:'bad lengths' \
	ec-bad-version:'bad header' pair-truncated:'truncated' ec-trailing:'trailing'; do
	vec "${v%%:*}"
	open_fails "${v#*:}" "${VA[@]}"
done
# What the CLI seals, the independent implementation opens (both suites,
# both sides of the 100-byte wrap boundary, the largest size).
head -c 100 big.txt >b100.txt
head -c 65438 /dev/urandom >ecmax.txt
for pair in "alice bob" "bob alice" "carol dave" "alice carol"; do
	set -- $pair
	for f in small.txt empty.txt b100.txt big.txt; do
		seal "$1" "$2" --in $f --out p.bin
		/usr/bin/python3 "$V/pyopen.py" "$2/encrypt.pem" "$2/identity.der" "$1/identity.der" \
			p.bin >py.txt || fail "pyopen: $1 -> $2 $f"
		cmp -s $f py.txt || fail "pyopen: $1 -> $2: $f differs"
	done
done
seal alice bob --in ecmax.txt --out p.bin
/usr/bin/python3 "$V/pyopen.py" bob/encrypt.pem bob/identity.der alice/identity.der p.bin >py.txt
cmp -s ecmax.txt py.txt || fail "pyopen: largest ec payload"
# ... and pyopen does check: a wrong sender fails it.
if /usr/bin/python3 "$V/pyopen.py" bob/encrypt.pem bob/identity.der carol/identity.der p.bin \
	>/dev/null 2>&1; then fail "pyopen accepted a wrong sender"; fi
echo "codec_cli: ok"
