#!/usr/bin/env bash
# Issue 12, finding 6: no quotas.  One device filled a relay (38 x 1 MiB
# blobs and 39 queue items on a 40 MiB disk) and every other user then got
# NO_SPACE for 30 days.  Now the relay charges the SENDING account for what
# it has put into queues and the blob store that is not yet acknowledged or
# expired (relay.conf quota_queue_items, quota_queue_bytes,
# quota_blob_bytes), and caps each recipient device's queue
# (device_queue_items, above one account's item quota).  A refusal is
# SB_ERR_QUOTA (54) "relay storage quota exceeded" - transient: it frees up
# as recipients acknowledge.  This case, on a relay with small quotas:
#   - init writes the quota keys; a relay.conf without them still loads;
#   - mallory's 4000-byte sends stop at the byte quota, eve's small ones at
#     the item quota, mallory's second 2 MB blob at the blob quota;
#   - carol (another account) still sends to the same recipient, who
#     receives it; the recipient's queue stops at its own cap;
#   - acknowledgements give the quota back;
#   - in a real mount, alice's 21st file to an offline bob reads
#     "queued: relay storage quota exceeded, retrying" and is delivered
#     by itself once bob comes online and acknowledges the first 20.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

relay_init
grep -q "^quota_queue_items = 100000$" "$RDATA/relay.conf" || fail "init wrote no quota: $(cat "$RDATA/relay.conf")"
cat >>"$RDATA/relay.conf" <<CONF
quota_queue_items = 20
quota_queue_bytes = 40000
quota_blob_bytes = 3000000
device_queue_items = 40
CONF
relay_start
on_exit "_mb_reap_all"
_mb_watchdog
new_device mallory mallory@example.com >/dev/null
new_device eve eve@example.com >/dev/null
new_device carol carol@example.com >/dev/null
new_device rbob rbob@example.com >/dev/null
rb=$(dev_id rbob)

# flood KEYS COUNT WANT [send-many options]: exactly WANT sends are
# accepted, then a refusal with QUOTA (exit 54) and its text.
flood() {
	local keys=$1 count=$2 want=$3 st=0 out
	shift 3
	out=$(rc send-many --keys "$T/$keys" --to rbob@example.com --count "$count" "$@" \
		2>"$T/$keys.err") || st=$?
	[ "$st" -eq 54 ] || fail "$keys's flood: exit $st, wanted 54 (QUOTA): $out $(cat "$T/$keys.err")"
	grep -q "relay storage quota exceeded" "$T/$keys.err" || fail "$keys was told '$(cat "$T/$keys.err")'"
	[ "$out" = "sent $want" ] || fail "$keys: '$out' before the refusal, wanted $want"
}

note "byte quota: 4000-byte payloads stop at 40000 bytes"
flood mallory 30 10 --size 4000
grep -q "send refused .*: sender's relay quota exceeded (10 items, 40000 bytes undelivered)" "$RLOG" ||
	fail "the refusal is not logged with its reason"

note "item quota: small payloads stop at 20 items"
flood eve 30 20

note "blob quota: a second 2 MB blob is refused before its upload"
head -c 2000000 /dev/urandom >"$T/blob"
rc blob-put --keys "$T/mallory" "$T/blob" >/dev/null || fail "first blob refused"
st=0
rc blob-put --keys "$T/mallory" "$T/blob" >/dev/null 2>"$T/blob.err" || st=$?
[ "$st" -eq 54 ] || fail "second blob: exit $st, wanted 54: $(cat "$T/blob.err")"
grep -q "blob refused .*account over its blob quota" "$RLOG" || fail "blob refusal not logged"
[ -z "$(ls -A "$RDATA/blobs/tmp")" ] || fail "a refused upload left a file"
# one larger than the whole quota can never fit: final TOO_BIG, not "wait"
head -c 3000001 /dev/zero >"$T/huge"
expect_rc 47 rc blob-put --keys "$T/carol" "$T/huge"

note "another account still sends to the same recipient, who receives it"
m=$(new_msgid)
rc send --keys "$T/carol" --to rbob@example.com --msgid "$m" --text carol-gets-through >/dev/null ||
	fail "carol's send was refused"
rc recv --keys "$T/rbob" --count 31 --timeout 10 | has "msg=$m .*payload=carol-gets-through" ||
	fail "rbob did not receive carol's message"

note "the recipient's queue has its own cap (40 items)"
flood carol 20 9
grep -q "send refused .*: recipient device $rb's relay queue is full" "$RLOG" || fail "device cap not logged"

note "acknowledgements give the quota back"
rc recv --keys "$T/rbob" --count 40 --ack --timeout 20 >/dev/null || fail "rbob's acks"
m=$(new_msgid)
rc send --keys "$T/eve" --to rbob@example.com --msgid "$m" --text again >/dev/null ||
	fail "eve still refused after rbob acknowledged everything"

note "a real mount: the sender's file says why it waits"
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_mount alice
A=$(mb_mnt alice)
mkdir "$A/outbox/bob@example.com"
O="$A/outbox/bob@example.com"
for i in $(seq -w 1 20); do
	echo "message $i" >"$O/f$i.txt"
done
for i in $(seq -w 1 20); do
	wait_status 30 "$O/f$i.txt" '^(sent|delivered 0/1)$'
done
echo "the twenty-first" >"$O/f21.txt"
wait_status 30 "$O/f21.txt" '^queued: relay storage quota exceeded, retrying$'
grep -q "send refused .*sender's relay quota exceeded (20 items" "$RLOG" || fail "alice's refusal not logged"
mb_mount bob
B=$(mb_mnt bob)
wait_status 60 "$O/f21.txt" '^delivered 1/1$'
I="$B/inbox/alice@example.com"
g=$(wait_for_file 20 "$I" "$(mb_inbox_re f21.txt)")
[ "$(cat "$g")" = "the twenty-first" ] || fail "bob read '$(cat "$g")'"
[ "$(mb_count "$I" '-f[0-9]+\.txt$')" -eq 21 ] || fail "bob has $(mb_count "$I" '-f[0-9]+\.txt$') of 21"
mb_umount alice
mb_umount bob

note "a relay.conf written before the quota keys existed still loads (defaults)"
relay_stop
sed -i '/^quota_\|^device_queue\|^send_\|^lookup_\|^max_unauth\|^# Per \|^# Token\|^# Conn/d' "$RDATA/relay.conf"
relay_start
grep "listening on" "$RLOG" | tail -1 | grep -q "max_unauth=" || fail "restart with an old relay.conf"
rc lookup --keys "$T/carol" rbob@example.com | has "^rbob@example.com $rb " || fail "lookup after restart"
mb_finish
