#!/usr/bin/env bash
# sealbox umount and sealbox status (issue 17):
#   - status says whether and where the home is mounted ("mounted: at MNT
#     by pid N" / "mounted: no"), the queue, the last contact with the
#     relay, every open trust alert and every attachment waiting for space;
#   - umount refuses what is not a sealbox mount (one line, exit 1; no
#     mountpoint: exit 2), retries while a file of the mount is still open
#     (saying so), unmounts once it is closed, and returns only after the
#     mount's process exited (found by --home, or by the home's lock
#     without it); the file closed last is queued and goes out at the next
#     mount; a file held open past --timeout makes it give up (exit 1).
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
H=$(mb_home alice) A=$(mb_mnt alice)

st=$("$SEALBOX" status --home "$H") || fail "status: $st"
grep -qx 'mounted:  no' <<<"$st" || fail "status before the mount: $st"
# (init made store.db for the account's pins; no message is in it yet)
grep -qxE 'last contact: never \(no messages? (sent or received )?yet\)' <<<"$st" ||
	fail "status, fresh home: $st"

mb_mount alice
mb_mount bob
pid=$(mb_pid alice)
st=$("$SEALBOX" status --home "$H") || fail "status: $st"
grep -qx "mounted:  at $A by pid $pid" <<<"$st" || fail "status while mounted: $st"
grep -qx 'outbox:   0 queued, 0 failed' <<<"$st" || fail "status outbox: $st"

note "a sent message is the last contact"
O="$A/outbox/bob@example.com"
mkdir "$O"
printf 'hello\n' >"$O/first.txt"
wait_status 30 "$O/first.txt" '^(sent|delivered [01]/1)$'
st=$("$SEALBOX" status --home "$H") || fail "status: $st"
grep -Eq '^last contact: 20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z$' <<<"$st" ||
	fail "no last contact after a send: $st"

note "umount: refusals"
expect_fail 1 "^sealbox: umount: $T is not a sealbox mount\$" "$SEALBOX" umount "$T"
expect_fail 1 "^sealbox: umount: /proc is not a sealbox mount \\(it is proc\\)\$" "$SEALBOX" umount /proc
expect_fail 2 '^sealbox: umount: which mountpoint\? \(sealbox umount MOUNTPOINT\)$' "$SEALBOX" umount
expect_fail 2 "^sealbox: umount: unexpected argument 'x'\$" "$SEALBOX" umount "$A" x
expect_fail 2 '^sealbox: umount: --timeout must be 1..3600 seconds$' "$SEALBOX" umount "$A" --timeout 0

note "umount waits while a file is open for writing, then unmounts"
exec 3>"$O/held.txt"
printf 'written while umount waits\n' >&3
expect_fail 1 "^sealbox: umount: $A is still busy after 1 s: a file in it is still open \\(close it, or find it with fuser -vm $A\\)\$" \
	sh -c "'$SEALBOX' umount --home '$H' --timeout 1 '$A' 2>&1 >/dev/null | tail -1 >&2; exit 1" 3>&-
mountpoint -q "$A" || fail "a refused umount unmounted anyway"
rc=0
"$SEALBOX" umount --home "$H" "$A" 2>"$T/umount.err" 3>&- &
upid=$!
sleep 1
_mb_alive "$pid" || fail "the mount went away while a file was open"
exec 3>&-
wait "$upid" || rc=$?
[ "$rc" -eq 0 ] || fail "umount exit $rc: $(cat "$T/umount.err")"
grep -qx "sealbox: umount: $A is busy (a file in it is open); retrying for up to 30 s" "$T/umount.err" ||
	fail "umount did not say it waited: $(cat "$T/umount.err")"
# It returned only once the serving process was gone (a zombie awaits our wait).
! _mb_alive "$pid" || fail "umount returned while pid $pid still runs"
! _mb_mounted "$A" || fail "$A still mounted"
_mb_wait_pid "$pid" 5
[ "$_mb_st" -eq 0 ] || fail "the mount exited $_mb_st"
_mb_pid[alice]=
st=$("$SEALBOX" status --home "$H") || true
grep -qx 'mounted:  no' <<<"$st" || fail "status after umount: $st"
# The file closed last is in the spool: queued, or already sent by the
# agent between its close and the unmount; either way it reaches bob.
grep -Eqx 'outbox:   [01] queued, 0 failed' <<<"$st" || fail "the held file: $st"

note "remount: the held file goes out; umount finds the home by its lock"
mb_mount alice
pid=$(mb_pid alice)
wait_status 30 "$O/held.txt" '^(sent|delivered [01]/1)$'
SEALBOX_HOME="$T/elsewhere" "$SEALBOX" umount "$A" || fail "umount without --home"
! _mb_alive "$pid" || fail "umount without --home returned while pid $pid still runs"
_mb_wait_pid "$pid" 5
[ "$_mb_st" -eq 0 ] || fail "the mount exited $_mb_st"
_mb_pid[alice]=
g=$(wait_for_file 30 "$(mb_mnt bob)/inbox/alice@example.com" "$(mb_inbox_re held.txt)")
[ "$(cat "$g")" = 'written while umount waits' ] || fail "bob got: $(cat "$g")"

note "open alerts and waiting attachments, as the agent records them in store.db"
# Events per agent/trust.h: 1 changed, 2 added; a closed alert (the user
# accepted or confirmed) is history, not listed.  Sealed under alice's
# storage key by the agent's own code (tests/helpers/trust_alert.c).
o=$(python3 -c 'print(bytes(range(32)).hex())') n=$(python3 -c 'print(bytes(range(100, 132)).hex())')
alert() { TRUST_ALERT_ADDR=$1 "$SB_BUILD/tests/helpers/trust_alert" "$H" alice@example.com \
	"$(mb_device_id alice)" "${@:2}" || fail "trust_alert $*"; }
alert bob@example.com 1764860000 1 7 "$o" "$n" 0
alert carol@example.com 1764865000 3 4 "$o" - 1764866000
alert bob@example.com 1764870000 2 9 - "$n" 0
python3 - "$H/store.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO inbox_waiting(item_id, sender, size, need, avail, since, tries)"
           " VALUES (42, 'bob@example.com', 3*1048576+1, 12*1048576, 5*1048576+7, 1764870000, 3)")
db.commit()
PY
st=$("$SEALBOX" status --home "$H") || fail "status: $st"
want=$'alert: 2025-12-04T14:53:20Z bob@example.com device 7 changed 000102030405060708090a0b0c0d0e0f -> 6465666768696a6b6c6d6e6f70717273\nalert: 2025-12-04T17:40:00Z bob@example.com device 9 added - -> 6465666768696a6b6c6d6e6f70717273'
[ "$(grep '^alert:' <<<"$st")" = "$want" ] || fail "alerts: $(grep '^alert' <<<"$st")"
grep -qx 'waiting: 4-MiB attachment from bob@example.com needs 12 MiB free, 5 MiB free' <<<"$st" ||
	fail "waiting: $st"
mb_finish
