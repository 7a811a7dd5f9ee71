#!/usr/bin/env bash
# Atomic saves arrive under the final name, once (issue 13, point 1).  Each
# tool saves into alice's outbox the way it does by default (temporary file
# + rename, backup by rename or by copy, in-place rewrite, mkstemp, swap
# and lock files); bob must receive exactly one message per save, named
# after the final name, holding the final bytes, and nothing under any
# temporary, backup, swap, lock or probe name.  Backups are forced on
# (vim's 'backupskip' and Emacs' backup predicate skip /tmp by default).
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

for t in sed vim ex nano emacs tmux rsync install tar python3; do
	command -v "$t" >/dev/null || fail "$t is not installed (scripts/deps.sh installs it)"
done

mb_alice_to_bob
mkdir -p "$T/src"

# want NAME CONTENT...: the versions bob must end up with for NAME.
declare -A want=()
want() { local n=$1; shift; want[$n]=$(printf '%s|' "$@"); }

# first NAME TEXT: the version before the save, sent the ordinary way, and
# received before the save starts (so the two versions cannot be confused).
first() {
	printf '%s\n' "$2" >"$O/$1"
	wait_for_file 30 "$I" "$(mb_inbox_re "$1")" >/dev/null
}

note "sed -i (mkstemp sedXXXXXX, rename over the target)"
first sed.txt "sed one"
sed -i 's/one/two/' "$O/sed.txt" || fail "sed -i exited $?"
want sed.txt "sed one" "sed two"

note "python mkstemp + os.replace, over an existing name and onto a new one"
first py.txt "py one"
python3 - "$O" <<'PY'
import os, sys, tempfile
d = sys.argv[1]
for name, text in (("py.txt", b"py two\n"), ("pynew.txt", b"py new\n")):
    fd, tmp = tempfile.mkstemp(dir=d)
    os.write(fd, text)
    os.fsync(fd)
    os.close(fd)
    os.replace(tmp, os.path.join(d, name))
PY
want py.txt "py one" "py two"
want pynew.txt "py new"

for ed in vim ex; do
	for bc in yes no auto; do
		f="$ed-$bc.txt"
		note "$ed, backupcopy=$bc (swap file, backup, vim's 4913 probe)"
		first "$f" "$ed $bc one"
		"$ed" -N -u NONE -i NONE -c "set backupskip= nobackup writebackup backupcopy=$bc" \
			-c 's/one/two/' -c 'wq' "$O/$f" </dev/null >/dev/null 2>&1 ||
			fail "$ed ($bc) exited $?"
		[ "$(cat "$O/$f")" = "$ed $bc two" ] || fail "$ed ($bc) saved '$(cat "$O/$f")'"
		want "$f" "$ed $bc one" "$ed $bc two"
	done
done

note "vim keeping its backup (set backup): the backup stays local"
first vimbak.txt "vimbak one"
vim -N -u NONE -i NONE -c "set backupskip= backup backupcopy=no" -c 's/one/two/' -c 'wq' \
	"$O/vimbak.txt" </dev/null >/dev/null 2>&1 || fail "vim (backup) exited $?"
[ "$(cat "$O/vimbak.txt~")" = "vimbak one" ] || fail "vim's backup reads '$(cat "$O/vimbak.txt~" 2>&1)'"
want vimbak.txt "vimbak one" "vimbak two"

note "nano (driven in tmux, with --backup and --locking)"
first nano.txt "nano one"
tmx() { tmux -S "$T/tmux.sock" "$@"; }
tmx new-session -d -x 100 -y 30 "nano --ignorercfiles --backup --locking $O/nano.txt"
on_exit "tmux -S $T/tmux.sock kill-server"
_nano_up() { tmx capture-pane -p | grep -q 'nano one'; }
wait_until "$(mb_secs 10)" _nano_up || fail "nano did not show the file: $(tmx capture-pane -p)"
tmx send-keys M-/ 'nano two' C-s
_nano_saved() { tmx capture-pane -p | grep -q 'Wrote'; }
wait_until "$(mb_secs 10)" _nano_saved || fail "nano did not save: $(tmx capture-pane -p)"
tmx send-keys C-x
_nano_gone() { ! tmx has-session 2>/dev/null; }
wait_until "$(mb_secs 10)" _nano_gone || fail "nano did not exit: $(tmx capture-pane -p)"
[ "$(cat "$O/nano.txt")" = "$(printf 'nano one\nnano two')" ] || fail "nano saved '$(cat "$O/nano.txt")'"
want nano.txt "nano one" "nano one
nano two"

note "GNU Emacs (emacs --batch): backup by rename, then file-precious-flag"
first emacs.txt "emacs one"
emacs --batch -Q "$O/emacs.txt" --eval '(progn
  (setq backup-enable-predicate (lambda (_) t) make-backup-files t)
  (goto-char (point-max)) (insert "emacs two\n") (save-buffer))' >/dev/null 2>&1 ||
	fail "emacs exited $?"
