#!/usr/bin/env bash
# The man pages docs/man/sealbox.1 and docs/man/sealbox-relay.8 (issue 17):
#   - `mandoc -Tlint -W style` reports nothing, with both pages on the
#     search path (other packages' pages may be absent from the machine:
#     only "referenced manual not found" for those is let through);
#   - `man -l` renders both with no warning from groff;
#   - they cover what the programs say today: every command of
#     `sealbox --help`, every option of each `sealbox CMD --help` and of
#     `sealbox-relay --help`, every errno fs/errno.c can answer, every
#     user.sealbox.* attribute the agent serves, every key of the home's
#     config and of the relay.conf that `sealbox-relay init` writes, the
#     home's files, the environment, exit statuses 0, 1 and 2;
#   - --version on both programs prints the Makefile's VERSION, exit 0.
source "$(cd "$(dirname "$0")/../.." && pwd)/tests/lib/common.sh"

command -v mandoc >/dev/null || fail "mandoc not installed (scripts/deps.sh)"
command -v man >/dev/null || fail "man not installed (scripts/deps.sh)"
one=$SB_TOP/docs/man/sealbox.1
eight=$SB_TOP/docs/man/sealbox-relay.8
[ -f "$one" ] && [ -f "$eight" ] || fail "docs/man/sealbox.1 or sealbox-relay.8 missing"

# ---- lint and render -------------------------------------------------------
# Both pages on the search path (with their database), so each one's
# reference to the other resolves as it will once installed.
mkdir -p "$T/man/man1" "$T/man/man8"
cp "$one" "$T/man/man1/"
cp "$eight" "$T/man/man8/"
makewhatis "$T/man" || fail "makewhatis $T/man failed"
for page in "$one" "$eight"; do
	# Lint messages name FILE:LINE:COL; other lines are about the system's
	# own man database (mandoc.db), not about this page.  A page of another
	# package may be missing on a machine without man pages: only that is
	# let through.
	rc=0
	out=$(mandoc -Tlint -W style -M "$T/man:/usr/share/man" "$page" 2>&1) || rc=$?
	msgs=$(printf '%s\n' "$out" | grep -F "$page:" |
		grep -vE 'STYLE: referenced manual not found: Xr [a-z0-9.-]+ [1-8]( \([0-9]+ times\))?$' ||
		true)
	note "mandoc -Tlint -W style $(basename "$page"): exit $rc${msgs:+: $msgs}"
	[ -z "$msgs" ] || fail "mandoc -Tlint $(basename "$page"): $msgs"
	! grep -qE 'referenced manual not found: Xr (sealbox 1|sealbox-relay 8)' <<<"$out" ||
		fail "mandoc -Tlint $(basename "$page"): the other sealbox page is not found: $out"
	err=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$T/$(basename "$page").txt") ||
		fail "man -l $page failed: $err"
	[ -z "$err" ] || fail "man -l $(basename "$page") warns: $err"
	[ "$(wc -l <"$T/$(basename "$page").txt")" -gt 100 ] || fail "man -l $page rendered almost nothing"
done
grep -q '^NAME' "$T/sealbox.1.txt" || fail "sealbox.1 rendered without NAME"

