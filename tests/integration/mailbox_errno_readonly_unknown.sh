#!/usr/bin/env bash
# errno is the interface: writes of any kind under inbox/ are EROFS (EPERM
# accepted where DESIGN allows it: removing, renaming, truncating), and the
# message is unchanged afterwards; mkdir of an unknown recipient in the
# outbox is ENXIO, also for an address no device ever registered; nothing
# answers EIO.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_mount alice
mb_mount bob
A=$(mb_mnt alice) B=$(mb_mnt bob)
mkdir "$A/outbox/bob@example.com"
printf 'read only\n' >"$A/outbox/bob@example.com/ro.txt"
I="$B/inbox/alice@example.com"
g=$(wait_for_file 30 "$I" "$(mb_inbox_re ro.txt)")

note "EROFS under inbox/"
expect_errno() {
	local want=$1 got
	shift
	got=$(mb_errno "$@")
	[[ "$got" =~ ^($want)$ ]] || fail "$1 $2: $got, wanted $want"
	note "$1 $(basename "$2"): $got"
}
expect_errno EROFS create "$I/new.txt"
expect_errno EROFS create "$B/inbox/new.txt"
expect_errno EROFS write "$g"
expect_errno EROFS append "$g"
expect_errno 'EROFS|EPERM' truncate "$g"
expect_errno 'EROFS|EPERM' rename "$g" "$I/renamed.txt"
expect_errno 'EROFS|EPERM' mkdir "$B/inbox/newfolder"
expect_errno 'EROFS|EPERM' mkdir "$I/sub"
expect_errno 'EROFS|EPERM' rmdir "$I"
if (echo x >"$I/shell.txt") 2>"$T/sh.err"; then fail "shell redirect into inbox succeeded"; fi
grep -q "Read-only file system" "$T/sh.err" || fail "shell says: $(cat "$T/sh.err")"
[ "$(cat "$g")" = "read only" ] || fail "the message changed"
[ "$(ls "$I" | wc -l)" -eq 1 ] || fail "inbox changed: $(ls "$I")"

note "ENXIO for unknown recipients"
expect_errno ENXIO mkdir "$A/outbox/unknown@example.com"
expect_errno ENXIO mkdir "$A/outbox/+15550000000"
expect_errno ENXIO mkdir "$A/outbox/nobody"
[ ! -e "$A/outbox/unknown@example.com" ] || fail "refused folder is listed"
[ "$(ls "$A/outbox")" = bob@example.com ] || fail "outbox folders: $(ls "$A/outbox")"
if grep -qiE 'EIO|Input/output' "$(mb_log alice)" "$(mb_log bob)"; then
	fail "an op answered EIO: $(grep -iE 'EIO|Input/output' "$(mb_log alice)" "$(mb_log bob)" | head -3)"
fi
mb_finish
