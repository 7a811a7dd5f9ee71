#!/usr/bin/env bash
# A recipient's device set changes under a sender that already knows it:
# bob enrolls a second device after alice sent him a message; alice's next
# message reaches both of bob's devices (the relay refuses the stale set,
# the agent refreshes and re-encrypts), and its status counts both.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob1 bob@example.com
mb_mount alice
mb_mount bob1
A=$(mb_mnt alice)
O="$A/outbox/bob@example.com"
mkdir "$O"
printf 'to one device\n' >"$O/one.txt"
wait_for_file 30 "$(mb_mnt bob1)/inbox/alice@example.com" "$(mb_inbox_re one.txt)" >/dev/null
wait_status 30 "$O/one.txt" '^delivered 1/1$'

note "bob enrolls a second device"
mb_device bob2 bob@example.com --suite ec
mb_mount bob2
printf 'to both devices\n' >"$O/two.txt"
for d in bob1 bob2; do
	g=$(wait_for_file 30 "$(mb_mnt $d)/inbox/alice@example.com" "$(mb_inbox_re two.txt)")
	[ "$(cat "$g")" = "to both devices" ] || fail "$d read '$(cat "$g")'"
done
wait_status 30 "$O/two.txt" '^delivered 2/2$'
note "relay: $(grep -c "send stale" "$RLOG" || true) stale refusal(s)"
mb_finish
