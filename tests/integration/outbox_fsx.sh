#!/usr/bin/env bash
# fsx on outbox files (issue 13, Tests): tests/helpers/fsx.c runs seeded
# random writes, truncates (holes included) and reads at random offsets
# across the 64 KiB content chunks, checking every read and size against
# its model, with a close and reopen (a sent version each) four times.
# Every version bob receives must equal the model at that close, in order.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

FSX="$SB_BUILD/tests/helpers/fsx"
[ -x "$FSX" ] || fail "$FSX not built (run make)"
mb_alice_to_bob
seeds="1 2 3"
for s in $seeds; do
	"$FSX" "$s" 3000 "$O/fsx-$s.bin" "$T/model-$s" 4 >&2 || fail "fsx seed $s found a mismatch"
done
for s in $seeds; do
	_four() { [ "$(mb_count "$I" "$(mb_inbox_re "fsx-$1.bin")")" -eq 4 ]; }
	wait_until "$(mb_secs 60)" _four "$s" ||
		fail "seed $s: bob has $(mb_count "$I" "$(mb_inbox_re "fsx-$s.bin")") of 4 versions"
	k=0
	while read -r f; do
		k=$((k + 1))
		cmp "$I/$f" "$T/model-$s.$k" || fail "seed $s: version $k ($f) differs from the model"
	done < <(ls "$I" | grep -- "-fsx-$s\.bin$")
	cmp "$O/fsx-$s.bin" "$T/model-$s.4" || fail "seed $s: alice's file reads back differently"
done
sleep 1
[ "$(mb_sent_count alice)" -eq 12 ] || fail "the relay accepted $(mb_sent_count alice) messages, wanted 12"
mb_finish
