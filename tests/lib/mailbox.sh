# mailbox.sh - sourced by tests/integration/mailbox_*.sh after
# tests/lib/common.sh: the real relay, real devices enrolled with
# `sealbox init`, real FUSE mounts (`sealbox mount -f`), all inside the one
# private Secret Service of the case.  Never a mock, never a skip.
#
# A case starts with (before sourcing anything; docs/KEYRING.md):
#   here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
#   [ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
#   source "$top/tests/lib/common.sh"
#   source "$SB_TOP/tests/lib/mailbox.sh"
# so its keyring, temp dir and every daemon live and die inside one run
# (and it also runs from a subfolder such as tests/integration/pending/).
#
#   mb_relay [init options]        relay on 127.0.0.1 ($RDATA $RPORT $FP, log
#                                  $RLOG; relay_stop/relay_start from relay.sh)
#   mb_device NAME ADDRESS [--suite S ...]
#                                  invite + `sealbox init` into $T/NAME/home
#                                  (the code on stdin); --relay is $MB_RELAY
#                                  when set (a cluster's node list), else
#                                  127.0.0.1:$RPORT
#   mb_mount NAME                  `sealbox mount $T/NAME/mnt -f`, stderr to
#                                  $T/NAME.log, waits until outbox/ lists
#   mb_mount_under NAME CMD...     mb_mount NAME with its `sealbox mount` run
#                                  under CMD (a tracer: exec CMD sealbox ...;
#                                  no leak check in an ASan build)
#   mb_link_start NAME ADDRESS     `sealbox init --link` into $T/NAME/home in the
#                                  background (a new device of an account
#                                  that has devices: waits for approval)
#   mb_link_code NAME              the link code it printed (waits for it)
#   mb_link_wait NAME              waits for it to exit 0 (approved)
#   mb_umount NAME                 fusermount3 -u; the daemon must exit 0,
#                                  leave nothing mounted, no sanitizer report
#   mb_kill9 NAME                  SIGKILL the daemon, detach its dead mount
#   mb_alice_to_bob [relay opts]   relay + alice and bob mounted, outbox/bob@ made;
#                                  sets A B O I
#   mb_finish                      unmounts every device, stops the relay (all
#                                  checked); the last line of every case
#   mb_home/mb_mnt/mb_pid/mb_log NAME, mb_device_id NAME
#   wait_for_file SECONDS DIR REGEX  prints DIR/NAME of the first entry of DIR
#                                  whose name matches REGEX, within SECONDS
#   mb_inbox_re BASE               the regex of an incoming name for file BASE
#   mb_count DIR REGEX             how many entries of DIR match REGEX
#   mb_status FILE                 the user.sealbox.status xattr ("" if none)
#   mb_trust FOLDER                the user.sealbox.trust xattr of an inbox/ or
#                                  outbox/ folder ("" if none)
#   mb_fp NAME ADDRESS DEVICE      DEVICE's key fingerprint (32 hex digits) as
#                                  `sealbox devices ADDRESS` shows it to NAME
#   mb_alert_re                    the regex of an alert line's time stamp
#   mb_alert_shown NAME ADDR WHAT  NAME's newest alert is "TIME ADDR WHAT", in
#                                  MNT/alerts, its log and `sealbox status`,
#                                  and the ADDR folders there are (inbox/,
#                                  outbox/) read "changed: ADDR WHAT"; prints
#                                  the line
#   wait_status SECONDS FILE REGEX
#   mb_relay_stop_at_upload        arms a watcher that SIGSTOPs the relay the
#                                  moment it logs its next blob upload's start;
#                                  mb_relay_stopped_wait SECONDS waits for that
#                                  (then kill -CONT "$RPID" lets it go on;
#                                  the watcher's pid: $MB_UPLOAD_WATCHER)
#   mb_errno OP PATH [ARG]         runs one syscall from python3, prints OK or
#                                  the errno's name (EROFS, ENXIO, ...)
#   mb_vmhwm_kb NAME, mb_fd_count NAME   the mount's peak RSS (kB), open fds
#   mb_sql SQL [ARGS...]           a read-only query on the relay's database (relay.sh)
#   mb_sent_count NAME             message ids NAME submitted (relay status)
#   mb_queue_len NAME, wait_queue_empty SECONDS NAME   NAME's relay queue
#   mb_data SIZE SEED              reproducible pseudo-random bytes
# Deadlines (SECONDS) are multiplied by 4 for an ASan build.
#
# On any exit the EXIT trap detaches every mount still there and reaps every
# daemon (SIGKILL after a deadline), so a failing case leaves nothing
# mounted; a watchdog (MB_CASE_LIMIT, default 240 s) kills the case's mount
# daemons if an operation hangs in one.

