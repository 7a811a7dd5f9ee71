#!/usr/bin/env bash
# with-keyring --persist (issue 17, "Keys that survive"): alice's device is
# created under a persistent keyring unlocked from a password file; every
# with-keyring session of it ends (its bus and daemon gone) and a fresh one
# on the same dir with the same password mounts the home again: the old
# inbox reads, what was queued at either end while it was down goes out, and
# devices / verify / status work.  Also: a wrong password and a password
# file others may read are refused with one line; one session per dir at a
# time; the password never shows in any process's argv or environment; the
# keyring file is gnome-keyring's encrypted format and no private key byte is
# anywhere else on disk.
#
# bob (the other end) lives in the case's own ephemeral keyring (mb_device,
# mb_mount); alice's sessions are separate with-keyring runs driven here.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

WK="$SB_TOP/scripts/with-keyring"
PDIR="$T/keyring"              # made by with-keyring itself (mode 0700)
PWF="$T/keyring.pass"
AH=$(mb_home alice) AM=$(mb_mnt alice)
mkdir -p "$AH" "$AM"
(umask 077 && head -c 18 /dev/urandom | base64 >"$PWF")
(umask 077 && head -c 18 /dev/urandom | base64 >"$T/wrong.pass")
pw=$(cat "$PWF")
[ "${#pw}" -eq 24 ] || fail "password file not written"
pw=

# kr CMD...: one with-keyring session on alice's persistent keyring.
kr() { "$WK" --persist "$PDIR" --password-file "$PWF" "$@"; }

# ---- the password never in argv or an environment ------------------------
# Every process on the machine, polled until the case stops it: grep takes
# the password from the file (-f), so it is in no argv itself.
(
	while [ ! -e "$T/poll.stop" ]; do
		grep -l -a -F -f "$PWF" /proc/[0-9]*/cmdline /proc/[0-9]*/environ \
			2>/dev/null >>"$T/leaks" || true
		: >"$T/poll.ran"
		sleep 0.05
	done
) &
poller=$!
on_exit "kill $poller"
wait_until 10 test -e "$T/poll.ran" || fail "the /proc poller did not start"

# session_procs ROOT SNAPSHOT: "PID COMM" of ROOT and of every process below
# it in a `ps -e -o pid=,ppid=,comm=` snapshot (a session's wrapper, its
# bus, its keyring daemon, CMD).
session_procs() {
	awk -v r="$1" '{ pp[$1] = $2; c[$1] = $3 }
		END { for (p in pp) { q = p; while ((q in pp) && q != r) q = pp[q]; if (q == r) print p, c[p] } }' "$2"
}
# check_session ROOT SNAPSHOT: the snapshot had a bus and a keyring daemon
# under ROOT, and none of its processes runs any more.
check_session() {
	local procs pid comm
	procs=$(session_procs "$1" "$2")
	grep -q ' dbus-daemon$' <<<"$procs" || fail "no dbus-daemon in session $1: $procs"
	grep -q ' gnome-keyring-d' <<<"$procs" || fail "no gnome-keyring-daemon in session $1: $procs"
	while read -r pid comm; do
		wait_until 5 gone "$pid" || fail "$comm ($pid) outlived its with-keyring session"
	done <<<"$procs"
}

gone() { ! _mb_alive "$1"; }
# No process runs with the persistent dir as its XDG_DATA_HOME (only a
# keyring daemon of ours, or one the bus activated in its place, does).
no_daemon_of_pdir() {
	! grep -l -a -F "XDG_DATA_HOME=$PDIR" /proc/[0-9]*/environ 2>/dev/null | grep -q .
}

mb_relay
mb_device bob bob@example.com
mb_mount bob
B=$(mb_mnt bob)

note "first session: init creates the keyring from the password file"
code=$("$SEALBOX_RELAY" invite --data "$RDATA" alice@example.com) || fail "invite alice"
rc=0
printf '%s\n' "$code" | kr "$SEALBOX" init --home "$AH" --address alice@example.com \
	--relay "127.0.0.1:$RPORT" --fingerprint "$FP" --device-name alice \
	>"$T/init.out" 2>"$T/init.err" || rc=$?
[ "$rc" -eq 0 ] || fail "init under the persistent keyring exited $rc: $(cat "$T/init.err")"
grep -qx "with-keyring: created a new keyring in $PDIR" "$T/init.err" ||
	fail "no 'created a new keyring' line: $(cat "$T/init.err")"