want emacs.txt "emacs one" "emacs one
emacs two"
first precious.txt "precious one"
emacs --batch -Q "$O/precious.txt" --eval '(progn (setq file-precious-flag t)
  (goto-char (point-max)) (insert "precious two\n") (save-buffer))' >/dev/null 2>&1 ||
	fail "emacs (precious) exited $?"
want precious.txt "precious one" "precious one
precious two"

note "cp and install onto new names"
printf 'via cp\n' >"$T/src/cp.txt"
cp "$T/src/cp.txt" "$O/cp.txt" || fail "cp"
install -m 0644 "$T/src/cp.txt" "$O/install.txt" || fail "install"
: >"$T/src/empty"
cp "$T/src/empty" "$O/empty.txt" || fail "cp of an empty file"
want cp.txt "via cp"
want install.txt "via cp"
want empty.txt ""

note "rsync without and with --inplace, onto sent files"
first rs.txt "rs one"
first rsi.txt "rsi one"
# (sizes differ: rsync skips a file of the same size and second)
printf 'rs two, longer\n' >"$T/src/rs.txt"
printf 'rsi two, longer\n' >"$T/src/rsi.txt"
rsync "$T/src/rs.txt" "$O/rs.txt" || fail "rsync exited $?"
rsync --inplace "$T/src/rsi.txt" "$O/rsi.txt" || fail "rsync --inplace exited $?"
want rs.txt "rs one" "rs two, longer"
want rsi.txt "rsi one" "rsi two, longer"

note "tar -x onto a new name and over a sent one"
first tarold.txt "tar one"
mkdir -p "$T/tar"
printf 'tar two\n' >"$T/tar/tarold.txt"
printf 'tar new\n' >"$T/tar/tarnew.txt"
tar -C "$T/tar" -cf "$T/a.tar" tarold.txt tarnew.txt
tar -C "$O" -xf "$T/a.tar" || fail "tar -x exited $?"
want tarold.txt "tar one" "tar two"
want tarnew.txt "tar new"

total=0
for n in "${!want[@]}"; do
	v=${want[$n]//[^|]/}
	total=$((total + ${#v}))
done

note "bob receives $total messages, one per save, under the final names"
_all_in() { [ "$(ls -A "$I" | wc -l)" -ge "$total" ]; }
wait_until "$(mb_secs 30)" _all_in || fail "bob has $(ls -A "$I" | wc -l) of $total: $(ls -A "$I" | tr '\n' ' ')"
# Longer than the outbox's idle time for mkstemp files that are never
# renamed (3 s, docs/ARCHITECTURE.md): nothing late may follow.
sleep 5
# A version's bytes are its text and a newline; "" stands for an empty file.
vhash() { if [ -z "$1" ]; then : | sha256sum; else printf '%s\n' "$1" | sha256sum; fi; }
for n in "${!want[@]}"; do
	got=$(for g in "$I"/*-"$n"; do [ -e "$g" ] && sha256sum <"$g"; done | sort | tr '\n' ' ')
	exp=$(IFS='|'; for v in ${want[$n]}; do vhash "$v"; done | sort | tr '\n' ' ')
	[ "$got" = "$exp" ] || fail "$n: bob's versions differ from the saves: $(ls "$I" | grep -F -- "$n" | tr '\n' ' ')"
done
extra=$(ls -A "$I" | sed -E 's/^[0-9]{8}T[0-9]{6}Z-[0-9]{4,}-[0-9a-f]{8}-//' | sort -u |
	while read -r n; do [ -n "${want[$n]+x}" ] || echo "$n"; done)
[ -z "$extra" ] || fail "bob received temporaries or backups: $(echo "$extra" | tr '\n' ' ')"
[ "$(ls -A "$I" | wc -l)" -eq "$total" ] || fail "bob has $(ls -A "$I" | wc -l) entries, wanted $total: $(ls -A "$I" | tr '\n' ' ')"
[ "$(mb_sent_count alice)" -eq "$total" ] ||
	fail "the relay accepted $(mb_sent_count alice) messages from alice, wanted $total"

note "alice's outbox: the final names, each sent, and the backups vim and nano kept"
for n in "${!want[@]}"; do
	wait_status 20 "$O/$n" '^(sent|delivered 1/1)$'
done
left=$(ls -A "$O" | while read -r n; do [ -n "${want[$n]+x}" ] || echo "$n"; done | tr '\n' ' ')
# Backups stay (local drafts, never sent); nothing else does.
[ "$left" = "nano.txt~ vimbak.txt~ " ] || fail "alice's outbox keeps other entries: '$left'"
[ "$(cat "$O/nano.txt~")" = "nano one" ] || fail "nano's backup reads '$(cat "$O/nano.txt~")'"
[ "$(mb_status "$O/nano.txt~")" = draft ] || fail "nano's backup says '$(mb_status "$O/nano.txt~")'"
mb_finish
