#!/usr/bin/env bash
# The relay's blob store turns hostile (or its disk corrupt): an attachment's
# blob is bit-flipped, truncated, or deleted on the relay while bob is
# offline.  Nothing false is shown: bob's mount checks size and both hashes
# before decrypting, lists nothing, acknowledges nothing and logs why.
# Nothing true is lost: once the relay serves the real blob again (within
# the agent's fetch retries, a minute) the attachment arrives, exactly
# once and byte for byte.  What queued behind a bad blob is delivered
# meanwhile; a blob that stays bad is rejected after its minute (logged).
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
echo "before" >"$O/first.txt"
wait_for_file 20 "$I" "$(mb_inbox_re first.txt)" >/dev/null
BLOG=$(mb_log bob)

# newest_blob: the path of the most recently stored blob on the relay.
newest_blob() {
	local b
	b=$(ls -t "$RDATA/blobs" | grep -E '^[0-9a-f]{64}$' | head -n1)
	[ -n "$b" ] || fail "no blob on the relay"
	echo "$RDATA/blobs/$b"
}
# tries_logged N: bob's log shows at least N failed fetches of an attachment.
tries_logged() { [ "$(grep -c "attachment: .*will fetch it again" "$BLOG")" -ge "$1" ]; }

# send_offline NAME SIZE SEED: sends NAME (SIZE bytes of mb_data SEED, kept
# in $T/NAME) while bob is unmounted, so its blob waits on the relay.
send_offline() {
	mb_data "$2" "$3" >"$T/$1"
	cp "$T/$1" "$O/$1"
	wait_status 30 "$O/$1" '^sent$'
}

# damage_then_restore NAME SIZE SEED WHAT: WHAT damages the blob file.
damage_then_restore() {
	local name=$1 size=$2 seed=$3 what=$4 blob before g
	note "$name: $what, then the relay behaves again"
	mb_umount bob
	send_offline "$name" "$size" "$seed"
	blob=$(newest_blob)
	cp "$blob" "$T/blob.orig"
	$what "$blob"
	before=$(grep -c "attachment: .*will fetch it again" "$BLOG" || true)
	mb_mount bob
	wait_until $(mb_secs 30) tries_logged $((before + 2)) ||
		fail "$name: bob did not retry the bad blob: $(tail -3 "$BLOG")"
	[ "$(mb_count "$I" "$(mb_inbox_re "$name")")" -eq 0 ] || fail "$name listed from a bad blob"
	[ "$(mb_queue_len bob)" -ge 1 ] || fail "$name acknowledged although its blob was bad"
	cp "$T/blob.orig" "$blob"
	g=$(wait_for_file 90 "$I" "$(mb_inbox_re "$name")")
	cmp "$g" "$T/$name" || fail "$name differs at bob"
	[ "$(mb_count "$I" "$(mb_inbox_re "$name")")" -eq 1 ] || fail "$name listed more than once"
}

flip() { printf '\xa5' | dd of="$1" bs=1 seek=$(( $(stat -c %s "$1") / 2 )) conv=notrunc 2>/dev/null; }
halve() { truncate -s $(( $(stat -c %s "$1") / 2 )) "$1"; }
gone() { rm -f "$1"; }

damage_then_restore flipped.bin $((100 * 1024)) 11 flip
grep -q "attachment: attachment hash mismatch (try" "$BLOG" || fail "no hash mismatch logged"
damage_then_restore halved.bin $((70 * 1024 + 3)) 12 halve
grep -q "attachment: length field out of bounds (try" "$BLOG" || fail "no size mismatch logged"
damage_then_restore deleted.bin $((9 * 1024)) 13 gone
grep -q "attachment: not found (try" "$BLOG" || fail "no missing blob logged"

note "a blob that stays bad: what queued behind it goes ahead; rejected after a minute"
mb_umount bob
send_offline forever.bin $((50 * 1024)) 14
flip "$(newest_blob)"
for i in 1 2 3 4 5; do echo "queued behind the bad one $i" >"$O/behind$i.txt"; done
wait_status 30 "$O/behind5.txt" '^sent$'
n=$(grep -c "attachment: attachment hash mismatch (try" "$BLOG" || true)
mb_mount bob
t0=$(date +%s)
for i in 1 2 3 4 5; do
	g=$(wait_for_file 20 "$I" "$(mb_inbox_re "behind$i.txt")")
	[ "$(cat "$g")" = "queued behind the bad one $i" ] || fail "bob read '$(cat "$g")'"
done
grep -q "rejected.*attachment:" "$BLOG" && fail "rejected before its minute of retries was up"
[ "$(mb_queue_len bob)" -eq 1 ] || fail "bob's queue: $(mb_queue_len bob) items, wanted the bad one only"
wait_until $(mb_secs 90) grep -q "rejected.*attachment: attachment hash mismatch" "$BLOG" ||
	fail "the final rejection is not logged: $(grep -i reject "$BLOG" | tail -2)"
t1=$(date +%s)
[ $((t1 - t0)) -ge 55 ] || fail "rejected after $((t1 - t0)) s, before its minute of retries"
# The fetches kept their 1, 2, 4, 8, 16 s schedule whatever woke the
# worker (five arrivals did): a handful, not one per wake-up.
tries=$(( $(grep -c "attachment: attachment hash mismatch (try" "$BLOG") - n ))
note "forever.bin: $tries bad fetches, rejected after $((t1 - t0)) s"
[ "$tries" -ge 5 ] && [ "$tries" -le 10 ] || fail "$tries fetches of the bad blob in its minute"
[ "$(mb_count "$I" "$(mb_inbox_re forever.bin)")" -eq 0 ] || fail "the bad attachment was listed"
wait_queue_empty 30 bob
for f in first.txt flipped.bin halved.bin deleted.bin behind{1,2,3,4,5}.txt; do
	[ "$(mb_count "$I" "$(mb_inbox_re "$f")")" -eq 1 ] || fail "$f is not in bob's inbox exactly once"
done
mb_umount alice
mb_umount bob
relay_stop
mb_finish
