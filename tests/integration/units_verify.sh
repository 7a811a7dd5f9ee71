#!/usr/bin/env bash
# The systemd units (issue 17 "Runs like a service", issue 16 "Units"):
#   - scripts/systemd/sealbox-mount@.service (user) and sealbox-relay.service
#     (system), rewritten to the built binaries as `make install` rewrites
#     them to $(PREFIX)/bin, pass `systemd-analyze verify` with not one line
#     of output (an unknown key, a missing binary, a man page that `man`
#     cannot find for Documentation= would all print one);
#   - the relay unit keeps its hardening (a dedicated user, ProtectSystem=
#     strict, the data dir writable, NoNewPrivileges, a system call filter);
#   - Type=notify works without systemd: with NOTIFY_SOCKET naming a socket
#     this case listens on, `sealbox mount -f` sends READY=1 once the mount
#     is usable (outbox/ and inbox/ list at that moment) and STOPPING=1 when
#     it is unmounted; the same over an abstract ('@') socket, stopped with
#     SIGTERM as systemd stops a unit (clean unmount, exit 0), and with the
#     unit's own ExecStop command line (sealbox umount); in the
#     background (no -f) the serving process says READY=1 with its MAINPID
#     before `sealbox mount` returns; no NOTIFY_SOCKET changes nothing;
#   - the documented fstab line works: mount.fuse3 SEALBOX#mount MNT -o
#     noauto,user,... mounts a usable mailbox and returns.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

command -v systemd-analyze >/dev/null || fail "systemd-analyze not installed (scripts/deps.sh)"
units="$SB_TOP/scripts/systemd"

# ---- systemd-analyze verify ------------------------------------------------

# Copies pointing at the built binaries (ExecStart must name an executable),
# and the man pages where Documentation=man:... finds them.
mkdir -p "$T/units" "$T/man/man1" "$T/man/man8" "$T/rt"
chmod 700 "$T/rt"
for u in sealbox-mount@.service sealbox-relay.service; do
	[ -f "$units/$u" ] || fail "$units/$u missing"
	grep -q '^ExecStart=/usr/local/bin/' "$units/$u" ||
		fail "$u: ExecStart is not under /usr/local/bin (make install rewrites that prefix)"
	sed "s|/usr/local/bin/|$SB_BUILD/|g" "$units/$u" >"$T/units/$u"
done
cp "$SB_TOP/docs/man/sealbox.1" "$T/man/man1/"
cp "$SB_TOP/docs/man/sealbox-relay.8" "$T/man/man8/"

verify() {
	local out rc=0
	out=$(cd "$T/units" && MANPATH="$T/man" XDG_RUNTIME_DIR="$T/rt" \
		systemd-analyze verify "$@" 2>&1) || rc=$?
	note "systemd-analyze verify $*: exit $rc${out:+: $out}"
	[ "$rc" -eq 0 ] || fail "systemd-analyze verify $* exited $rc: $out"
	[ -z "$out" ] || fail "systemd-analyze verify $* warns: $out"
}
verify ./sealbox-relay.service
verify --user ./sealbox-mount@.service
# An instance: %f expanded to a real path.
verify --user "./sealbox-mount@$(systemd-escape --path "$T/mail").service"

# It does catch mistakes (else the checks above prove nothing).
sed 's|^Type=notify|Type=notify\nNoSuchKey=1|' "$units/sealbox-mount@.service" |
	sed "s|/usr/local/bin/|$SB_BUILD/|g" >"$T/units/sealbox-broken@.service"
bad=$(cd "$T/units" && MANPATH="$T/man" XDG_RUNTIME_DIR="$T/rt" \
	systemd-analyze verify --user ./sealbox-broken@.service 2>&1 || true)
[[ "$bad" == *"Unknown key 'NoSuchKey'"* ]] || fail "systemd-analyze verify missed a bad key: $bad"

relay_unit="$units/sealbox-relay.service"
for line in '^User=sealbox-relay$' '^StateDirectory=sealbox-relay$' '^ProtectSystem=strict$' \
	'^ReadWritePaths=/var/lib/sealbox-relay$' '^NoNewPrivileges=yes$' '^PrivateTmp=yes$' \
	'^ProtectHome=yes$' '^SystemCallFilter=@system-service$' '^RestrictAddressFamilies=' \
	'^CapabilityBoundingSet=$' '--data /var/lib/sealbox-relay$' '^PrivateMounts=yes$' \
	'^ExecReload=/bin/kill -HUP \$MAINPID$'; do
	grep -qE -- "$line" "$relay_unit" || fail "sealbox-relay.service lacks /$line/"
done
# systemd-analyze security: the relay's exposure, as docs/RELAY.md and the
# unit's comment state it (a hardening line dropped raises it).
sec=$(cd "$T/units" && XDG_RUNTIME_DIR="$T/rt" systemd-analyze security --offline=yes \
	./sealbox-relay.service 2>&1) || fail "systemd-analyze security failed: $(tail -3 <<<"$sec")"
