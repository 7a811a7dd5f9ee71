#!/usr/bin/env bash
# A send the relay refuses for good shows "failed: REASON" in its status
# xattr and does not block the outbox: with the relay's blob store capped
# at 1 MiB, a 2 MiB attachment fails (never shown to bob), and a text
# written after it is still delivered.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay --blob-max 1048576
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_mount alice
mb_mount bob
A=$(mb_mnt alice) B=$(mb_mnt bob)
O="$A/outbox/bob@example.com" I="$B/inbox/alice@example.com"
mkdir "$O"
mb_data $((2 * 1024 * 1024)) 17 >"$T/huge.bin"
cp "$T/huge.bin" "$O/huge.bin"
wait_status 30 "$O/huge.bin" '^failed: .+'
note "huge.bin: $(mb_status "$O/huge.bin")"
cmp "$O/huge.bin" "$T/huge.bin" || fail "a failed file no longer reads back"
printf 'still works\n' >"$O/after.txt"
g=$(wait_for_file 30 "$I" "$(mb_inbox_re after.txt)")
[ "$(cat "$g")" = "still works" ] || fail "bob read '$(cat "$g")'"
wait_status 30 "$O/after.txt" '^delivered 1/1$'
[ "$(mb_count "$I" "$(mb_inbox_re huge.bin)")" -eq 0 ] || fail "the refused attachment appeared"
[[ "$(mb_status "$O/huge.bin")" =~ ^failed:\ .+ ]] || fail "huge.bin status changed to '$(mb_status "$O/huge.bin")'"
mb_finish
