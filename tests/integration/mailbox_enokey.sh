#!/usr/bin/env bash
# ENOKEY when the keyring cannot give the keys: bob's home is mounted after
# his keys were deleted from the keyring; the mount still comes up and lists
# what it stored, but reading a message answers ENOKEY (never EIO, never
# plaintext).  With the keyring intact the same read works.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_mount alice
mb_mount bob
A=$(mb_mnt alice) B=$(mb_mnt bob)
mkdir "$A/outbox/bob@example.com"
printf 'keyed\n' >"$A/outbox/bob@example.com/k.txt"
mb_data 100000 9 >"$T/k.bin"
cp "$T/k.bin" "$A/outbox/bob@example.com/k.bin"
I="$B/inbox/alice@example.com"
g=$(wait_for_file 30 "$I" "$(mb_inbox_re k.txt)")
gbin=$(wait_for_file 30 "$I" "$(mb_inbox_re k.bin)")
[ "$(mb_errno read "$g")" = OK ] || fail "read with keys: $(mb_errno read "$g")"
mb_umount bob

note "bob's keys deleted from the keyring"
n=$(secret-tool search --all application sealbox address bob@example.com 2>&1 | grep -c '^\[/' || true)
[ "$n" -ge 2 ] || fail "bob has $n keyring items before the delete"
secret-tool clear application sealbox address bob@example.com
n=$(secret-tool search --all application sealbox address bob@example.com 2>&1 | grep -c '^\[/' || true)
[ "$n" -eq 0 ] || fail "bob still has $n keyring items"
[ "$(secret-tool search --all application sealbox address alice@example.com 2>&1 | grep -c '^\[/')" -ge 2 ] ||
	fail "alice's keys went too"

mb_mount bob
got=$(mb_errno read "$g")
[ "$got" = ENOKEY ] || fail "read without keys: $got, wanted ENOKEY"
got=$(mb_errno read "$gbin")
[ "$got" = ENOKEY ] || fail "read of the attachment without keys: $got, wanted ENOKEY"
note "read without keys: ENOKEY"
if cat "$g" >"$T/out" 2>"$T/cat.err"; then fail "cat succeeded without keys"; fi
[ ! -s "$T/out" ] || fail "cat printed bytes without keys"
grep -q "Required key not available" "$T/cat.err" || fail "cat says: $(cat "$T/cat.err")"
mb_finish
