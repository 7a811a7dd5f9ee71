#!/usr/bin/env bash
# One write session, one send: a file held open by two writers is a
# "draft" until the last one closes and is then sent once with everything
# both wrote; a close of a dup'd descriptor (a flush mid-session) and an
# fsync send nothing early; reading a sent file sends nothing; appending to
# a sent file is a new session that sends the new version once; a file
# under a temporary name stays a draft and is never sent.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob

note "two writers, a dup'd descriptor closed early, an fsync: one send at the last close"
mkfifo "$T/step" "$T/ack"
python3 - "$O/shared.txt" "$T/step" "$T/ack" <<'PY' &
import os, sys
path, step, ack = sys.argv[1:4]
def pause(what):
    open(ack, "w").write(what + "\n")
    open(step).read()
a = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
b = os.open(path, os.O_WRONLY)
os.pwrite(a, b"first half, ", 0)
d = os.dup(a)
os.close(d)                      # flush, not the last close
os.fsync(a)
pause("open")
os.pwrite(b, b"second half\n", 12)
os.close(a)
pause("one closed")
os.close(b)
pause("closed")
PY
writer=$!
[ "$(cat "$T/ack")" = open ] || fail "writer did not start"
[ "$(mb_status "$O/shared.txt")" = draft ] || fail "open file's status: '$(mb_status "$O/shared.txt")', wanted draft"
echo go >"$T/step"
[ "$(cat "$T/ack")" = "one closed" ] || fail "writer stopped"
sleep 1
[ "$(mb_status "$O/shared.txt")" = draft ] ||
	fail "status with one writer left: '$(mb_status "$O/shared.txt")', wanted draft"
[ "$(mb_count "$I" "$(mb_inbox_re shared.txt)")" -eq 0 ] || fail "sent before the last close"
echo go >"$T/step"
[ "$(cat "$T/ack")" = closed ] || fail "writer stopped"
echo go >"$T/step"
wait "$writer" || fail "writer failed"
g=$(wait_for_file 30 "$I" "$(mb_inbox_re shared.txt)")
[ "$(cat "$g")" = "first half, second half" ] || fail "bob read '$(cat "$g")'"
wait_status 30 "$O/shared.txt" '^delivered 1/1$'

note "reading a sent file sends nothing"
cat "$O/shared.txt" >/dev/null
python3 -c 'import sys; open(sys.argv[1], "rb").read()' "$O/shared.txt"

note "appending starts a new session: the new version, once"
printf 'and a postscript\n' >>"$O/shared.txt"
_two() { [ "$(mb_count "$I" "$(mb_inbox_re shared.txt)")" -ge 2 ]; }
wait_until "$(mb_secs 20)" _two || fail "the appended version never arrived: $(ls "$I")"
# Both versions may carry the same second; within a second names order by
# message id, so compare the set, not the listing order.
vs=$(for f in "$I"/*-shared.txt; do cat "$f" | tr -d '\n'; echo; done | sort | tr '\n' '|')
[ "$vs" = "first half, second half|first half, second halfand a postscript|" ] ||
	fail "versions read: $vs"
[ "$(cat "$O/shared.txt")" = $'first half, second half\nand a postscript' ] || fail "outbox readback"

note "a temporary name stays a draft"
printf 'scratch\n' >"$O/notes.txt.tmp"
sleep 1
[ "$(mb_status "$O/notes.txt.tmp")" = draft ] || fail "temp file status '$(mb_status "$O/notes.txt.tmp")'"
rm "$O/notes.txt.tmp"
[ ! -e "$O/notes.txt.tmp" ] || fail "temp file not removed"
sleep 2
[ "$(ls -A "$I" | wc -l)" -eq 2 ] || fail "bob's inbox: $(ls -A "$I")"
[ "$(mb_sent_count alice)" -eq 2 ] || fail "relay accepted $(mb_sent_count alice) messages, wanted 2"
mb_finish
