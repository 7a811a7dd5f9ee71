#!/usr/bin/env bash
# `make install` (issue 17 "Runs like a service"), with a custom PREFIX into
# a temporary DESTDIR, installs exactly:
#   PREFIX/bin/sealbox, sealbox-relay, sealbox-with-keyring        0755
#   PREFIX/lib/systemd/user/sealbox-mount@.service                 0644
#   PREFIX/lib/systemd/system/sealbox-relay.service                0644
#   PREFIX/lib/sysusers.d/sealbox-relay.conf                       0644
#   PREFIX/share/man/man1/sealbox.1, man8/sealbox-relay.8          0644
# with the units' ExecStart rewritten to PREFIX/bin (and nothing else of
# them changed); the installed programs run (--version prints the
# Makefile's VERSION), the installed keyring wrapper starts a keyring, `man`
# finds the installed pages by name, and the installed units pass
# `systemd-analyze verify` (binaries looked up under DESTDIR).  Without
# PREFIX the prefix is /usr/local.
source "$(cd "$(dirname "$0")/../.." && pwd)/tests/lib/common.sh"
umask 022   # the folder modes below are what a packager's umask gives

[ -x "$SEALBOX_RELAY" ] || fail "$SEALBOX_RELAY not built"
prefix=/opt/sealbox-test
dest=$T/dest
root=$dest$prefix
build=$(realpath --relative-to="$SB_TOP" "$SB_BUILD")

# -o all: install what is built; never rebuild it from inside a test.  No
# MAKEFLAGS: under `make check` the outer make's jobserver and variables
# would leak in.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$SB_TOP" --no-print-directory -o all BUILD="$build" \
	PREFIX="$prefix" DESTDIR="$dest" install >"$T/install.log" 2>&1 ||
	fail "make install failed: $(tail -5 "$T/install.log")"

expected="$prefix/bin/sealbox 755
$prefix/bin/sealbox-relay 755
$prefix/bin/sealbox-with-keyring 755
$prefix/lib/systemd/system/sealbox-relay.service 644
$prefix/lib/systemd/user/sealbox-mount@.service 644
$prefix/lib/sysusers.d/sealbox-relay.conf 644
$prefix/share/man/man1/sealbox.1 644
$prefix/share/man/man8/sealbox-relay.8 644"
got=$(cd "$dest" && find . -type f -printf '/%P %m\n' | sort)
[ "$got" = "$(sort <<<"$expected")" ] ||
	fail "installed files differ: got
$got
wanted
$expected"
# Nothing but directories besides (no symlinks, no stray files), all 0755.
[ -z "$(cd "$dest" && find . ! -type f ! -type d)" ] || fail "not a file or folder: $(find "$dest" ! -type f ! -type d)"
bad=$(find "$dest" -type d ! -perm 0755) && [ -z "$bad" ] || fail "folders not 0755: $bad"

cmp "$SEALBOX" "$root/bin/sealbox" || fail "installed sealbox is not the built one"
cmp "$SEALBOX_RELAY" "$root/bin/sealbox-relay" || fail "installed sealbox-relay is not the built one"
cmp "$SB_TOP/scripts/with-keyring" "$root/bin/sealbox-with-keyring" || fail "installed wrapper differs"
cmp "$SB_TOP/docs/man/sealbox.1" "$root/share/man/man1/sealbox.1" || fail "sealbox.1 differs"
cmp "$SB_TOP/docs/man/sealbox-relay.8" "$root/share/man/man8/sealbox-relay.8" || fail "sealbox-relay.8 differs"
cmp "$SB_TOP/scripts/systemd/sealbox-relay.sysusers" "$root/lib/sysusers.d/sealbox-relay.conf" ||
	fail "sysusers.d entry differs"

# The installed programs run.
version=$(awk '$1 == "VERSION" && $2 == "=" { print $3 }' "$SB_TOP/Makefile")
[ "$("$root/bin/sealbox" --version)" = "sealbox $version" ] || fail "installed sealbox --version"
[ "$("$root/bin/sealbox-relay" --version)" = "sealbox-relay $version" ] ||
	fail "installed sealbox-relay --version"
