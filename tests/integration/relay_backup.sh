#!/usr/bin/env bash
# `sealbox-relay backup` while serve runs and `restore` into a fresh
# directory (issue 16, section 2):
#   - the backup is taken while other devices send and upload; it holds
#     the message queued at backup time and the blob stored before it, not
#     the message sent after it;
#   - restore prints the same fingerprint; serving the restored directory,
#     the offline device receives exactly the message queued at backup
#     time, and the blob downloads byte for byte;
#   - restore refuses, with one line naming the file, a backup with a
#     missing or truncated blob or a key that is not the certificate's,
#     and leaves no relay.conf behind; backup and restore refuse a
#     non-empty target.
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start
new_device alice alice@example.com >/dev/null
new_device bob bob@example.com >/dev/null
new_device carol carol@example.com >/dev/null
new_device dave dave@example.com >/dev/null
new_device erin erin@example.com >/dev/null
admin() { "$SEALBOX_RELAY" "$1" "${@:2}"; }

m1=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m1" --text before | has accepted ||
	fail "send m1"
head -c 200000 /dev/urandom >"$T/blob.bin"
uri=$(rc blob-put --keys "$T/alice" "$T/blob.bin" 2>/dev/null) || fail "blob-put"

note "backup while carol sends and erin uploads (one connection per device)"
rc send-many --keys "$T/carol" --to dave@example.com --count 300 --size 2000 >"$T/many.out" &
many=$!
on_exit "kill $many"
( for i in 1 2 3 4 5; do
	head -c 100000 /dev/urandom >"$T/up$i"
	rc blob-put --keys "$T/erin" "$T/up$i" >/dev/null 2>&1 || exit 1
done ) &
ups=$!
on_exit "kill $ups"
wait_until 10 test "$(mb_sql 'SELECT count(*) FROM queue WHERE device_id=?' "$(dev_id dave)")" -gt 20 ||
	fail "carol's sends did not start"
out=$(admin backup --data "$RDATA" "$T/bk") || fail "backup: $out"
[[ "$out" =~ ^backup\ in\ $T/bk:\ database\ [0-9]+\ bytes,\ ([0-9]+)\ blobs?\ \(([0-9]+)\ bytes\)$ ]] ||
	fail "backup said: $out"
nblobs=${BASH_REMATCH[1]}
[ "$nblobs" -ge 1 ] && [ "$nblobs" -le 6 ] || fail "backup copied $nblobs blobs"
wait "$many" || fail "carol's sends failed during the backup: $(cat "$T/many.out")"
wait "$ups" || fail "erin's uploads failed during the backup"
m2=$(new_msgid)
rc send --keys "$T/alice" --to bob@example.com --msgid "$m2" --text after | has accepted ||
	fail "send m2"

[ "$(stat -c %a "$T/bk")" = 700 ] || fail "backup folder mode $(stat -c %a "$T/bk")"
[ "$(stat -c %a "$T/bk/tls/key.pem")" = 600 ] || fail "backup key mode"
[ ! -e "$T/bk/serve.lock" ] && [ ! -e "$T/bk/relay.db-wal" ] || fail "backup holds the lock or a WAL"
cmp -s "$T/bk/blobs/${uri#sbblob:}" "$T/blob.bin" || fail "the blob is not in the backup"
[ "$(ls "$T/bk/blobs" | grep -c '^[0-9a-f]\{64\}$')" -eq "$nblobs" ] || fail "blob files != $nblobs"
relay_stop

note "restore refuses a damaged backup, naming the file"
bad() {   # bad NAME: a copy of the backup in $T/NAME
	rm -rf "$T/$1"
	cp -a "$T/bk" "$T/$1"
}
blobfile=blobs/${uri#sbblob:}
bad b1; rm "$T/b1/$blobfile"
expect_fail 1 "^sealbox-relay: restore: $blobfile: missing\$" admin restore "$T/b1" --data "$T/r1"
[ ! -e "$T/r1/relay.conf" ] || fail "a failed restore left a relay.conf"
bad b2; truncate -s 1000 "$T/b2/$blobfile"
expect_fail 1 "^sealbox-relay: restore: $blobfile: not the size its record says\$" \
	admin restore "$T/b2" --data "$T/r2"
bad b3; "$SEALBOX_RELAY" init --data "$T/other" --listen 127.0.0.1:1 >/dev/null
cp "$T/other/tls/key.pem" "$T/b3/tls/key.pem"
expect_fail 1 '^sealbox-relay: restore: tls/key.pem: not the key of tls/cert.pem$' \
	admin restore "$T/b3" --data "$T/r3"
[ ! -e "$T/r3/relay.conf" ] || fail "a failed restore left a relay.conf"
bad b4; echo garbage >"$T/b4/relay.db"
expect_fail 1 '^sealbox-relay: restore: relay.db: does not open as a relay database$' admin restore "$T/b4" --data "$T/r4"
expect_fail 1 '^sealbox-relay: restore: no relay.conf in the backup: not a backup$' \
	admin restore "$T/nothing" --data "$T/r5"
mkdir -p "$T/full" && touch "$T/full/x"
expect_fail 1 "^sealbox-relay: restore: $T/full exists and is not empty\$" \
	admin restore "$T/bk" --data "$T/full"
expect_fail 1 "^sealbox-relay: backup: $T/full exists and is not empty\$" \
	admin backup --data "$RDATA" "$T/full"
expect_fail 2 '^sealbox-relay: restore: exactly one BACKUP directory$' admin restore --data "$T/r6"

note "restore into a fresh directory and serve it"
out=$(admin restore "$T/bk" --data "$T/restored") || fail "restore: $out"
[[ "$out" == "restored into $T/restored: database "*" bytes, $nblobs blob"*"; fingerprint $FP" ]] ||
	fail "restore said: $out (fingerprint $FP)"
RDATA="$T/restored"
relay_start
out=$(rc recv --keys "$T/bob" --count 1 --timeout 10 --ack)
[[ "$out" == "push item="*" msg=$m1 "*"payload=before for $(dev_id bob)" ]] ||
	fail "bob did not get the message queued at backup time: $out"
rc recv --keys "$T/bob" --count 0 --timeout 2 >"$T/none" ||
	fail "bob got a message sent after the backup: $(cat "$T/none")"
rc blob-get --keys "$T/bob" "$uri" "$T/blob.back" 2>/dev/null || fail "blob-get from the restored relay"
cmp -s "$T/blob.back" "$T/blob.bin" || fail "the restored blob differs"
relay_stop
exit 0