[ "$(stat -c %a "$PDIR")" = 700 ] || fail "$PDIR has mode $(stat -c %a "$PDIR"), not 700"
KF="$PDIR/keyrings/login.keyring"
[ -s "$KF" ] || fail "no keyring file $KF: $(ls -laR "$PDIR")"
# gnome-keyring's encrypted format starts with "GnomeKeyring\n\r\0\n";
# an unencrypted one is an ini text starting "[keyring]".
[ "$(head -c 16 "$KF" | od -An -c | tr -s ' ')" = " G n o m e K e y r i n g \n \r \0 \n" ] ||
	fail "$KF is not an encrypted gnome-keyring file: $(head -c 16 "$KF" | od -An -c)"
! grep -qa 'sealbox' "$KF" || fail "$KF holds item labels in clear"
wait_until 5 no_daemon_of_pdir || fail "a keyring daemon of $PDIR outlived the init session"

note "second session: mount in the foreground (as systemd would run it)"
# mount_session: the wrapper runs the mount -f; its exit status is the
# mount's (mb_umount checks it is 0); $wk1 is the wrapper.
mount_session() {
	local pid deadline
	echo "=== session mount $(date +%T.%N)" >>"$(mb_log alice)"
	kr "$SEALBOX" mount "$AM" -f --home "$AH" 2>>"$(mb_log alice)" &
	pid=$!
	wk1=$pid
	_mb_pid[alice]=$pid
	echo "$pid" >>"$T/daemons.pids"
	[[ " ${_mb_names[*]} " == *" alice "* ]] || _mb_names+=(alice)
	deadline=$(( $(date +%s) + $(mb_secs 30) ))
	until _mb_ready "$AM" 2>/dev/null; do
		_mb_alive "$pid" ||
			fail "the mount session exited before it was ready: $(tail -5 "$(mb_log alice)")"
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail "the mount session was not ready within $(mb_secs 30) s: $(tail -5 "$(mb_log alice)")"
		sleep 0.05
	done
}
mount_session
ps -e -o pid=,ppid=,comm= >"$T/ps1"
grep -q "keys loaded for alice@example.com" "$(mb_log alice)" ||
	fail "the mount did not load alice's keys: $(tail -5 "$(mb_log alice)")"

OA="$AM/outbox/bob@example.com" IA="$AM/inbox/bob@example.com"
OB="$B/outbox/alice@example.com" IB="$B/inbox/alice@example.com"
mkdir "$OA" "$OB"
printf 'first message to alice\n' >"$OB/m1.txt"
m1=$(wait_for_file 30 "$IA" "$(mb_inbox_re m1.txt)")
[ "$(cat "$m1")" = "first message to alice" ] || fail "alice read '$(cat "$m1")'"
printf 'hello from alice\n' >"$OA/hello.txt"
g=$(wait_for_file 30 "$IB" "$(mb_inbox_re hello.txt)")
[ "$(cat "$g")" = "hello from alice" ] || fail "bob read '$(cat "$g")'"

note "one session per keyring dir at a time"
expect_fail 125 "^with-keyring: the keyring in $PDIR is in use by another with-keyring \(pid [0-9]+\)" \
	kr true

note "a file written while the relay is down stays queued in alice's spool"
relay_stop
printf 'queued while down\n' >"$OA/q1.txt" || fail "close failed while the relay is down"
wait_status 10 "$OA/q1.txt" '^queued'

note "everything of the session stops with the unmount"
mb_umount alice
check_session "$wk1" "$T/ps1"
wait_until 5 no_daemon_of_pdir ||
	fail "a keyring daemon of $PDIR is still running: $(grep -l -a -F "XDG_DATA_HOME=$PDIR" /proc/[0-9]*/environ)"

note "while alice is down: the relay comes back, bob writes to her"
relay_start
printf 'sent while alice was down\n' >"$OB/m2.txt"
wait_status 30 "$OB/m2.txt" '^(sent|delivered 0/1)$'

note "a wrong password: one line, nothing unlocked, the keyring unchanged"
sum=$(sha256sum <"$KF")
expect_fail 125 "^with-keyring: wrong password for the keyring in $PDIR\$" \
	"$WK" --persist "$PDIR" --password-file "$T/wrong.pass" true
