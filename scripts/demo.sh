#!/usr/bin/env bash
# The README's demo.  Usage: scripts/demo.sh BUILD_DIR [mailbox|codec]
#
# mailbox (the default): a relay on 127.0.0.1, alice enrolled with two
# devices (laptop, phone) and bob with one, plus carol (enrolled, never
# online), all in a headless keyring (scripts/with-keyring); three mounts;
# a text, a multi-MiB attachment and a group message, shown arriving
# decrypted with ls, cat and getfattr; alice verifies bob by comparing
# codes, bob gets a new device, and alice's mailbox alerts (MNT/alerts,
# user.sealbox.trust) and holds her next message until she compares the
# new code.  It unmounts everything, stops the
# relay and removes its temp dir on any exit; nothing stays mounted.
#
# codec: the offline codec (keygen/seal/open) on throwaway keys.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-build} in
/*) build=$1 ;;
*) build=$(cd "$top/${1:-build}" && pwd) ;;
esac
mode=${2:-${SEALBOX_DEMO:-mailbox}}
sb="$build/sealbox"
relay="$build/sealbox-relay"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; }
# run CMD...: shows the command (sealbox as on a user's PATH), runs it.
run() {
	printf '\033[2m$ %s\033[0m\n' "$*"
	if [ "$1" = sealbox ]; then
		shift
		"$sb" "$@"
	else
		"$@"
	fi
}

codec_demo() {
	local d
	d=$(mktemp -d /tmp/sealbox-demo.XXXXXX)
	trap 'rm -rf "$d"' EXIT

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
}

# ---- the mailbox ----------------------------------------------------------

d= relay_pid=
declare -A pids=()

mb_cleanup() {
	local rc=$? name mnt i
	set +e
	for name in "${!pids[@]}"; do
		mnt="$d/$name/mnt"
		mountpoint -q "$mnt" && { fusermount3 -u "$mnt" || fusermount3 -uz "$mnt"; }
		for ((i = 0; i < 100; i++)); do
			kill -0 "${pids[$name]}" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "${pids[$name]}" 2>/dev/null
		wait "${pids[$name]}" 2>/dev/null
	done
	if [ -n "$relay_pid" ]; then
		kill -TERM "$relay_pid" 2>/dev/null
		wait "$relay_pid" 2>/dev/null
	fi
	if [ "$rc" -ne 0 ] && [ -n "$d" ]; then
		echo "demo failed; last log lines:" >&2
		tail -n 5 "$d"/*.log >&2 2>/dev/null
	fi
	[ -z "$d" ] || rm -rf "$d"
	exit "$rc"
}

# enroll NAME ADDRESS [init options]: a one-time code from the relay (it
# stands in for the SMS/e-mail proof), then `sealbox init`.
enroll() {
	local name=$1 address=$2 code
	shift 2
	code=$("$relay" invite --data "$d/relay" "$address")
	mkdir -p "$d/$name/mnt"
	# The code goes on stdin, never in a command line other users can read.
	show "printf '%s\\n' \"\$code\" |" sealbox init --home "$name/home" --address "$address" \
		--relay "127.0.0.1:$port" --fingerprint "${fp:0:16}..." --device-name "$name" "$@"
	printf '%s\n' "$code" | "$sb" init --home "$d/$name/home" --address "$address" \
		--relay "127.0.0.1:$port" --fingerprint "$fp" --device-name "$name" "$@"
}

# link NAME ADDRESS FIRST: a further device of ADDRESS, `sealbox init
# --link` (no invitation), approved on the account's device FIRST with the
# link code it prints (as its user would type it).
link() {
	local name=$1 address=$2 first=$3 i code=
	mkdir -p "$d/$name/mnt"
	show sealbox init --link --home "$name/home" --address "$address" \
		--relay "127.0.0.1:$port" --fingerprint "${fp:0:16}..." --device-name "$name" "&"
	"$sb" init --link --home "$d/$name/home" --address "$address" \
		--relay "127.0.0.1:$port" --fingerprint "$fp" --device-name "$name" >"$d/$name.link" 2>&1 &
	local pid=$!
	pids[$name-link]=$pid
	for ((i = 0; i < 200; i++)); do
		code=$(sed -n 's/^link code: //p' "$d/$name.link")
		[ -z "$code" ] || break
		sleep 0.05
	done
	[ -n "$code" ] || { echo "demo: no link code: $(cat "$d/$name.link")" >&2; return 1; }
	sed -n '1,2p' "$d/$name.link"
	run sealbox devices approve "$code" --home "$first/home"
	wait "$pid" || { echo "demo: init --link failed: $(cat "$d/$name.link")" >&2; return 1; }
	unset "pids[$name-link]"
	tail -1 "$d/$name.link"
}

# mount NAME: `sealbox mount -f` in the background, ready when outbox/ lists.
mount_box() {
	local mnt="$d/$1/mnt" i
	show "sealbox mount $1/mnt -f --home $1/home 2>$1.log &"
	"$sb" mount "$mnt" -f --home "$d/$1/home" 2>"$d/$1.log" &
	pids[$1]=$!
	for ((i = 0; i < 200; i++)); do
		mountpoint -q "$mnt" && ls "$mnt/outbox" >/dev/null 2>&1 && return 0
		kill -0 "${pids[$1]}" 2>/dev/null || break
		sleep 0.05
	done
	echo "demo: mount of $1 failed: $(tail -3 "$d/$1.log")" >&2
	return 1
}

# wait_for DIR GLOB: the first file matching, within 60 s.
wait_for() {
	local i f
	for ((i = 0; i < 600; i++)); do
		for f in "$1"/$2; do
			[ -e "$f" ] && { echo "$f"; return 0; }
		done
		sleep 0.1
	done
	echo "demo: nothing like $1/$2 arrived" >&2
	return 1
}

wait_status() {
	local i st
	for ((i = 0; i < 300; i++)); do
		st=$(getfattr --only-values -n user.sealbox.status "$1" 2>/dev/null || true)
		[[ "$st" =~ $2 ]] && return 0
		sleep 0.1
	done
	return 0
}

mailbox_demo() {
	local start A1 A2 B f got
	start=$(date +%s)
	d=$(mktemp -d /tmp/sealbox-demo.XXXXXX)
	trap mb_cleanup EXIT

	say "a relay on loopback (directory, push queues, blob store)"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
	fp=$("$relay" init --data "$d/relay" --listen "127.0.0.1:$port")
	echo "certificate fingerprint (pinned by every device): $fp"
	"$relay" serve --data "$d/relay" 2>"$d/relay.log" &
	relay_pid=$!
	for ((i = 0; i < 200; i++)); do
		grep -q "listening on" "$d/relay.log" 2>/dev/null && break
		sleep 0.05
	done

	say "enroll alice (laptop + phone), bob, carol: keys go into the keyring"
	cd "$d"
	enroll alice-laptop alice@example.com --suite pair
	echo "(alice's phone joins her account: no invitation; her laptop approves its code)"
	link alice-phone alice@example.com alice-laptop
	enroll bob bob@example.com
	enroll carol carol@example.com
	echo "(carol stays offline: the relay queues her messages)"

	say "three mailboxes mounted"
	mount_box alice-laptop
	mount_box alice-phone
	mount_box bob
	A1=alice-laptop/mnt A2=alice-phone/mnt B=bob/mnt

	say "alice (laptop) writes a text to bob"
	run mkdir "$A1/outbox/bob@example.com"
	printf 'Hello Bob, this is Alice.\n' >"$A1/outbox/bob@example.com/hello.txt"
	echo "\$ echo 'Hello Bob, this is Alice.' > outbox/bob@example.com/hello.txt"
	got=$(wait_for "$B/inbox/alice@example.com" '*-hello.txt')
	wait_status "$A1/outbox/bob@example.com/hello.txt" '^delivered'
	run getfattr --absolute-names -n user.sealbox.status "$A1/outbox/bob@example.com/hello.txt"
	say "bob's inbox"
	run ls -l "$B/inbox/alice@example.com"
	run cat "$got"
	run getfattr --absolute-names -d "$got"

	say "alice sends a 6 MiB attachment (AES-256-CTR blob, key sealed per device)"
	head -c $((6 * 1024 * 1024)) /dev/urandom >photo.jpg
	run cp photo.jpg "$A1/outbox/bob@example.com/photo.jpg"
	got=$(wait_for "$B/inbox/alice@example.com" '*-photo.jpg')
	wait_status "$A1/outbox/bob@example.com/photo.jpg" '^delivered'
	run ls -l "$B/inbox/alice@example.com"
	run sha256sum photo.jpg "$got"
	run getfattr --absolute-names -n user.sealbox.status "$A1/outbox/bob@example.com/photo.jpg"

	say "a group message from bob to alice and carol"
	run mkdir "$B/outbox/alice@example.com,carol@example.com"
	printf 'Dinner at eight?\n' >"$B/outbox/alice@example.com,carol@example.com/plan.txt"
	echo "\$ echo 'Dinner at eight?' > 'outbox/alice@example.com,carol@example.com/plan.txt'"
	got=$(wait_for "$A1/inbox/bob@example.com" '*-plan.txt')
	got2=$(wait_for "$A2/inbox/bob@example.com" '*-plan.txt')
	wait_status "$B/outbox/alice@example.com,carol@example.com/plan.txt" '^delivered 2/'
	run cat "$got"
	run cat "$got2"
	run getfattr --absolute-names -n user.sealbox.status "$B/outbox/alice@example.com,carol@example.com/plan.txt"
	echo "(2 of alice's devices have it; carol's device gets it when it comes online)"

	say "alice's phone shows what her laptop sent (synced copies)"
	wait_for "$A2/outbox/bob@example.com" 'photo.jpg' >/dev/null
	run ls -l "$A2/outbox/bob@example.com"
	run cat "$A2/outbox/bob@example.com/hello.txt"

	say "alice verifies bob: each reads the code out to the other"
	run sealbox verify --home bob/home alice@example.com
	code=$("$sb" verify --home bob/home alice@example.com | sed -n '2,4p')
	run sealbox verify --home alice-laptop/home bob@example.com --confirm "$code"
	run getfattr --absolute-names -n user.sealbox.trust "$A1/outbox/bob@example.com"

	say "bob gets a new device (his own approves it): alice's mailbox alerts and holds her next message"
	link bob-tablet bob@example.com bob
	printf 'Are you still you?\n' >"$A1/outbox/bob@example.com/later.txt"
	echo "\$ echo 'Are you still you?' > outbox/bob@example.com/later.txt"
	wait_status "$A1/outbox/bob@example.com/later.txt" '^held'
	run getfattr --absolute-names -n user.sealbox.status "$A1/outbox/bob@example.com/later.txt"
	run cat "$A1/alerts"
	run getfattr --absolute-names -n user.sealbox.trust "$A1/outbox/bob@example.com"
	show "sealbox status --home alice-laptop/home | grep -E '^(alert|held):'"
	"$sb" status --home alice-laptop/home | grep -E '^(alert|held):' || true

	say "they compare the new code: the message goes out"
	code=$("$sb" verify --home bob/home alice@example.com | sed -n '2,4p')
	run sealbox verify --home alice-laptop/home bob@example.com --confirm "$code"
	wait_status "$A1/outbox/bob@example.com/later.txt" '^(sent|delivered)'
	wait_for "$B/inbox/alice@example.com" '*-later.txt' >/dev/null
	run getfattr --absolute-names -n user.sealbox.status "$A1/outbox/bob@example.com/later.txt"
	run getfattr --absolute-names -n user.sealbox.trust "$A1/outbox/bob@example.com"

	say "nothing plaintext at rest (bob's home holds ciphertext only)"
	run ls -l bob/home bob/home/data
	if grep -rqa "Hello Bob" bob/home alice-laptop/home; then
		echo "demo: plaintext found in a home" >&2
		exit 1
	fi
	echo "\$ grep -ra 'Hello Bob' bob/home alice-laptop/home: no match"

	say "unmount"
	for f in alice-laptop alice-phone bob; do
		run fusermount3 -u "$f/mnt"
		wait "${pids[$f]}"
		unset "pids[$f]"
	done
	if grep -q " $d/" /proc/self/mounts; then
		echo "demo: something is still mounted" >&2
		exit 1
	fi
	echo "nothing left mounted"
	say "demo finished in $(( $(date +%s) - start )) s"
}

case $mode in
codec)
	codec_demo
	;;
mailbox)
	# The keyring is private to this run: re-run inside with-keyring.
	if [ -z "${SEALBOX_WITH_KEYRING_BUS:-}" ]; then
		exec "$top/scripts/with-keyring" bash "$0" "$1" mailbox
	fi
	mailbox_demo
	;;
*)
	echo "usage: $0 BUILD_DIR [mailbox|codec]" >&2
	exit 2
	;;
esac