exposure=$(sed -n 's/^.*Overall exposure level for sealbox-relay.service: \([0-9.]*\) .*$/\1/p' <<<"$sec")
note "systemd-analyze security sealbox-relay.service: $exposure"
[ "$exposure" = 1.2 ] || fail "exposure '$exposure', documented 1.2: $(grep '✗' <<<"$sec")"
grep -q 'systemd-analyze security: 1.2 OK' "$relay_unit" || fail "the unit's comment states another score"
grep -q 'exposure level 1.2' "$SB_TOP/docs/RELAY.md" || fail "docs/RELAY.md states another score"
mount_unit="$units/sealbox-mount@.service"
grep -qx 'Type=notify' "$mount_unit" || fail "sealbox-mount@.service is not Type=notify"
grep -qx 'ExecStart=/usr/local/bin/sealbox mount -f %f' "$mount_unit" ||
	fail "sealbox-mount@.service does not run 'sealbox mount -f %f' in the foreground"
# The relay unit runs the relay as the unit runs it: serve --data DIR.
"$SEALBOX_RELAY" --help | grep -q 'serve  --data DIR' || fail "sealbox-relay has no 'serve --data DIR'"

# ---- Type=notify without systemd -------------------------------------------

# notify_listen ADDRESS MNT OUT: a SOCK_DGRAM listener on ADDRESS (a path,
# or @name for the abstract namespace); each datagram becomes one line of
# OUT ('\n' shown as '|'), READY=1 followed by whether the mount at MNT
# was usable at that very moment (outbox/ and inbox/ list).
notify_listen() {
	python3 - "$@" <<'PY' &
import os, socket, sys
addr, mnt, out = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
with open(out + ".up", "w"):
    pass
while True:
    msg = s.recv(4096).decode("utf-8", "replace")
    line = msg.replace("\n", "|")
    if "READY=1" in msg.split("\n"):
        try:
            mounted = any(l.split()[1] == mnt and l.split()[2] == "fuse.sealbox"
                          for l in open("/proc/self/mounts"))
            os.listdir(mnt + "/outbox")
            os.listdir(mnt + "/inbox")
            line += " usable=" + ("yes" if mounted else "not-mounted")
        except OSError as e:
            line += " usable=no:" + e.strerror
    with open(out, "a") as f:
        f.write(line + "\n")
PY
	_listener=$!
	on_exit "kill $_listener"
	wait_until 10 test -e "$3.up" || fail "notify listener on $1 did not start"
}

# wait_line SECONDS FILE REGEX
wait_line() {
	wait_until "$(mb_secs "$1")" grep -qE "$3" "$2" ||
		fail "no /$3/ in $2 within $(mb_secs "$1") s (has: $(tr '\n' ';' <"$2" 2>/dev/null))"
}

mb_relay
mb_device alice alice@example.com
mnt=$(mb_mnt alice)

# 1. A socket path; `sealbox mount -f`; unmounted with fusermount3 -u.
notify_listen "$T/notify.sock" "$mnt" "$T/n1"
NOTIFY_SOCKET="$T/notify.sock" mb_mount alice
wait_line 10 "$T/n1" '^READY=1'
[ "$(head -1 "$T/n1")" = "READY=1 usable=yes" ] ||
	fail "first notification '$(head -1 "$T/n1")', wanted 'READY=1 usable=yes'"
! grep -q STOPPING "$T/n1" || fail "STOPPING=1 while mounted"
mb_umount alice
wait_line 10 "$T/n1" '^STOPPING=1$'
[ "$(wc -l <"$T/n1")" -eq 2 ] || fail "notifications: $(tr '\n' ';' <"$T/n1"), wanted READY then STOPPING"

# 2. An abstract socket; stopped with SIGTERM, as `systemctl stop` does.
abstract="@sealbox-units-verify-$$-$RANDOM"
notify_listen "$abstract" "$mnt" "$T/n2"
NOTIFY_SOCKET=$abstract "$SEALBOX" mount "$mnt" -f --home "$(mb_home alice)" 2>>"$T/term.log" &
pid=$!
echo "$pid" >>"$T/daemons.pids"
on_exit "kill -9 $pid; fusermount3 -uz '$mnt'"
wait_line 30 "$T/n2" '^READY=1'
[ "$(head -1 "$T/n2")" = "READY=1 usable=yes" ] ||
	fail "abstract socket: first notification '$(head -1 "$T/n2")'"
kill -TERM "$pid"
st=0
wait "$pid" || st=$?
[ "$st" -eq 0 ] || fail "sealbox mount exited $st on SIGTERM: $(tail -3 "$T/term.log")"
! _mb_mounted "$mnt" || fail "$mnt still mounted after SIGTERM"
wait_line 10 "$T/n2" '^STOPPING=1$'
grep -q "unmounted $mnt" "$T/term.log" || fail "no 'unmounted' line after SIGTERM: $(cat "$T/term.log")"

