#!/usr/bin/env bash
# Nothing lost, nothing doubled across crashes: a file closed in the outbox
# is durable before close returns, so an agent killed with -9 right after
# the close (relay down, or relay up and the send possibly in flight)
# sends it after its restart, and bob gets it exactly once (the same
# message id is re-submitted); a receiver killed with -9 right after a
# message appeared shows it once after its restart.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob

note "relay down; close; kill -9; relay up; restart: sent once"
relay_stop
printf 'survived a crash\n' >"$O/crash1.txt"
mb_kill9 alice
relay_start
mb_mount alice
[ "$(cat "$O/crash1.txt")" = "survived a crash" ] || fail "spooled file lost by the crash"
g=$(wait_for_file 40 "$I" "$(mb_inbox_re crash1.txt)")
[ "$(cat "$g")" = "survived a crash" ] || fail "bob read '$(cat "$g")'"
wait_status 30 "$O/crash1.txt" '^delivered 1/1$'

note "relay up; close; kill -9 at once; restart: sent once"
mb_data 200000 5 >"$T/crash2.bin"
cp "$T/crash2.bin" "$O/crash2.bin"
mb_kill9 alice
mb_mount alice
g=$(wait_for_file 40 "$I" "$(mb_inbox_re crash2.bin)")
cmp "$g" "$T/crash2.bin" || fail "crash2.bin differs"
wait_status 30 "$O/crash2.bin" '^delivered 1/1$'

note "bob killed -9 right after a message appeared: once after restart"
printf 'third\n' >"$O/crash3.txt"
wait_for_file 30 "$I" "$(mb_inbox_re crash3.txt)" >/dev/null
mb_kill9 bob
mb_mount bob
wait_queue_empty 30 bob
g=$(wait_for_file 15 "$I" "$(mb_inbox_re crash3.txt)")
[ "$(cat "$g")" = third ] || fail "bob read '$(cat "$g")' after his restart"

note "exactly once each"
sleep 2
for f in crash1.txt crash2.bin crash3.txt; do
	n=$(mb_count "$I" "$(mb_inbox_re "$f")")
	[ "$n" -eq 1 ] || fail "$f is in bob's inbox $n times: $(ls "$I")"
done
[ "$(ls "$I" | wc -l)" -eq 3 ] || fail "bob's inbox: $(ls "$I")"
[ "$(mb_sent_count alice)" -eq 3 ] || fail "relay accepted $(mb_sent_count alice) message ids, wanted 3"
[ "$(ls "$O" | wc -l)" -eq 3 ] || fail "alice's outbox after two crashes: $(ls "$O")"
mb_finish
