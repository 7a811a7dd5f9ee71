#!/usr/bin/env bash
# Ordinary tools writing into the outbox each send exactly once: cp, mv
# from outside the mount, rsync -a (temp file + rename, times kept), tar -x
# (times kept), and an editor's save (write a temporary file, rename it over
# the target) which sends the new version once and never the temporary.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
mkdir -p "$T/src/rs" "$T/src/tar"

note "cp"
printf 'via cp\n' >"$T/src/cp.txt"
cp "$T/src/cp.txt" "$O/" || fail "cp"

wait_for_file 30 "$I" "$(mb_inbox_re cp.txt)" >/dev/null
fd_a=$(mb_fd_count alice) fd_b=$(mb_fd_count bob)

note "mv from outside the mount"
printf 'via mv\n' >"$T/src/mv.txt"
mv "$T/src/mv.txt" "$O/" || fail "mv"
[ ! -e "$T/src/mv.txt" ] || fail "mv left its source"

note "rsync -a"
printf 'via rsync\n' >"$T/src/rs/r1.txt"
mb_data 150000 11 >"$T/src/rs/r2.bin"
touch -d '2024-02-03 04:05:06 UTC' "$T/src/rs/r1.txt"
rsync -a "$T/src/rs/" "$O/" || fail "rsync -a exited $?"
[ "$(stat -c %Y "$O/r1.txt")" = "$(stat -c %Y "$T/src/rs/r1.txt")" ] ||
	fail "rsync -a did not keep the mtime: $(stat -c %y "$O/r1.txt")"

note "tar -x"
printf 'via tar one\n' >"$T/src/tar/t1.txt"
printf 'via tar two\n' >"$T/src/tar/t2.txt"
touch -d '2023-01-02 03:04:05 UTC' "$T/src/tar/t1.txt"
tar -C "$T/src/tar" -cf "$T/a.tar" t1.txt t2.txt
tar -C "$O" -xf "$T/a.tar" || fail "tar -x exited $?"
[ "$(stat -c %Y "$O/t1.txt")" = "$(stat -c %Y "$T/src/tar/t1.txt")" ] ||
	fail "tar -x did not keep the mtime: $(stat -c %y "$O/t1.txt")"

note "editor: first version, then save via temp file + rename"
printf 'draft one\n' >"$O/ed.txt"
wait_for_file 30 "$I" "$(mb_inbox_re ed.txt)" >/dev/null
python3 - "$O" <<'PY'
import os, sys
d = sys.argv[1]
# The GLib/gedit pattern (g_file_set_contents): a hidden temp file in the
# same folder, fsync'd, renamed over the target.
tmp = os.path.join(d, ".goutputstream-K2J8Q1")
with open(tmp, "wb") as f:
    f.write(b"draft two, saved\n")
    f.flush()
    os.fsync(f.fileno())
os.rename(tmp, os.path.join(d, "ed.txt"))
# The vim pattern: write the swap file, then a backup name, neither sent.
with open(os.path.join(d, ".ed.txt.swp"), "wb") as f:
    f.write(b"swap")
os.unlink(os.path.join(d, ".ed.txt.swp"))
PY
[ "$(cat "$O/ed.txt")" = "draft two, saved" ] || fail "ed.txt reads '$(cat "$O/ed.txt")' after the save"

note "everything arrives, each once"
for f in cp.txt mv.txt r1.txt r2.bin t1.txt t2.txt; do
	wait_for_file 30 "$I" "$(mb_inbox_re "$f")" >/dev/null
done
_two_ed() { [ "$(mb_count "$I" "$(mb_inbox_re ed.txt)")" -ge 2 ]; }
wait_until "$(mb_secs 20)" _two_ed || fail "the editor's save never arrived: $(ls "$I")"
sleep 3
for f in cp.txt mv.txt r1.txt r2.bin t1.txt t2.txt; do
	n=$(mb_count "$I" "$(mb_inbox_re "$f")")
	[ "$n" -eq 1 ] || fail "$f arrived $n times: $(ls "$I")"
done
[ "$(mb_count "$I" "$(mb_inbox_re ed.txt)")" -eq 2 ] || fail "ed.txt versions: $(ls "$I")"
[ "$(ls -A "$I" | wc -l)" -eq 8 ] || fail "bob's inbox has extra entries: $(ls -A "$I")"
[ "$(mb_sent_count alice)" -eq 8 ] || fail "relay accepted $(mb_sent_count alice) messages, wanted 8"
cmp "$(wait_for_file 1 "$I" "$(mb_inbox_re r2.bin)")" "$T/src/rs/r2.bin" || fail "r2.bin differs"
for f in cp mv; do
	[ "$(cat "$(wait_for_file 1 "$I" "$(mb_inbox_re $f.txt)")")" = "via $f" ] || fail "$f.txt differs"
done
vs=$(for g in "$I"/*-ed.txt; do cat "$g"; done | sort | tr '\n' '|')
[ "$vs" = "draft one|draft two, saved|" ] || fail "ed.txt versions read '$vs'"

note "no descriptor leak: alice $fd_a -> $(mb_fd_count alice), bob $fd_b -> $(mb_fd_count bob) fds"
[ "$(mb_fd_count alice)" -le $((fd_a + 2)) ] || fail "alice's daemon leaks descriptors: $fd_a -> $(mb_fd_count alice)"
[ "$(mb_fd_count bob)" -le $((fd_b + 2)) ] || fail "bob's daemon leaks descriptors: $fd_b -> $(mb_fd_count bob)"

note "alice's outbox: the seven names, no temporaries, all delivered"
[ "$(ls -A "$O" | sort | tr '\n' ' ')" = "cp.txt ed.txt mv.txt r1.txt r2.bin t1.txt t2.txt " ] ||
	fail "alice's outbox lists: $(ls -A "$O" | tr '\n' ' ')"
for f in cp.txt ed.txt mv.txt r1.txt r2.bin t1.txt t2.txt; do
	wait_status 30 "$O/$f" '^delivered 1/1$'
done
mb_finish