source "$SB_TOP/tests/lib/relay.sh"

[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] ||
	fail "mailbox cases run inside scripts/with-keyring (see tests/lib/mailbox.sh)"
command -v fusermount3 >/dev/null || fail "fusermount3 not installed"
[ -c /dev/fuse ] || fail "/dev/fuse missing: cannot mount"

# The mailbox never needs more than a few seconds per delivery on loopback;
# a sanitizer build is slower, so deadlines scale (x4; scripts/valgrind.sh
# sets MB_SLOW itself for memcheck).
if [ -z "${MB_SLOW:-}" ]; then
	MB_SLOW=1
	# (grep reads all of nm's output: grep -q could exit first and the SIGPIPE
	# would fail the pipeline under pipefail.)
	if [ "$(nm -an "$SEALBOX" 2>/dev/null | grep -c __asan_init || true)" -gt 0 ]; then MB_SLOW=4; fi
fi
export MB_SLOW
mb_secs() { echo $(( $1 * MB_SLOW )); }

declare -A _mb_pid=()
_mb_names=()

mb_home() { echo "$T/$1/home"; }
mb_mnt() { echo "$T/$1/mnt"; }
mb_log() { echo "$T/$1.log"; }
mb_pid() { echo "${_mb_pid[$1]:-}"; }

# The device id `sealbox init` wrote into the home's config.
mb_device_id() {
	awk -F' *= *' '$1 == "device_id" { print $2 }' "$(mb_home "$1")/config"
}

mb_relay() {
	relay_init "$@"
	relay_start
	on_exit "_mb_reap_all"
	_mb_watchdog
}

