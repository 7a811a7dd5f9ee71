#!/usr/bin/env bash
# One blob named by many messages is stored once at the receiver (issue 12,
# finding 6).  A sender who uploads one 4 MiB blob and names it in 20
# messages used to grow the receiver's home by 80 MiB (a content file per
# message), for the price of one upload.  Now messages whose attachment has
# the same content (same ciphertext hash, size and key) share one content
# file: the 20 arrive, each reads back byte for byte, the home grows by
# about 4 MiB, the blob is fetched once.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
new_device mallory mallory@example.com >/dev/null
mb_mount alice
A=$(mb_mnt alice)
before=$(du -sk "$(mb_home alice)/data" | cut -f1)
mb_data $((4 << 20)) 3 >"$T/blob.bin"
cs --keys "$T/mallory" --to alice@example.com \
	--count 20 --name same.bin --blob "$T/blob.bin" >/dev/null || fail "mallory's sends"
_twenty() { [ "$(mb_count "$A/inbox/mallory@example.com" "$(mb_inbox_re same.bin)")" -ge 20 ]; }
wait_until "$(mb_secs 60)" _twenty ||
	fail "$(mb_count "$A/inbox/mallory@example.com" .) of 20 listed"
wait_queue_empty 20 alice
for f in "$A/inbox/mallory@example.com"/*; do
	cmp "$f" "$T/blob.bin" || fail "$f differs"
done
after=$(du -sk "$(mb_home alice)/data" | cut -f1)
grown=$(( (after - before) / 1024 ))
note "alice's home grew by $grown MiB for 20 messages naming one 4 MiB blob"
[ "$grown" -le 8 ] || fail "alice's home grew by $grown MiB"
[ "$(grep -c 'blob sent' "$RLOG")" -eq 1 ] || fail "the blob was fetched $(grep -c 'blob sent' "$RLOG") times"
[ "$(grep -c 'its content was stored already' "$(mb_log alice)")" -eq 19 ] ||
	fail "$(grep -c 'its content was stored already' "$(mb_log alice)") messages shared the content, wanted 19"
mb_finish
