#!/usr/bin/env bash
# kill -9 of a mount while it announces an arrival to inotify (issue 13,
# point 6: the mount creates each new name on itself so the kernel raises
# the event).  A process that waits inside a call on its own FUSE mount
# cannot be killed: the kernel waits uninterruptibly for an answer only
# that process could give.  So those calls are made by a child process
# holding no /dev/fuse descriptor (fs/announce.c), and a kill -9 of the
# mount, caught at the moment a call of it is inside the FUSE wait, ends
# the mount at once and frees the child.  Before, a thread of the daemon
# made them and such a kill left a process that never died (fault_kill9
# hit it three times).  Each round waits until some task of the mount or
# its child is blocked in the FUSE wait (request_wait_answer in
# /proc/*/wchan) while mail streams in, then kills the mount.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

ROUNDS=${ROUNDS:-4}
mb_alice_to_bob
( i=0; while :; do printf 'stream %d\n' "$i" >"$O/s$i.txt" 2>/dev/null || exit 0; i=$((i + 1)); sleep 0.002; done ) &
writer=$!
on_exit "kill $writer 2>/dev/null"

# The tasks of pid and of its children, one "TID WCHAN" per line.
tasks() {
	local p t
	for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		for t in /proc/"$p"/task/*; do
			echo "${t##*/} $(cat "$t/wchan" 2>/dev/null)"
		done
	done
}
# Sets who to a task of pid's in the FUSE wait; fails when there is none.
in_fuse_wait() { who=$(tasks "$1" | grep ' request_wait_answer$' | head -1) || true; [ -n "$who" ]; }

for r in $(seq 1 "$ROUNDS"); do
	pid=$(mb_pid bob)
	dev=$(mountpoint -d "$B")
	kids=
	for k in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		if [ "$(cat /proc/"$k"/comm 2>/dev/null)" = sealbox-announ ]; then kids="$kids $k"; fi
	done
	[ -n "$kids" ] || fail "round $r: bob's mount has no announcer process:$(for k in \
		$(cat /proc/"$pid"/task/*/children 2>/dev/null); do printf ' %s=%s' "$k" "$(cat /proc/"$k"/comm)"; done)"
	wait_until "$(mb_secs 20)" in_fuse_wait "$pid" ||
		fail "round $r: no task of bob's mount waited in FUSE in 20 s: $(tasks "$pid")"
	kill -KILL "$pid"
	# Every task dead, not just the leader: a thread stuck in the FUSE
	# wait leaves a zombie leader whose process never ends.
	gone() {
		local t
		for t in /proc/"$pid"/task/*/stat; do
			[ -e "$t" ] || continue
			[ "$(awk '{print $3}' "$t" 2>/dev/null)" = Z ] || return 1
		done
	}
	if ! wait_until 5 gone; then
		stack=$(for t in /proc/"$pid"/task/*; do cat "$t/stack" 2>/dev/null; done | sort | uniq -c | sort -rn | head -8)
		echo 1 >/sys/fs/fuse/connections/"${dev#*:}"/abort 2>/dev/null || true
		fail "round $r: bob's mount did not die within 5 s of kill -9 (task $who was in the FUSE wait): $stack"
	fi
	for k in $kids; do
		wait_until 5 eval "! _mb_alive $k" || fail "round $r: the announcer $k outlived its mount"
	done
	note "round $r: killed while task ${who% *} waited in FUSE; gone at once"
	_mb_wait_pid "$pid" 5
	_mb_pid[bob]=
	fusermount3 -u "$B" 2>/dev/null || fusermount3 -uz "$B"
	mb_mount bob
done
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null || true
mb_finish