"$root/bin/sealbox" --help | grep -q '^  mount ' || fail "installed sealbox --help lists no mount"
out=$(cd / && timeout 60 "$root/bin/sealbox-with-keyring" sh -c 'echo "bus=$SEALBOX_WITH_KEYRING_BUS"') ||
	fail "installed sealbox-with-keyring failed: $out"
[[ "$out" == bus=unix:* ]] || fail "installed sealbox-with-keyring gave no bus: $out"

# Units: ExecStart (and every other path to our programs) under PREFIX/bin,
# the rest as in scripts/systemd/.
user_unit=$root/lib/systemd/user/sealbox-mount@.service
sys_unit=$root/lib/systemd/system/sealbox-relay.service
grep -qx "ExecStart=$prefix/bin/sealbox mount -f %f" "$user_unit" ||
	fail "user unit ExecStart: $(grep ExecStart= "$user_unit")"
grep -qx "ExecStart=$prefix/bin/sealbox-relay serve --data /var/lib/sealbox-relay" "$sys_unit" ||
	fail "relay unit ExecStart: $(grep ExecStart= "$sys_unit")"
! grep -q /usr/local/bin "$user_unit" "$sys_unit" || fail "/usr/local/bin left in an installed unit"
diff <(sed "s|$prefix/bin/|/usr/local/bin/|g" "$user_unit") "$SB_TOP/scripts/systemd/sealbox-mount@.service" >/dev/null ||
	fail "installed user unit differs beyond its paths"
diff <(sed "s|$prefix/bin/|/usr/local/bin/|g" "$sys_unit") "$SB_TOP/scripts/systemd/sealbox-relay.service" >/dev/null ||
	fail "installed relay unit differs beyond its paths"

# systemd-analyze verify on the installed units, their programs looked up
# under DESTDIR and Documentation=man: in the installed man folder.
mkdir -p "$T/verify" "$T/rt"
chmod 700 "$T/rt"
sed "s|$prefix/bin/|$root/bin/|g" "$user_unit" >"$T/verify/sealbox-mount@.service"
sed "s|$prefix/bin/|$root/bin/|g" "$sys_unit" >"$T/verify/sealbox-relay.service"
for args in "./sealbox-relay.service" "--user ./sealbox-mount@home-alice-mail.service"; do
	# shellcheck disable=SC2086  # two words on purpose
	out=$(cd "$T/verify" && MANPATH="$root/share/man" XDG_RUNTIME_DIR="$T/rt" \
		systemd-analyze verify $args 2>&1) || fail "systemd-analyze verify $args: $out"
	[ -z "$out" ] || fail "systemd-analyze verify $args warns: $out"
done

# man finds the installed pages by name.
MANWIDTH=80 man -M "$root/share/man" 1 sealbox 2>/dev/null | grep -q 'sealbox init' ||
	fail "man -M PREFIX/share/man 1 sealbox did not show the page"
MANWIDTH=80 man -M "$root/share/man" 8 sealbox-relay 2>/dev/null | grep -q 'sealbox-relay init' ||
	fail "man -M PREFIX/share/man 8 sealbox-relay did not show the page"

# The default PREFIX is /usr/local (a dry run: nothing is written).
dry=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$SB_TOP" --no-print-directory -n -o all BUILD="$build" DESTDIR="$T/d2" install 2>&1) ||
	fail "make -n install: $dry"
grep -q "$SB_BUILD/sealbox $T/d2/usr/local/bin/sealbox\$\|$build/sealbox $T/d2/usr/local/bin/sealbox\$" <<<"$dry" ||
	fail "default PREFIX is not /usr/local: $(grep -m1 'bin/sealbox$' <<<"$dry")"
[ ! -e "$T/d2" ] || fail "make -n install wrote $T/d2"
exit 0
