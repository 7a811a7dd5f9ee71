#!/usr/bin/env bash
# The relay restarted with messages queued: what it accepted for an offline
# bob survives its restart; what alice writes while it is down is closed
# fine, stays "queued", and goes out by itself when the relay is back (the
# agent reconnects with backoff), delivered once.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_mount alice
A=$(mb_mnt alice) B=$(mb_mnt bob)
I="$B/inbox/alice@example.com"
mkdir "$A/outbox/bob@example.com"

note "queued at the relay for offline bob, then the relay restarts"
printf 'survives\n' >"$A/outbox/bob@example.com/queued.txt"
wait_status 30 "$A/outbox/bob@example.com/queued.txt" '^(sent|delivered 0/1)$'
relay_stop
relay_start
mb_mount bob
g=$(wait_for_file 30 "$I" "$(mb_inbox_re queued.txt)")
[ "$(cat "$g")" = survives ] || fail "bob read '$(cat "$g")'"

note "relay down while alice writes"
relay_stop
printf 'written offline\n' >"$A/outbox/bob@example.com/offline.txt" ||
	fail "close failed while the relay is down"
wait_status 10 "$A/outbox/bob@example.com/offline.txt" '^queued: relay unreachable, retrying$'
[ "$(cat "$A/outbox/bob@example.com/offline.txt")" = "written offline" ] || fail "readback while down"
sleep 1
relay_start
g=$(wait_for_file 40 "$I" "$(mb_inbox_re offline.txt)")
[ "$(cat "$g")" = "written offline" ] || fail "bob read '$(cat "$g")'"
wait_status 30 "$A/outbox/bob@example.com/offline.txt" '^delivered 1/1$'
sleep 1
[ "$(mb_count "$I" "$(mb_inbox_re offline.txt)")" -eq 1 ] || fail "offline.txt delivered more than once"
[ "$(mb_count "$I" "$(mb_inbox_re queued.txt)")" -eq 1 ] || fail "queued.txt delivered more than once"
[ "$(mb_sent_count alice)" -eq 2 ] || fail "relay accepted $(mb_sent_count alice) messages, wanted 2"
mb_finish