# A file operation stuck in a hung FUSE daemon blocks the case in an
# uninterruptible wait, where no signal (not the runner's timeout either)
# lets the EXIT trap run.  The watchdog kills this case's mount daemons after
# MB_CASE_LIMIT seconds (the stuck call then fails with ENOTCONN), so the
# case fails and cleans up instead of hanging with its mounts left behind.
_mb_watchdog() {
	local limit=$(( ${MB_CASE_LIMIT:-240} * MB_SLOW ))
	# Under the runner's own 600 s timeout, whatever the build
	# (scripts/valgrind.sh allows longer: MB_CASE_CAP).
	[ "$limit" -le "${MB_CASE_CAP:-560}" ] || limit=${MB_CASE_CAP:-560}
	(
		trap 'kill $s 2>/dev/null; exit 0' TERM
		sleep "$limit" &
		s=$!
		wait "$s"
		echo "FAIL: watchdog: case still running after $limit s; killing its mounts" >&2
		for p in $(cat "$T/daemons.pids" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	) &
	on_exit "kill -TERM $!"
}

# mb_device NAME ADDRESS [extra init options]
# The account's first device enrolls with an invitation; a later one is
# linked and approved by the first (PROTOCOL.md 14.4), as a user adds a
# device: the account's devices and its correspondents accept it.
# MB_UNLINKED=1 enrolls a later device with an invitation all the same
# (the operator's word alone: approved by nobody).
declare -A _mb_first=()
mb_device() {
	local name=$1 address=$2 code out first
	shift 2
	first=${_mb_first[$address]:-}
	if [ -n "$first" ] && [ -z "${MB_UNLINKED:-}" ]; then
		mb_link_start "$name" "$address" "$@"
		code=$(mb_link_code "$name")
		out=$("$SEALBOX" devices --home "$(mb_home "$first")" approve "$code" 2>&1) ||
			fail "approving $name on $first: $out"
		mb_link_wait "$name"
		return 0
	fi
	[ -n "$first" ] || _mb_first[$address]=$name
	mkdir -p "$T/$name/mnt"
	code=$("$SEALBOX_RELAY" invite --data "$RDATA" "$address") || fail "invite $address"
	# The code goes on stdin, never argv (issue 12, finding 3); printf is a
	# builtin, so it shows up in no command line either.
	out=$(printf '%s\n' "$code" | "$SEALBOX" init --home "$(mb_home "$name")" \
		--address "$address" --relay "${MB_RELAY:-127.0.0.1:$RPORT}" --fingerprint "$FP" \
		--device-name "$name" "$@" 2>&1) || fail "sealbox init $name ($address): $out"
	[ -s "$(mb_home "$name")/config" ] || fail "sealbox init $name wrote no config"
	[[ "$(mb_device_id "$name")" =~ ^[1-9][0-9]*$ ]] ||
		fail "no device_id in $(mb_home "$name")/config"
}

declare -A _mb_link=()

mb_link_start() {
	local name=$1 address=$2
	shift 2
	mkdir -p "$T/$name/mnt"
	"$SEALBOX" init --link --home "$(mb_home "$name")" --address "$address" \
		--relay "${MB_RELAY:-127.0.0.1:$RPORT}" --fingerprint "$FP" --device-name "$name" "$@" \
		>"$T/$name.link" 2>&1 &
	_mb_link[$name]=$!
	echo "$!" >>"$T/daemons.pids"
}

mb_link_code() {
	local name=$1 deadline
	deadline=$(( $(date +%s) + $(mb_secs 20) ))
	until grep -q '^link code: ' "$T/$name.link" 2>/dev/null; do
		_mb_alive "${_mb_link[$name]}" ||
			fail "sealbox init --link $name ended: $(cat "$T/$name.link")"
		[ "$(date +%s)" -lt "$deadline" ] || fail "no link code from $name: $(cat "$T/$name.link")"
		sleep 0.05
	done
	sed -n 's/^link code: //p' "$T/$name.link" | head -1
}

mb_link_wait() {
	_mb_wait_pid "${_mb_link[$1]}" "$(mb_secs 30)"
	[ "$_mb_st" -eq 0 ] || fail "sealbox init --link $1 exited $_mb_st: $(cat "$T/$1.link")"
	[ -s "$(mb_home "$1")/config" ] || fail "sealbox init --link $1 wrote no config"
}

_mb_alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# 1 while PATH is a mount point per the kernel's table: unlike mountpoint(1)
# this also sees a dead FUSE mount (its daemon gone: stat says ENOTCONN).
_mb_mounted() {
	awk -v p="$1" '$2 == p { found = 1 } END { exit !found }' /proc/self/mounts
}

_mb_ready() {
	mountpoint -q "$1" && ls "$1/outbox" >/dev/null && ls "$1/inbox" >/dev/null
}

# mb_mount NAME [mount options]
mb_mount() {
	local name=$1 mnt pid deadline
	shift
	mnt=$(mb_mnt "$name")
	mkdir -p "$mnt"
	! _mb_mounted "$mnt" || fail "$mnt is already mounted"
	echo "=== mount $(date +%T.%N)" >>"$(mb_log "$name")"
	"$SEALBOX" mount "$mnt" -f --home "$(mb_home "$name")" "$@" 2>>"$(mb_log "$name")" &
	pid=$!
	_mb_pid[$name]=$pid
	echo "$pid" >>"$T/daemons.pids"
	[[ " ${_mb_names[*]} " == *" $name "* ]] || _mb_names+=("$name")
	deadline=$(( $(date +%s) + $(mb_secs 30) ))
	until _mb_ready "$mnt" 2>/dev/null; do
		_mb_alive "$pid" ||
			fail "sealbox mount $name exited before it was ready: $(tail -5 "$(mb_log "$name")")"
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail "sealbox mount $name not ready within $(mb_secs 30) s: $(tail -5 "$(mb_log "$name")")"
		sleep 0.05
	done
}

mb_mount_under() {
	local name=$1 real=$SEALBOX w
	shift
	w="$T/sealbox-under-$name"
	# (LeakSanitizer cannot run under ptrace: an ASan build checks no
	# leaks in this one mount, as outbox_fsync.sh does)
	{
		printf '#!/bin/sh\nASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"\n'
		printf 'export ASAN_OPTIONS\nexec'
		printf ' %q' "$@" "$real"
		printf ' "$@"\n'
	} >"$w"
	chmod +x "$w"
	SEALBOX=$w mb_mount "$name"
}

_mb_sanitizer_check() {
	if grep -qE "ERROR: (Address|Leak|Thread)Sanitizer|runtime error:" "$1" 2>/dev/null; then
		fail "sanitizer report in $1: $(grep -m3 -E 'Sanitizer|runtime error' "$1")"
	fi
}

# Waits (deadline) for pid, a child of this shell, to end (SIGKILL after
# the deadline); its exit status goes to $_mb_st (137 after KILL).  Not for
# $(...): a subshell cannot wait for its parent's children.
_mb_wait_pid() {
	local pid=$1 secs=$2 deadline n
	deadline=$(( $(date +%s) + secs ))
	while _mb_alive "$pid"; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	# (a mount of this case: unstuck if a thread of it hangs on itself)
	for n in "${!_mb_pid[@]}"; do
		[ "${_mb_pid[$n]}" != "$pid" ] || _mb_unstick "$pid" "$(mb_mnt "$n")"
	done
	_mb_st=0
	wait "$pid" 2>/dev/null || _mb_st=$?
}

mb_umount() {
	local name=$1 mnt pid st i
	mnt=$(mb_mnt "$name")
	pid=${_mb_pid[$name]:-}
	[ -n "$pid" ] || fail "mb_umount $name: not mounted by this case"
	# A just-closed file may still pin the mount for a moment (EBUSY).
	for ((i = 0; i < 100; i++)); do
		fusermount3 -u "$mnt" 2>/dev/null && break
		sleep 0.1
	done
	[ "$i" -lt 100 ] || fail "fusermount3 -u $mnt kept failing: $(fusermount3 -u "$mnt" 2>&1)"
	_mb_wait_pid "$pid" "$(mb_secs 20)"
	st=$_mb_st
	_mb_pid[$name]=
	! _mb_mounted "$mnt" || fail "$mnt still mounted after fusermount3 -u"
	[ "$st" -eq 0 ] || fail "sealbox mount $name exited $st after unmount: $(tail -5 "$(mb_log "$name")")"
	_mb_sanitizer_check "$(mb_log "$name")"
}

# A thread of a killed mount caught inside a request to its own mount
# (the announcer's create or close, fs/announce.c) waits for an answer
# nobody will give: the process cannot end and its mount is never released
# (seen with mailbox_batch_kill9 and fault_kill9).  _mb_wait_pid calls it
# for a mount of the case.  Once the other threads are gone, such a
# connection is aborted through fusectl (mounted here if it is not), which
# fails that request and lets the process end.
_mb_unstick() {
	local pid=$1 mnt=$2 i dev
	for ((i = 0; i < 40; i++)); do
		[ "$(ls "/proc/$pid/task" 2>/dev/null | wc -l)" -le 1 ] && return 0
		sleep 0.05
	done
	dev=$(awk -v p="$mnt" '$5 == p { d = $3 } END { print d }' /proc/self/mountinfo)
	[ -n "$dev" ] || return 0
	mountpoint -q /sys/fs/fuse/connections ||
		mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
	echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort" 2>/dev/null || true
	# Since f6a09fa no thread of the daemon calls into its own mount, so
	# this is a regression: fail the case (after freeing it), do not hide it.
	fail "a thread of the killed mount of $mnt was stuck in a request to its own" \
		"mount (aborted its FUSE connection; see mount_kill9_announce.sh)"
}

mb_kill9() {
	local name=$1 pid
	pid=${_mb_pid[$name]:-}
	[ -n "$pid" ] || fail "mb_kill9 $name: not mounted by this case"
	kill -KILL "$pid"
	_mb_wait_pid "$pid" 10
	_mb_pid[$name]=
	# The kernel keeps a dead FUSE mount ("transport endpoint is not
	# connected") until it is detached.
	fusermount3 -u "$(mb_mnt "$name")" 2>/dev/null || fusermount3 -uz "$(mb_mnt "$name")" 2>/dev/null || true
	! _mb_mounted "$(mb_mnt "$name")" || fail "dead mount of $name still attached"
}

# EXIT trap: never fails, never waits long; leaves nothing mounted.
_mb_reap_all() {
	local name pid mnt
	for name in "${_mb_names[@]}"; do
		mnt=$(mb_mnt "$name")
		pid=${_mb_pid[$name]:-}
		if _mb_mounted "$mnt"; then
			fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
		fi
		if [ -n "$pid" ]; then
			_mb_wait_pid "$pid" 10
		fi
		! _mb_mounted "$mnt" || fusermount3 -uz "$mnt" 2>/dev/null
	done
	return 0
}

# The last line of every case: every device unmounted cleanly (exit 0), the
# relay stopped cleanly, nothing left mounted, no sanitizer report anywhere.
mb_finish() {
	local name
	for name in "${_mb_names[@]}"; do
		[ -z "${_mb_pid[$name]:-}" ] || mb_umount "$name"
		_mb_sanitizer_check "$(mb_log "$name")"
		! _mb_mounted "$(mb_mnt "$name")" || fail "$(mb_mnt "$name") left mounted"
	done
	relay_stop
	if grep -qs " $T/" /proc/self/mounts; then
		fail "left mounted: $(grep " $T/" /proc/self/mounts)"
	fi
}

# ---- waiting and looking --------------------------------------------------

# mb_count DIR REGEX: entries of DIR whose name matches REGEX (0 if no DIR).
mb_count() {
	local dir=$1 re=$2 n=0 f
	[ -d "$dir" ] || { echo 0; return 0; }
	while IFS= read -r f; do
		[[ "$f" =~ $re ]] && n=$((n + 1))
	done < <(ls -A "$dir" 2>/dev/null)
	echo "$n"
}

_mb_find() {
	local dir=$1 re=$2 f
	[ -d "$dir" ] || return 1
	while IFS= read -r f; do
		if [[ "$f" =~ $re ]]; then
			echo "$dir/$f"
			return 0
		fi
	done < <(ls -A "$dir" 2>/dev/null)
	return 1
}

# wait_for_file SECONDS DIR REGEX -> prints the path; fails the case on timeout.
wait_for_file() {
	local secs deadline out
	secs=$(mb_secs "$1")
	deadline=$(( $(date +%s) + secs ))
	until out=$(_mb_find "$2" "$3"); do
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail "nothing matching /$3/ in $2 within $secs s (has: $(ls -A "$2" 2>&1 | tr '\n' ' '))"
		sleep 0.1
	done
	echo "$out"
}

# The inbox name of a file called BASE: YYYYMMDDTHHMMSSZ-<sequence within
# that second>-<short id>-BASE.
mb_inbox_re() {
	local base
	base=$(printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g')
	echo "^[0-9]{8}T[0-9]{6}Z-[0-9]{4,}-[0-9a-f]{4,32}-$base\$"
}

mb_status() {
	getfattr --absolute-names --only-values -n user.sealbox.status "$1" 2>/dev/null || true
}

mb_trust() {
	getfattr --absolute-names --only-values -n user.sealbox.trust "$1" 2>/dev/null || true
}

mb_fp() {
	"$SEALBOX" devices --home "$(mb_home "$1")" "$2" |
		awk -v d="$3" '$1 == d { print $4 $5 $6 $7 $8 $9 $10 $11 }'
}

# An alert line (MNT/alerts, `sealbox status`, the log) starts with its UTC time.
mb_alert_re='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

mb_alert_shown() {
	local name=$1 addr=$2 what=$3 line mnt st box
	mnt=$(mb_mnt "$name")
	line=$(tail -1 "$mnt/alerts")
	[[ "${line%% *}" =~ ^$mb_alert_re$ && "${line#* }" = "$addr $what" ]] ||
		fail "$name's newest alert: '$line', wanted 'TIME $addr $what'"
	grep -qxF "sealbox: alert: $line" "$(mb_log "$name")" ||
		fail "not in $name's log: sealbox: alert: $line"
	st=$("$SEALBOX" status --home "$(mb_home "$name")") || true
	grep -qxF "alert: $line" <<<"$st" || fail "sealbox status of $name does not list it: $st"
	[ -d "$mnt/inbox/$addr" ] || [ -d "$mnt/outbox/$addr" ] ||
		fail "$name has no folder for $addr"
	for box in inbox outbox; do
		[ ! -d "$mnt/$box/$addr" ] || [ "$(mb_trust "$mnt/$box/$addr")" = "changed: $addr $what" ] ||
			fail "$name's $box/$addr trust: '$(mb_trust "$mnt/$box/$addr")'"
	done
	echo "$line"
}

mb_relay_stop_at_upload() {
	{ timeout "$(mb_secs 60)" tail -n0 -F "$RLOG" 2>/dev/null || true; } |
		{ grep -m1 -q 'blob upload conn=' && kill -STOP "$RPID"; } &
	MB_UPLOAD_WATCHER=$!
	# (tail must be reading before the upload can start)
	sleep 0.3
}
_mb_relay_stopped() { [ "$(awk '{print $3}' "/proc/$RPID/stat")" = T ]; }
mb_relay_stopped_wait() { wait_until "$(mb_secs "$1")" _mb_relay_stopped; }

# wait_status SECONDS FILE REGEX
wait_status() {
	local secs deadline st
	secs=$(mb_secs "$1")
	deadline=$(( $(date +%s) + secs ))
	until st=$(mb_status "$2"); [[ "$st" =~ $3 ]]; do
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail "status of $2 is '$st', not /$3/ within $secs s"
		sleep 0.1
	done
}

# mb_errno OP PATH [ARG]: one operation, prints OK or the errno name.
#   read (whole file), create (O_CREAT|O_WRONLY), write (O_WRONLY existing),
#   append, mkdir, rmdir, unlink, rename PATH NEW, truncate, setxattr, stat
mb_errno() {
	python3 - "$@" <<'PY'
import errno, os, sys
op, path = sys.argv[1], sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else None
try:
    if op == "read":
        fd = os.open(path, os.O_RDONLY)
        try:
            while os.read(fd, 1 << 16):
                pass
        finally:
            os.close(fd)
    elif op == "create":
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
    elif op in ("write", "append"):
        fd = os.open(path, os.O_WRONLY | (os.O_APPEND if op == "append" else 0))
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
    elif op == "mkdir":
        os.mkdir(path)
    elif op == "rmdir":
        os.rmdir(path)
    elif op == "unlink":
        os.unlink(path)
    elif op == "rename":
        os.rename(path, arg)
    elif op == "truncate":
        os.truncate(path, 0)
    elif op == "setxattr":
        os.setxattr(path, "user.test", b"1")
    elif op == "stat":
        os.stat(path)
    else:
        sys.exit("mb_errno: unknown op " + op)
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
}

mb_vmhwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/${_mb_pid[$1]}/status"
}

# The number of distinct messages device NAME submitted to the relay (its
# per-recipient status rows carry the message id).
mb_sent_count() {
	mb_sql "SELECT COUNT(DISTINCT msgid) FROM status WHERE sender_device = ?" "$(mb_device_id "$1")"
}

# Writes N bytes of reproducible pseudo-random data (seeded by SEED) to stdout.
mb_data() {
	local n=$1 seed=${2:-1}
	# openssl dies of SIGPIPE when head has enough: not a failure here.
	{ openssl enc -aes-128-ctr -nosalt -pass "pass:sealbox-test-$seed" -pbkdf2 -iter 1 \
		-in /dev/zero 2>/dev/null || true; } | head -c "$n"
}

# Items waiting in the relay's queue for device NAME.
mb_queue_len() {
	mb_sql "SELECT COUNT(*) FROM queue WHERE device_id = ?" "$(mb_device_id "$1")"
}
_mb_queue_empty() { [ "$(mb_queue_len "$1")" -eq 0 ]; }
# wait_queue_empty SECONDS NAME: NAME acknowledged everything queued for it.
wait_queue_empty() {
	wait_until "$(mb_secs "$1")" _mb_queue_empty "$2" ||
		fail "$2 left $(mb_queue_len "$2") item(s) unacknowledged at the relay"
}

# Open file descriptors of NAME's mount daemon.
mb_fd_count() {
	ls "/proc/${_mb_pid[$1]}/fd" | wc -l
}

# mb_alice_to_bob [relay init options]: the common opening of a case: a
# relay, alice and bob enrolled and mounted, alice's conversation with bob
# started.  Sets A, B (the mounts), O (alice's outbox/bob@example.com) and
# I (bob's inbox/alice@example.com, which appears with the first delivery).
mb_alice_to_bob() {
	mb_relay "$@"
	mb_device alice alice@example.com
	mb_device bob bob@example.com
	mb_mount alice
	mb_mount bob
	A=$(mb_mnt alice) B=$(mb_mnt bob)
	O="$A/outbox/bob@example.com" I="$B/inbox/alice@example.com"
	mkdir "$O"
}
