#!/usr/bin/env bash
# Mounting is safe to get wrong (issue 17, "Safe mounts"):
#   - a non-empty mountpoint is refused (its files would be hidden) unless
#     -o nonempty;
#   - a mountpoint that is a sealbox mount already is refused;
#   - a second mount of the same home is refused with the first one's
#     mountpoint and pid (two agents on one home used to fight over the
#     relay connection: "replaced by a newer connection" every second);
#   - the mount shows as "sealbox" of type fuse.sealbox in mount and df,
#     and df gives the home's file system's figures;
#   - a mount in the background logs to HOME/mount.log, not /dev/null.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
H=$(mb_home alice)

note "a non-empty mountpoint"
mkdir -p "$T/full"
echo "keep me" >"$T/full/precious.txt"
expect_fail 1 "^sealbox: mount: $T/full is not empty \(its files would be hidden; -o nonempty mounts over them\)\$" \
	"$SEALBOX" mount "$T/full" --home "$H"
mountpoint -q "$T/full" && fail "mounted over a non-empty folder"

note "the same home twice"
mb_mount alice
A=$(mb_mnt alice)
pid=$(mb_pid alice)
mkdir -p "$T/second"
expect_fail 1 "^sealbox: mount: $H is already mounted at $A by pid $pid\$" \
	"$SEALBOX" mount "$T/second" -f --home "$H"
mountpoint -q "$T/second" && fail "the home was mounted twice"

note "onto a sealbox mount"
expect_fail 1 "^sealbox: mount: $A is already a sealbox mount\$" \
	"$SEALBOX" mount "$A" -f --home "$(mb_home bob)"

note "how it shows"
grep -q "^sealbox $A fuse.sealbox " /proc/mounts || fail "/proc/mounts: $(grep "$A" /proc/mounts)"
[ "$(df --output=source "$A" | tail -1)" = sealbox ] || fail "df source: $(df --output=source "$A" | tail -1)"
want=$(df --output=size -B1 "$H" | tail -1)
got=$(df --output=size -B1 "$A" | tail -1)
[ "$got" = "$want" ] || fail "df size of the mount $got, of the home $want"

note "-o nonempty mounts over files (hidden while mounted, back after)"
mb_umount alice
mb_mount alice -o nonempty
mb_umount alice
cp -r "$T/full/." "$(mb_mnt alice)/" 2>/dev/null || true
mb_mount alice -o nonempty
[ ! -e "$A/precious.txt" ] || fail "the mount did not cover the folder"

note "in the background: the log is HOME/mount.log"
mb_umount alice
"$SEALBOX" mount "$T/second" --home "$H" || fail "background mount failed"
on_exit "fusermount3 -uz '$T/second'"
mountpoint -q "$T/second" || fail "not mounted after the background mount returned"
bpid=$(head -1 "$H/mount.lock")
kill -0 "$bpid" || fail "no mount process $bpid"
mkdir "$T/second/outbox/nobody@example.com" 2>/dev/null || true
fusermount3 -u "$T/second" || fail "unmount"
wait_until 10 eval "! kill -0 $bpid 2>/dev/null" || fail "the mount process $bpid did not exit"
[ "$(stat -c %a "$H/mount.log")" = 600 ] || fail "mount.log mode $(stat -c %a "$H/mount.log")"
grep -q "^sealbox: mounted $H at $T/second\$" "$H/mount.log" || fail "mount.log: $(cat "$H/mount.log")"
grep -q "no devices for nobody@example.com\|nobody@example.com" "$H/mount.log" ||
	fail "the unknown recipient left no line in mount.log: $(cat "$H/mount.log")"
grep -q "^sealbox: unmounted $T/second\$" "$H/mount.log" || fail "mount.log has no unmount line"
mb_finish