# 2b. Stopped by the unit's own ExecStop (`sealbox umount`), as
#     `systemctl --user stop` runs it: exit 0, STOPPING=1, the mount's
#     process exits 0.
stop_cmd=$(sed -n 's/^ExecStop=//p' "$units/sealbox-mount@.service")
[ -n "$stop_cmd" ] || fail "sealbox-mount@.service has no ExecStop"
stop_cmd=${stop_cmd//\/usr\/local\/bin\//$SB_BUILD/}
stop_cmd=${stop_cmd//%f/$mnt}
notify_listen "$T/notify2b.sock" "$mnt" "$T/n2b"
NOTIFY_SOCKET="$T/notify2b.sock" "$SEALBOX" mount "$mnt" -f --home "$(mb_home alice)" 2>>"$T/stop.log" &
pid=$!
echo "$pid" >>"$T/daemons.pids"
on_exit "kill -9 $pid; fusermount3 -uz '$mnt'"
wait_line 30 "$T/n2b" '^READY=1'
out=$($stop_cmd 2>&1) || fail "ExecStop '$stop_cmd' failed: $out"
st=0
wait "$pid" || st=$?
[ "$st" -eq 0 ] || fail "sealbox mount exited $st after ExecStop: $(tail -3 "$T/stop.log")"
! _mb_mounted "$mnt" || fail "$mnt still mounted after ExecStop"
wait_line 10 "$T/n2b" '^STOPPING=1$'

# 3. In the background: the serving process notifies with its MAINPID
#    before the command returns.
notify_listen "$T/notify3.sock" "$mnt" "$T/n3"
NOTIFY_SOCKET="$T/notify3.sock" "$SEALBOX" mount "$mnt" --home "$(mb_home alice)" ||
	fail "sealbox mount in the background failed"
on_exit "fusermount3 -uz '$mnt'"
wait_line 10 "$T/n3" '^READY=1'
line=$(head -1 "$T/n3")
[[ "$line" =~ ^READY=1\|MAINPID=([0-9]+)\ usable=yes$ ]] ||
	fail "background mount: first notification '$line', wanted READY=1|MAINPID=N usable=yes"
bpid=${BASH_REMATCH[1]}
tr '\0' ' ' <"/proc/$bpid/cmdline" | grep -q "mount $mnt" ||
	fail "MAINPID $bpid is not the serving sealbox mount: $(tr '\0' ' ' <"/proc/$bpid/cmdline" 2>&1)"
fusermount3 -u "$mnt"
wait_line 10 "$T/n3" '^STOPPING=1$'
wait_until "$(mb_secs 20)" sh -c "! kill -0 $bpid 2>/dev/null" || fail "background mount $bpid did not exit"

# 4. No NOTIFY_SOCKET, and one that names nothing: the mount just works.
mb_mount alice
mb_umount alice
NOTIFY_SOCKET="$T/nobody-listens" mb_mount alice
mb_umount alice

# 5. The fstab line of sealbox(1) and README.md,
#      /usr/local/bin/sealbox#mount MOUNTPOINT fuse noauto,user 0 0
#    is mount(8) running `mount.fuse3 /usr/local/bin/sealbox#mount MOUNTPOINT
#    -o OPTIONS`, which runs `sealbox mount MOUNTPOINT -o OPTIONS` (plus
#    mount options of its own such as dev,suid): it returns once the
#    mailbox is usable, and the mount unmounts as any other.
if command -v mount.fuse3 >/dev/null; then helper=mount.fuse3; else helper=/sbin/mount.fuse3; fi
notify_listen "$T/notify5.sock" "$mnt" "$T/n5"
NOTIFY_SOCKET="$T/notify5.sock" SEALBOX_HOME=$(mb_home alice) \
	"$helper" "$SEALBOX#mount" "$mnt" -o noauto,user,nofail,_netdev >"$T/fstab.log" 2>&1 ||
	fail "$helper $SEALBOX#mount $mnt failed: $(cat "$T/fstab.log")"
on_exit "fusermount3 -uz '$mnt'"
_mb_ready "$mnt" || fail "not usable once mount.fuse3 returned"
grep -qs " $mnt fuse.sealbox " /proc/self/mounts || fail "no fuse.sealbox mount at $mnt after mount.fuse3"
wait_line 10 "$T/n5" '^READY=1'
[[ "$(head -1 "$T/n5")" =~ ^READY=1\|MAINPID=([0-9]+)\ usable=yes$ ]] || fail "mount.fuse3: '$(head -1 "$T/n5")'"
fpid=${BASH_REMATCH[1]}
fusermount3 -u "$mnt"
wait_until "$(mb_secs 20)" sh -c "! kill -0 $fpid 2>/dev/null" || fail "mount.fuse3's sealbox $fpid did not exit"
! _mb_mounted "$mnt" || fail "$mnt still mounted"

mb_finish
