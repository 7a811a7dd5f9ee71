#!/usr/bin/env bash
# sealbox-test: alone (its assertions involve time: see scripts/run-tests.sh)
# One sender cannot delay another's messages (issue 12, finding 1).
# Mallory floods alice with attachment messages whose blob never matches
# its hashes; each such item is fetched again for a minute before it is
# rejected (the relay may have had a passing fault).  The worker used to
# take due items in queue order, so mallory's refetches kept carol's text
# waiting behind them for tens of seconds (and with 4,096 of them queued,
# carol's push was dropped outright and not fetched again for minutes).
# Now senders take turns and each has a bounded share of the queue: carol's
# text, sent while mallory's items are being refetched, must be listed
# within seconds; her push is never dropped; nothing of mallory's appears.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

# More than the agent's whole in-memory queue (4,096), so the old code had
# to drop carol's push.
N=${FLOOD_N:-4200}
mb_relay
# The relay's own defences (send rate, quotas: relay_quota.sh) would stop
# this flood before it reached alice; this case is about what alice's agent
# does when a flood gets through (several accounts, a relay with other
# limits), so they are opened wide here.
relay_stop
for kv in "send_rate 100000" "send_burst 100000"; do
	set -- $kv
	sed -i "s/^$1 = .*/$1 = $2/" "$RDATA/relay.conf"
	grep -q "^$1 = $2\$" "$RDATA/relay.conf" || fail "relay.conf has no $1"
done
relay_start
mb_device alice alice@example.com
new_device mallory mallory@example.com >/dev/null
new_device carol carol@example.com >/dev/null
mb_mount alice
A=$(mb_mnt alice)

note "mallory sends alice $N attachments with a bad blob"
cs --keys "$T/mallory" --to alice@example.com --count "$N" --bad-blob 1024 \
	--name junk.bin >"$T/mallory.ids" || fail "mallory's flood"
[ "$(wc -l <"$T/mallory.ids")" -eq "$N" ] || fail "mallory sent $(wc -l <"$T/mallory.ids") of $N"
wait_until "$(mb_secs 20)" grep -q 'attachment: .*will fetch it again' "$(mb_log alice)" ||
	fail "mallory's items were never tried: the case proves nothing"

note "carol sends a text while mallory's items wait for their refetches"
start=$(date +%s%N)
cs --keys "$T/carol" --to alice@example.com --name urgent.txt --text "carol, on time" \
	>/dev/null || fail "carol's send"
f=$(wait_for_file 20 "$A/inbox/carol@example.com" "$(mb_inbox_re urgent.txt)")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
note "carol's text listed $ms ms after her send"
[ "$(cat "$f")" = "carol, on time" ] || fail "carol's text reads wrong"
fetches=$(grep -c 'attachment: .*will fetch it again' "$(mb_log alice)" || true)
left=$(grep -c 'pushes from mallory@example.com left at the relay' "$(mb_log alice)" || true)
note "mallory's bad blobs fetched $fetches times; her share of the queue filled ($left log line)"
[ "$left" -eq 1 ] || fail "mallory's share: $left log lines, wanted exactly 1"
grep -q 'from carol@example.com left at the relay' "$(mb_log alice)" &&
	fail "carol's push was dropped"
[ "$(mb_count "$A/inbox/mallory@example.com" .)" -eq 0 ] || fail "something of mallory's is listed"

mb_finish
