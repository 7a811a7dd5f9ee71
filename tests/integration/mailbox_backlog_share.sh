#!/usr/bin/env bash
# A backlog larger than one sender's share of the in-memory queue (256)
# still arrives whole: the pushes left at the relay come back by a resync
# once the share has room (issue 12, finding 1: "a dropped push triggers a
# resync").  Carol (another user's device, test helper cosender) sends 600
# texts while alice is offline; alice mounts and lists all 600, each once.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

N=600
mb_relay
mb_device alice alice@example.com
new_device carol carol@example.com >/dev/null
cs --keys "$T/carol" \
	--to alice@example.com --count "$N" --name note.txt --text "one of many" \
	>"$T/ids" || fail "carol's sends"
[ "$(wc -l <"$T/ids")" -eq "$N" ] || fail "carol sent $(wc -l <"$T/ids") of $N"

mb_mount alice
A=$(mb_mnt alice)
# An attachment alice sends while her agent resyncs: the resync waits for
# the upload (client_resync), so it is uploaded once, never cut and redone.
mkdir "$A/outbox/carol@example.com"
mb_data $((128 << 20)) 4 >"$T/big.bin"
cp "$T/big.bin" "$A/outbox/carol@example.com/big.bin" &
cpid=$!
_all_listed() { [ "$(mb_count "$A/inbox/carol@example.com" "$(mb_inbox_re note.txt)")" -ge "$N" ]; }
_all_listed_too() { _all_listed || { sleep 0.2; false; }; }
wait_until "$(mb_secs 60)" _all_listed_too ||
	fail "$(mb_count "$A/inbox/carol@example.com" .) of $N listed within 60 s"
wait_queue_empty 20 alice
[ "$(mb_count "$A/inbox/carol@example.com" .)" -eq "$N" ] ||
	fail "$(mb_count "$A/inbox/carol@example.com" .) listed, wanted exactly $N"
grep -q 'pushes from carol@example.com left at the relay' "$(mb_log alice)" ||
	fail "carol's share never filled: the case proves nothing"
grep -q 'asking the relay for its backlog' "$(mb_log alice)" || fail "no resync logged"
grep -q 'rejected message' "$(mb_log alice)" && fail "something was rejected: $(grep rejected "$(mb_log alice)" | head -3)"
wait "$cpid" || fail "writing big.bin failed"
wait_status 60 "$A/outbox/carol@example.com/big.bin" '^(sent|delivered 0/1)$'
dev=$(mb_device_id alice)
ups=$(grep -c "blob upload conn=.* device=$dev " "$RLOG" || true)
stored=$(grep -c "blob stored conn=.* device=$dev " "$RLOG" || true)
note "alice's uploads: $ups started, $stored stored"
[ "$ups" -eq 1 ] && [ "$stored" -eq 1 ] || fail "alice's attachment was uploaded $ups times ($stored stored)"

mb_finish
