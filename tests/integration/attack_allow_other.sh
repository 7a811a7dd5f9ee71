#!/usr/bin/env bash
# Another local user gets nothing from a mount made with -o allow_other
# (issue 12, finding 4).  It used to report the caller as the owner of
# everything, check no caller and not set default_permissions: `nobody`
# listed inbox/, read a private message and wrote into outbox/ a file that
# went out signed as the owner.  Now every node is the mounting user's with
# owner-only modes, the kernel checks them (default_permissions, always
# on), and every request from another uid is refused with EACCES by the
# filesystem itself (fs/guard.c; root is refused too unless -o allow_root,
# which tests/unit/test_fs_guard.c checks: a mount by root cannot show it).
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root: it runs requests as other users"
# Other users may walk to the mountpoints (the case's dir is 0700).
chmod 0711 "$T"
mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
chmod 0711 "$T/bob" "$T/alice"
mb_mount alice
mb_mount bob -o allow_other
A=$(mb_mnt alice) B=$(mb_mnt bob)
mkdir "$A/outbox/bob@example.com"
echo "for bob's eyes only" >"$A/outbox/bob@example.com/private.txt"
f=$(wait_for_file 20 "$B/inbox/alice@example.com" "$(mb_inbox_re private.txt)")
mkdir "$B/outbox/alice@example.com"
echo "bob's draft" >"$B/outbox/alice@example.com/draft.txt"
wait_status 20 "$B/outbox/alice@example.com/draft.txt" '^(sent|delivered .*)$'

# as UID CMD...: runs CMD as another user (no groups).
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
errno_as() {
	local u=$1
	shift
	as "$u" bash -c "$(declare -f mb_errno); mb_errno \"\$@\"" errno_as "$@"
}

for u in 65534 1000; do
	note "uid $u"
	for t in "stat $B/inbox" "stat $f" "read $f" "stat $B/outbox/alice@example.com" \
	         "read $B/outbox/alice@example.com/draft.txt" \
	         "create $B/outbox/alice@example.com/from-$u.txt" \
	         "mkdir $B/outbox/carol@example.com" "unlink $B/outbox/alice@example.com/draft.txt" \
	         "setxattr $B/outbox/alice@example.com/draft.txt"; do
		# shellcheck disable=SC2086
		got=$(errno_as "$u" $t)
		[ "$got" = EACCES ] || fail "uid $u: $t gave $got, wanted EACCES"
	done
	as "$u" ls "$B/inbox" >/dev/null 2>&1 && fail "uid $u listed bob's inbox"
	as "$u" ls "$B/maildir" >/dev/null 2>&1 && fail "uid $u listed bob's maildir view"
	as "$u" getfattr -n user.sealbox.status "$B/outbox/alice@example.com/draft.txt" >/dev/null 2>&1 &&
		fail "uid $u read an xattr"
	as "$u" cat "$f" >/dev/null 2>&1 && fail "uid $u read bob's message"
done
sleep 1
[ "$(ls "$B/outbox/alice@example.com")" = draft.txt ] || fail "bob's outbox changed: $(ls "$B/outbox/alice@example.com")"
[ "$(cat "$f")" = "for bob's eyes only" ] || fail "bob cannot read his own message"
[ "$(cat "$B/outbox/alice@example.com/draft.txt")" = "bob's draft" ] || fail "bob's draft changed"

note "owner and modes"
[ "$(stat -c '%u %g %a' "$B")" = "0 0 700" ] || fail "mount root: $(stat -c '%u %g %a' "$B")"
[ "$(stat -c '%u %a' "$B/inbox")" = "0 700" ] || fail "inbox: $(stat -c '%u %a' "$B/inbox")"
[ "$(stat -c '%u %a' "$B/maildir")" = "0 500" ] || fail "maildir: $(stat -c '%u %a' "$B/maildir")"
[ "$(stat -c '%u %a' "$f")" = "0 400" ] || fail "inbox file: $(stat -c '%u %a' "$f")"
[ "$(stat -c '%u %a' "$B/outbox/alice@example.com")" = "0 700" ] || fail "outbox folder: $(stat -c '%u %a' "$B/outbox/alice@example.com")"
[ "$(stat -c '%u %a' "$B/outbox/alice@example.com/draft.txt")" = "0 600" ] ||
	fail "outbox file: $(stat -c '%u %a' "$B/outbox/alice@example.com/draft.txt")"
grep -q 'default_permissions' /proc/mounts || fail "default_permissions is not set: $(grep "$B" /proc/mounts)"
mb_finish