# has_flag PAGE OPT: PAGE documents OPT (".Fl -home", ".Fl o", "Fl -code-file").
has_flag() {
	local f=${2#-}
	grep -qE "(^\.| )Fl ${f//./\\.}( |$)" "$1"
}

# ---- sealbox ---------------------------------------------------------------
cmds=$("$SEALBOX" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ -n "$cmds" ] || fail "sealbox --help lists no commands"
for c in $cmds; do
	grep -qE "^\.(It )?Cm $c( |$)" "$one" || fail "sealbox.1 lacks the command $c"
	# Every option in `sealbox C --help`: --long ones and single letters,
	# from the usage lines and from the start of the lines that describe an
	# option ("  -h, --help   this help": not the words after it).
	usage=$("$SEALBOX" "$c" --help | awk '
		/^usage:/ || /^ +\[/ { print; next }
		/^ +-/ { sub(/^ +/, ""); sub(/  .*/, ""); print }') ||
		fail "sealbox $c --help failed"
	[ -n "$usage" ] || fail "sealbox $c --help printed no usage"
	for opt in $(grep -oE '(^|[[ |])--?[a-zA-Z][a-zA-Z-]*' <<<"$usage" | grep -oE -- '--?[a-zA-Z-]+' | sort -u); do
		has_flag "$one" "$opt" || fail "sealbox.1 lacks '$opt' of sealbox $c"
	done
done
has_flag "$one" --version && has_flag "$one" --help || fail "sealbox.1 lacks --help / --version"

# errnos: every one fs_errno() can return, and DESIGN.md 3's.
errnos=$(grep -oE 'return E[A-Z]+' "$SB_TOP/fs/errno.c" | awk '{ print $2 }' | sort -u)
for e in $errnos EBADMSG ENOKEY ENXIO EROFS EPERM EFBIG EACCES; do
	grep -qE "(Er|,) $e( |,|$)" "$one" || fail "sealbox.1 lacks the errno $e"
done

for x in $(grep -rhoE '"user\.sealbox\.[a-z]+"' "$SB_TOP/agent" | tr -d '"' | sort -u); do
	grep -qE "Li $x$" "$one" || fail "sealbox.1 lacks the attribute $x"
done

# The home's config keys (agent/config.c's key table) and files.
keys=$(sed -n '/key_names\[K_COUNT\] = {/,/};/p' "$SB_TOP/agent/config.c" | grep -oE '"[a-z_]+"' | tr -d '"')
[ -n "$keys" ] || fail "no config keys found in agent/config.c"
for k in $keys; do
	grep -qE "Li .*\<$k\>" "$one" || fail "sealbox.1 lacks the config key $k"
done
for f in config contacts.vcf store.db data/ mount.log mount.lock; do
	grep -qE "^\.It Pa ${f//./\\.}$" "$one" || fail "sealbox.1 FILES lacks $f"
done
for v in SEALBOX_HOME XDG_DATA_HOME NOTIFY_SOCKET; do
	grep -q "^\.It Ev $v$" "$one" || fail "sealbox.1 ENVIRONMENT lacks $v"
done
for s in 0 1 2; do
	grep -q "^\.It $s$" "$one" || fail "sealbox.1 EXIT STATUS lacks $s"
	grep -q "^\.It $s$" "$eight" || fail "sealbox-relay.8 EXIT STATUS lacks $s"
done

# ---- sealbox-relay ---------------------------------------------------------
rusage=$("$SEALBOX_RELAY" --help) || fail "sealbox-relay --help exited $?"
for c in $(awk '{ for (i = 1; i <= NF; i++) if ($i == "sealbox-relay" && $(i+1) ~ /^[a-z]/) print $(i+1) }' <<<"$rusage" | sort -u); do
	grep -qE "^\.(It )?Cm $c( |$)" "$eight" || fail "sealbox-relay.8 lacks the command $c"
	# Each command's own --help, where it has one, lists its options.
	"$SEALBOX_RELAY" "$c" --help >>"$T/relay-help" 2>&1 || true
done
for opt in $(cat <(echo "$rusage") "$T/relay-help" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
	has_flag "$eight" "$opt" || fail "sealbox-relay.8 lacks '$opt'"
done
# relay.conf: every key `init` writes.
"$SEALBOX_RELAY" init --data "$T/relay" --listen 127.0.0.1:1 >/dev/null || fail "relay init"
rkeys=$(awk -F' *= *' '!/^#/ && NF == 2 { print $1 }' "$T/relay/relay.conf")
[ "$(wc -w <<<"$rkeys")" -ge 14 ] || fail "relay.conf has only: $rkeys"
for k in $rkeys; do
	grep -qE "^\.It Li .*\<$k\>" "$eight" || fail "sealbox-relay.8 lacks the relay.conf key $k"
done
for f in relay.conf relay.db blobs/ tls/key.pem tls/cert.pem; do
	[ -e "$T/relay/$f" ] || fail "relay init made no $f"
	grep -qE "^\.It Pa ${f//./\\.}$" "$eight" || fail "sealbox-relay.8 FILES lacks $f"
done

# ---- --version ---------------------------------------------------------------
version=$(awk '$1 == "VERSION" && $2 == "=" { print $3 }' "$SB_TOP/Makefile")
[ -n "$version" ] || fail "no VERSION in the Makefile"
[ "$("$SEALBOX" --version)" = "sealbox $version" ] || fail "sealbox --version: $("$SEALBOX" --version)"
[ "$("$SEALBOX_RELAY" --version)" = "sealbox-relay $version" ] ||
	fail "sealbox-relay --version: $("$SEALBOX_RELAY" --version)"
exit 0
