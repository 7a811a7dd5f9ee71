#!/usr/bin/env bash
# The on-receive hook (issue 13, point 6): HOME/hooks/on-receive runs once
# per arrival, with the new file's path as its argument and the details in
# SEALBOX_* variables; its output goes to the log; it runs in the
# background, so a hook that hangs delays no delivery, and it is killed
# after the timeout (sealbox mount --hook-timeout), which the log says.  A
# hook that its group or others may write is not run (the log says why).
# Mail that arrives as the mount starts (queued while it was down) runs
# the hook too: the agent holds it until the hook is listening.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"
export TZ=UTC

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
HOOK="$(mb_home bob)/hooks/on-receive"
mkdir -m 700 "$(mb_home bob)/hooks" "$T/seen"
cat >"$HOOK" <<EOF
#!/bin/sh
env | grep '^SEALBOX_' | sort >"$T/seen/\$SEALBOX_NAME.env"
printf '%s\n' "\$#" "\$1" >"$T/seen/\$SEALBOX_NAME.args"
echo "hook saw \$SEALBOX_NAME"
case \$SEALBOX_NAME in *slow*) echo \$\$ >"$T/seen/slow.pid"; sleep 30;; esac
EOF
chmod 700 "$HOOK"
mb_mount alice
mb_mount bob --hook-timeout 2
A=$(mb_mnt alice) B=$(mb_mnt bob)
O="$A/outbox/bob@example.com" I="$B/inbox/alice@example.com"
mkdir "$O"

printf 'hello\n' >"$O/note.txt"
f=$(wait_for_file 20 "$I" "$(mb_inbox_re note.txt)")
n=$(basename "$f")
wait_until "$(mb_secs 10)" test -s "$T/seen/$n.env" || fail "the hook did not run for $n"
{
	echo "SEALBOX_ARRIVED=$(stat -c %z "$f" | awk '{ print $1 "T" $2 "Z" }')"
	echo "SEALBOX_DEVICE=$(getfattr --absolute-names --only-values -n user.sealbox.device "$f")"
	echo "SEALBOX_EVENT=receive"
	echo "SEALBOX_FOLDER=alice@example.com"
	echo "SEALBOX_HOME=$(mb_home bob)"
	echo "SEALBOX_ID=$(getfattr --absolute-names --only-values -n user.sealbox.id "$f")"
	echo "SEALBOX_MOUNT=$B"
	echo "SEALBOX_NAME=$n"
	echo "SEALBOX_PATH=$f"
	echo "SEALBOX_SENDER=alice@example.com"
	echo "SEALBOX_SENT=$(date -u -d "@$(stat -c %Y "$f")" +%Y-%m-%dT%H:%M:%SZ)"
	echo "SEALBOX_SIZE=6"
	echo "SEALBOX_VERIFIED=yes"
} >"$T/want.env"
cmp "$T/want.env" "$T/seen/$n.env" || fail "hook environment: $(diff "$T/want.env" "$T/seen/$n.env")"
printf '1\n%s\n' "$f" | cmp - "$T/seen/$n.args" || fail "hook arguments: $(cat "$T/seen/$n.args")"
wait_until "$(mb_secs 5)" grep -qx "sealbox: hook on-receive: hook saw $n" "$(mb_log bob)" ||
	fail "the hook's output is not in the log: $(grep hook "$(mb_log bob)")"

note "a hook that hangs delays nothing and is killed after 2 s"
printf 'slow\n' >"$O/slow.txt"
slow=$(wait_for_file 20 "$I" "$(mb_inbox_re slow.txt)")
wait_until "$(mb_secs 5)" test -s "$T/seen/slow.pid" || fail "the slow hook did not start"
t0=$(date +%s%N)
printf 'fast\n' >"$O/fast.txt"
fast=$(wait_for_file 20 "$I" "$(mb_inbox_re fast.txt)")
kill -0 "$(cat "$T/seen/slow.pid")" 2>/dev/null ||
	fail "the slow hook ended before fast.txt arrived: delivery waited for it"
[ ! -e "$T/seen/$(basename "$fast").env" ] || fail "fast.txt's hook ran beside the slow one"
wait_until "$(mb_secs 10)" grep -qx "sealbox: hook on-receive: killed after 2 s: $slow" "$(mb_log bob)" ||
	fail "no kill in the log: $(grep hook "$(mb_log bob)")"
! kill -0 "$(cat "$T/seen/slow.pid")" 2>/dev/null || fail "the slow hook still runs"
wait_until "$(mb_secs 10)" test -s "$T/seen/$(basename "$fast").env" || fail "fast.txt's hook never ran"
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -lt $(( 8000 * MB_SLOW )) ] || fail "the queue took $(( (t1 - t0) / 1000000 )) ms"

note "a hook others may write is not run"
chmod 770 "$HOOK"
printf 'unsafe\n' >"$O/unsafe.txt"
u=$(wait_for_file 20 "$I" "$(mb_inbox_re unsafe.txt)")
wait_until "$(mb_secs 5)" grep -qx "sealbox: hook on-receive: not run for $u: $HOOK is writable by its group or others" "$(mb_log bob)" ||
	fail "no refusal in the log: $(grep hook "$(mb_log bob)")"
[ ! -e "$T/seen/$(basename "$u").env" ] || fail "the unsafe hook ran"
chmod 700 "$HOOK"

note "mail that waited at the relay while bob was away runs the hook at the mount"
mb_umount bob
for i in 1 2 3; do printf 'away %s\n' "$i" >"$O/away$i.txt"; done
for i in 1 2 3; do wait_status 20 "$O/away$i.txt" '^(sent|delivered 0/1)$'; done
mb_mount bob --hook-timeout 2
for i in 1 2 3; do
	a=$(wait_for_file 20 "$I" "$(mb_inbox_re "away$i.txt")")
	wait_until "$(mb_secs 10)" test -s "$T/seen/$(basename "$a").env" ||
		fail "no hook for away$i.txt, which arrived as the mount started"
done
mb_finish
