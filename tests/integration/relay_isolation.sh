#!/usr/bin/env bash
# A session acts only for the device whose key signed the challenge: it
# cannot authenticate as another device, read or acknowledge another
# device's queue, or remove a device of another address.  It may remove its
# own address's devices (their queues go with them).
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
new_device bob2 bob@example.com >/dev/null
new_device eve eve@example.com >/dev/null
b=$(dev_id bob); b2=$(dev_id bob2)

note "eve cannot authenticate as bob with her own key"
expect_rc 43 rc auth-as --keys "$T/eve" --device "$b"
grep -q "auth refused" "$RLOG" || fail "auth refusal not logged"

note "eve cannot acknowledge (delete) bob's message"
m=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m" --text secret >/dev/null
# queue item ids are small integers here: try every one that can exist
for i in 1 2 3 4; do
	expect_rc 44 rc ack --keys "$T/eve" "$i"
done
rc recv --keys "$T/eve" --count 0 --timeout 1 >/dev/null || fail "eve received bob's message"
rc recv --keys "$T/bob" --count 1 --timeout 10 | has "msg=$m .*payload=secret" ||
	fail "bob's message was lost"

note "eve cannot remove bob's devices; bob's status stays private"
expect_rc 49 rc remove --keys "$T/eve" "$b"
expect_rc 49 rc remove --keys "$T/eve" 424242
expect_rc 44 rc status --keys "$T/eve" --msgid "$m"
rc lookup --keys "$T/alice" bob@example.com | has " $b " || fail "bob's device vanished"

note "bob removes his second device; its queue goes with it"
rc status --keys "$T/alice" --msgid "$m" | has "^$b2 queued" || fail "bob2 queued"
rc remove --keys "$T/bob" "$b2"
! rc lookup --keys "$T/alice" bob@example.com | has " $b2 " || fail "bob2 still listed"
rc status --keys "$T/alice" --msgid "$m" | has "^$b2 removed" || fail "bob2 status"
expect_rc 43 rc recv --keys "$T/bob2" --count 0 --timeout 1
grep -q "remove conn=.* removed=$b2" "$RLOG" || fail "removal not logged"
relay_stop
exit 0
