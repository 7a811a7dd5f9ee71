#!/usr/bin/env bash
# truncate(2) by path behaves like ftruncate(2) (issue 13, point 4): on a
# sent outbox file it used to answer EPERM while open(O_TRUNC) and
# ftruncate worked.  Now `truncate -s N FILE` on a sent file is a write
# session of its own: the new version, N bytes, is sent once and arrives;
# on a synced copy it is still EPERM, in inbox/ EROFS.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
printf 'hello world\n' >"$O/t.txt"
wait_status 20 "$O/t.txt" '^delivered 1/1$'
wait_for_file 20 "$I" "$(mb_inbox_re t.txt)" >/dev/null
# truncate(2) itself (coreutils' truncate opens the file and calls ftruncate)
got=$(python3 -c 'import errno,os,sys
try:
    os.truncate(sys.argv[1], 5); print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$O/t.txt")
[ "$got" = OK ] || fail "truncate(2) by path of a sent file: $got"
[ "$(cat "$O/t.txt")" = hello ] || fail "the outbox shows '$(cat "$O/t.txt")'"
_two() { [ "$(mb_count "$I" "$(mb_inbox_re t.txt)")" -eq 2 ]; }
wait_until "$(mb_secs 20)" _two || fail "$(mb_count "$I" "$(mb_inbox_re t.txt)") versions at bob, wanted 2"
new=$(grep -l -x hello "$I"/*) || fail "no version at bob reads 'hello'"
new=$(basename "$new")
wait_status 20 "$O/t.txt" '^delivered 1/1$'
got=$(python3 -c 'import errno,os,sys
try:
    os.truncate(sys.argv[1], 0); print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$I/$new")
[ "$got" = EROFS ] || fail "truncate in inbox/: $got"
sleep 2
[ "$(mb_count "$I" "$(mb_inbox_re t.txt)")" -eq 2 ] || fail "more versions arrived than the one truncate made"
mb_finish