[ "$(sha256sum <"$KF")" = "$sum" ] || fail "a wrong password changed $KF"
wait_until 5 no_daemon_of_pdir || fail "the wrong-password run left a keyring daemon"

note "a password file group or others may read is refused"
cp "$PWF" "$T/open.pass"
chmod 644 "$T/open.pass"
expect_fail 125 "^with-keyring: the password file $T/open.pass is accessible by group or others \(mode 0644\)" \
	"$WK" --persist "$PDIR" --password-file "$T/open.pass" true
chmod 640 "$T/open.pass"
expect_fail 125 "accessible by group or others \(mode 0640\)" \
	"$WK" --persist "$PDIR" --password-file "$T/open.pass" true
note "no password source at all (no file, no credential, no terminal)"
expect_fail 125 "^with-keyring: no password for the keyring in $PDIR" \
	setsid "$WK" --persist "$PDIR" true </dev/null

note "third session, as the README does it: mount returns, the wrapper ends"
echo "=== session mount (background) $(date +%T.%N)" >>"$(mb_log alice)"
kr bash -c 'ps -e -o pid=,ppid=,comm= >"$1" && exec "$2" mount "$3" --home "$4"' _ \
	"$T/ps2" "$SEALBOX" "$AM" "$AH" >>"$(mb_log alice)" 2>&1 &
wk2=$!
rc=0
wait "$wk2" || rc=$?
[ "$rc" -eq 0 ] || fail "background mount under a fresh session exited $rc: $(tail -5 "$(mb_log alice)")"
_mb_pid[alice]=
check_session "$wk2" "$T/ps2"
wait_until "$(mb_secs 10)" _mb_ready "$AM" || fail "$AM not mounted after sealbox mount returned"
apid=$(head -1 "$AH/mount.lock")
[[ "$apid" =~ ^[0-9]+$ ]] && _mb_alive "$apid" || fail "no mount daemon in $AH/mount.lock: '$apid'"
echo "$apid" >>"$T/daemons.pids"
on_exit "kill -KILL $apid"

note "the old inbox reads, and what was queued at both ends arrives"
[ "$(cat "$m1")" = "first message to alice" ] || fail "old message after remount: '$(cat "$m1" 2>&1)'"
[ "$(mb_errno read "$m1")" = OK ] || fail "reading the old message: $(mb_errno read "$m1")"
g=$(wait_for_file 30 "$IA" "$(mb_inbox_re m2.txt)")
[ "$(cat "$g")" = "sent while alice was down" ] || fail "alice read '$(cat "$g")'"
wait_status 30 "$OA/q1.txt" '^delivered 1/1$'
g=$(wait_for_file 30 "$IB" "$(mb_inbox_re q1.txt)")
[ "$(cat "$g")" = "queued while down" ] || fail "bob read '$(cat "$g")'"
printf 'after the remount\n' >"$OA/q2.txt"
g=$(wait_for_file 30 "$IB" "$(mb_inbox_re q2.txt)")
[ "$(cat "$g")" = "after the remount" ] || fail "bob read '$(cat "$g")'"
wait_status 30 "$OA/q2.txt" '^delivered 1/1$'

note "devices, verify and status, each under its own session, while mounted"
out=$(kr "$SEALBOX" devices bob@example.com --home "$AH" 2>&1) || fail "devices failed: $out"
grep -Eq "^ *$(mb_device_id bob) " <<<"$out" || fail "devices did not list bob's device: $out"
out=$(kr "$SEALBOX" devices --home "$AH" 2>&1) || fail "devices (own) failed: $out"
grep -Eq "^ *$(mb_device_id alice) " <<<"$out" || fail "devices did not list alice's device: $out"
out=$(kr "$SEALBOX" verify bob@example.com --home "$AH" 2>&1) || fail "verify failed: $out"
[ -n "$out" ] || fail "verify printed nothing"
out=$(kr "$SEALBOX" status --home "$AH" 2>&1) || fail "status failed: $out"
[[ "$out" == *alice@example.com* ]] || fail "status does not name alice: $out"
[[ "$out" != *"no keyring"* ]] || fail "status reports no keyring: $out"

note "the password from a systemd credential"
mkdir -p "$T/creds"
cp "$PWF" "$T/creds/sealbox-keyring"
chmod 400 "$T/creds/sealbox-keyring"
out=$(CREDENTIALS_DIRECTORY="$T/creds" "$WK" --persist "$PDIR" "$SEALBOX" status --home "$AH" 2>&1) ||
	fail "status with the password from \$CREDENTIALS_DIRECTORY failed: $out"
