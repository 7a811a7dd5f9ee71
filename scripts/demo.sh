#!/usr/bin/env bash
# The README's demo.  Usage: scripts/demo.sh BUILD_DIR
# Shows the offline codec end to end on throwaway keys in a temp dir, and
# cleans up after itself.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$top/${1:-build}" && pwd)
sb="$build/sealbox"
d=$(mktemp -d /tmp/sealbox-demo.XXXXXX)
trap 'rm -rf "$d"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "keys for alice (suite pair, RSA-2048) and bob (suite ec)"
"$sb" keygen --suite pair --out "$d/alice"
"$sb" keygen --suite ec --out "$d/bob"
ls -l "$d/alice" "$d/bob"

say "alice seals a message for bob's device"
printf 'Hello Bob, this is Alice.\n' >"$d/msg.txt"
"$sb" seal --sign-key "$d/alice/sign.pem" --sender "$d/alice/identity.der" \
	--recipient "$d/bob/identity.der" --in "$d/msg.txt" --out "$d/msg.sealed"
echo "payload: $(stat -c %s "$d/msg.sealed") bytes"
xxd "$d/msg.sealed" | head -4

say "bob opens it (signature, key unwrap, decryption, 40-bit tag)"
"$sb" open --encrypt-key "$d/bob/encrypt.pem" --recipient "$d/bob/identity.der" \
	--sender "$d/alice/identity.der" --in "$d/msg.sealed"

say "bob seals a reply for alice's RSA device"
printf 'Hi Alice!\n' | "$sb" seal --sign-key "$d/bob/sign.pem" --sender "$d/bob/identity.der" \
	--recipient "$d/alice/identity.der" >"$d/reply.sealed"
"$sb" open --encrypt-key "$d/alice/encrypt.pem" --recipient "$d/alice/identity.der" \
	--sender "$d/bob/identity.der" <"$d/reply.sealed"

say "one flipped byte: open refuses and writes nothing"
python3 - "$d/msg.sealed" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0x01
open(p, 'wb').write(bytes(b))
PY
if "$sb" open --encrypt-key "$d/bob/encrypt.pem" --recipient "$d/bob/identity.der" \
	--sender "$d/alice/identity.der" --in "$d/msg.sealed" --out "$d/tampered.txt"; then
	echo "demo: tampered payload was accepted" >&2
	exit 1
fi
[ ! -e "$d/tampered.txt" ] && echo "(no output file was created)"

say "demo finished"
