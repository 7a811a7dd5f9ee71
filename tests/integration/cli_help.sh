#!/usr/bin/env bash
# --help on every subcommand (issue 17): `sealbox CMD --help` and
# `sealbox-relay CMD --help` (and -h) print that command's usage on stdout
# with exit 0: every option of its synopsis on a line of its own, and no
# other command's options (nor the relay's test-only clock); init says what
# --suite means, the home's help says where contacts.vcf lives.  Exit
# statuses: 0 ok, 1 failure, 2 usage, the same in both binaries; --version
# on both.
source "$(dirname "$0")/../lib/common.sh"

export SEALBOX_HOME="$T/home"

# check_help PROGRAM CMD: the help's checks; prints the help.
check_help() {
	local prog=$1 cmd=$2 rc=0 out opt name
	name=$(basename "$prog")
	for flag in --help -h; do
		rc=0
		out=$("$prog" "$cmd" "$flag" 2>"$T/err") || rc=$?
		[ "$rc" -eq 0 ] || fail "$name $cmd $flag: exit $rc"
		[ ! -s "$T/err" ] || fail "$name $cmd $flag wrote to stderr: $(cat "$T/err")"
		[[ "$out" == "usage: $name $cmd"* ]] || fail "$name $cmd $flag: $(head -1 <<<"$out")"
	done
	# Every option of the synopsis (the lines before the first blank one)
	# has a line of its own that starts with it.
	for opt in $(sed '/^$/q' <<<"$out" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		grep -Eq -- "^ +(-[a-z], )?$opt( |$)" <<<"$out" ||
			fail "$name $cmd --help has no line for $opt"
	done
	grep -Eq -- '^ +-h, --help ' <<<"$out" || fail "$name $cmd --help does not list -h, --help"
	printf '%s\n' "$out"
}

cmds=$("$SEALBOX" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ "$(wc -w <<<"$cmds")" -ge 9 ] || fail "sealbox --help lists: $cmds"
grep -qw umount <<<"$cmds" || fail "sealbox --help does not list umount"
for c in $cmds; do
	[ "$c" = mount ] && continue        # libfuse's option parser: checked below
	help=$(check_help "$SEALBOX" "$c")
	case $c in
	init)
		grep -Eq -- '^  --suite pair\|ec +.*ec \(default\)' <<<"$help" || fail "init --suite line: $help"
		grep -q 'pair RSA-OAEP' <<<"$help" || fail "init --help does not say what pair is"
		;;
	esac
	case $c in init|devices|verify|status)
		grep -q 'contacts.vcf' <<<"$help" || fail "$c --help does not say where contacts.vcf is" ;;
	esac
	expect_fail 2 "^sealbox: $c: unknown option" "$SEALBOX" "$c" --bogus
done
rc=0
"$SEALBOX" mount --help >"$T/out" || rc=$?
[ "$rc" -eq 0 ] && grep -q '^usage: sealbox mount' "$T/out" || fail "mount --help: exit $rc"

note "sealbox-relay: each command's help lists only its own options"
h_init=$(check_help "$SEALBOX_RELAY" init)
h_serve=$(check_help "$SEALBOX_RELAY" serve)
h_invite=$(check_help "$SEALBOX_RELAY" invite)
! grep -q -- '--idle-timeout\|--sweep-interval' <<<"$h_init" || fail "init --help shows serve's options"
! grep -q -- '--inline-limit\|--retention-days\|--blob-max' <<<"$h_serve" || fail "serve --help shows init's options"
! grep -q -- '--listen\|--idle-timeout\|--inline-limit' <<<"$h_invite" || fail "invite --help shows other options"
rcmds=$("$SEALBOX_RELAY" --help | awk '{ for (i = 1; i <= NF; i++) if ($i == "sealbox-relay" && $(i+1) ~ /^[a-z]/) print $(i+1) }' | sort -u)
for c in devices remove-device remove-address backup restore rotate-cert; do
	grep -qx "$c" <<<"$rcmds" || fail "sealbox-relay --help does not list $c"
	h=$(check_help "$SEALBOX_RELAY" "$c")
	! grep -q -- '--listen\|--idle-timeout\|--inline-limit' <<<"$h" || fail "$c --help shows other options"
done
# Another command's option is refused as unknown, not silently taken.
expect_fail 2 '^sealbox-relay: invite: unknown option' "$SEALBOX_RELAY" invite --data "$T/r" \
	--listen 127.0.0.1:1 a@example.com
expect_fail 2 '^sealbox-relay: init: unknown option' "$SEALBOX_RELAY" init --data "$T/r" --idle-timeout 5
for h in "$h_init" "$h_serve" "$h_invite" "$("$SEALBOX_RELAY" --help)"; do
	! grep -qi 'test-clock\|test only' <<<"$h" || fail "a help shows the test-only clock"
done

note "exit statuses: 2 usage, 1 failure, in both binaries"
expect_fail 2 '^sealbox-relay: serve: unknown option' "$SEALBOX_RELAY" serve --bogus
expect_fail 2 '^sealbox-relay: init: --inline-limit must be 4096 or 16384$' \
	"$SEALBOX_RELAY" init --data "$T/r" --inline-limit 5
expect_fail 2 '^sealbox-relay: invite: --data DIR is required$' "$SEALBOX_RELAY" invite a@example.com
expect_fail 2 '^sealbox-relay: bogus: unknown command' "$SEALBOX_RELAY" bogus
expect_fail 1 '^sealbox-relay: serve: ' "$SEALBOX_RELAY" serve --data "$T/nothing-here"
expect_fail 2 '^sealbox: unknown command' "$SEALBOX" bogus
expect_fail 2 "^sealbox: devices: 'x' is not an e-mail address" "$SEALBOX" devices x
expect_fail 1 '^sealbox: status: ' "$SEALBOX" status

note "--version"
"$SEALBOX" --version | grep -Eqx 'sealbox [0-9]+\.[0-9]+\.[0-9]+.*' || fail "sealbox --version"
"$SEALBOX_RELAY" --version | grep -Eqx 'sealbox-relay [0-9]+\.[0-9]+\.[0-9]+.*' || fail "sealbox-relay --version"