expect_fail 125 "^with-keyring: cannot read the credential $T/creds/other\$" \
	env CREDENTIALS_DIRECTORY="$T/creds" "$WK" --persist "$PDIR" --credential other true

note "the password at a terminal prompt: no echo, echo back on afterwards"
# A pty of its own (its controlling terminal); the answer is read from the
# password file by python, so it is on no command line either.
cat >"$T/answer_prompt.py" <<'EOF'
import os, pty, sys
answer_file, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out = b""
def more():
    global out
    try:
        d = os.read(fd, 4096)
    except OSError:
        d = b""
    out += d
    return d
while not out.rstrip().endswith(b":"):
    if not more():
        break
with open(answer_file, "rb") as f:
    os.write(fd, f.readline())
while more():
    pass
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(st))
EOF
rc=0
out=$(python3 "$T/answer_prompt.py" "$PWF" bash -c '"$1" --persist "$2" "$3" status --home "$4"; rc=$?; stty -a; exit $rc' \
	_ "$WK" "$PDIR" "$SEALBOX" "$AH") || rc=$?
[ "$rc" -eq 0 ] || fail "status with the password at the prompt exited $rc: $out"
[[ "$out" == *"password for the sealbox keyring in $PDIR: "* ]] || fail "no prompt: $out"
grep -qF -f "$PWF" <<<"$out" && fail "the password was echoed: $out"
grep -Eq '(^|[ ;])echo( |$)' <<<"$out" || fail "echo not restored after the prompt: $out"
rc=0
out=$(python3 "$T/answer_prompt.py" "$T/wrong.pass" "$WK" --persist "$PDIR" true) || rc=$?
[ "$rc" -eq 125 ] || fail "a wrong password at the prompt exited $rc: $out"
[[ "$out" == *"with-keyring: wrong password for the keyring in $PDIR"* ]] || fail "no wrong-password line: $out"

note "private key bytes: in the keyring file only, encrypted"
# Inside a session the keys are read from the keyring and searched for in
# every file of the case and of the keyring dir, straight from the pipe:
# the key bytes are written nowhere.
cat >"$T/scan.py" <<'EOF'
import os, sys
purpose, roots = sys.argv[1], sys.argv[2:]
der = sys.stdin.buffer.read()
if purpose == "storage":
    needles = [der] if len(der) == 32 else []
elif der[:1] != b"\x30":
    needles = []
elif b"\x2a\x86\x48\xce\x3d\x02\x01" in der[:40]:      # EC: the private scalar
    i = der.find(b"\x02\x01\x01\x04\x20")
    needles = [der[i + 5:i + 37]] if i > 0 else []
else:                                                   # RSA: CRT values at the end
    needles = [der[-48:-16], der[-112:-80]]
if not needles or any(len(n) < 32 for n in needles):
    sys.exit("scan: no %s key read from the keyring (%d bytes)" % (purpose, len(der)))
for root in roots:
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                with open(p, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            for n in needles:
                if n in data:
                    sys.exit("scan: %s key bytes found in %s" % (purpose, p))
print("clean", purpose)
EOF
dev=$(mb_device_id alice)
out=$(kr bash -c '
	for p in sign encrypt storage; do
		secret-tool lookup application sealbox address alice@example.com \
			device-id "$1" purpose "$p" | python3 "$2" "$p" "$3" "$4" || exit 1
	done' _ "$dev" "$T/scan.py" "$T" "$PDIR" 2>&1) || fail "$out"
[ "$(grep -c '^clean ' <<<"$out")" -eq 3 ] || fail "key scan: $out"

note "unmount; nothing of any session left"
for ((i = 0; i < 100; i++)); do
	fusermount3 -u "$AM" 2>/dev/null && break
	sleep 0.1
done
wait_until "$(mb_secs 20)" gone "$apid" || fail "mount daemon $apid did not exit after unmount"
! _mb_mounted "$AM" || fail "$AM still mounted"
wait_until 5 no_daemon_of_pdir || fail "a keyring daemon of $PDIR is left"

: >"$T/poll.stop"
wait "$poller" 2>/dev/null || true
[ ! -s "$T/leaks" ] || fail "the password showed in: $(sort -u "$T/leaks" | tr '\n' ' ')"
mb_finish
