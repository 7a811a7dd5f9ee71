#!/usr/bin/env bash
# Folders go as folders (issue 13, point 8).  A tree written inside
# outbox/ADDRESS/ by rsync -a (200 files in 20 folders, dot-files, an empty
# folder, a few attachments), tar -x and git clone arrives as the same tree
# under the sender's inbox folder: diff -r finds no difference, git fsck
# passes on the received clone.  One message per file and per folder made;
# a file rewritten inside a tree replaces its older version there (the tree
# shows what the sender's tree holds, docs/ARCHITECTURE.md).
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

command -v git >/dev/null || fail "git is not installed (scripts/deps.sh installs it)"
mb_alice_to_bob

note "a source tree: 20 folders of 10 files, dot-files, an empty folder"
python3 - "$T/tree" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(13)
for d in range(20):
    p = os.path.join(root, "d%02d" % d, "sub" if d % 5 == 0 else "")
    os.makedirs(p, exist_ok=True)
    for f in range(10):
        n = rnd.choice([0, 5, 100, 3000, 9000]) if (d * 10 + f) % 37 else 70000
        name = (".hidden-%d" % f) if f == 9 else ("f%03d.txt" % f)
        with open(os.path.join(p, name), "wb") as fh:
            fh.write(bytes(rnd.getrandbits(8) for _ in range(n)))
os.makedirs(os.path.join(root, "empty"))
PY
[ "$(find "$T/tree" -type f | wc -l)" -eq 200 ] || fail "the source tree is not 200 files"
ndirs=$(find "$T/tree" -type d | wc -l)

# arrived WHAT N: bob has N messages from alice
sent_is() { [ "$(mb_sent_count alice)" -eq "$1" ]; }
settle() {
	wait_until "$(mb_secs 60)" sent_is "$1" || fail "$2: the relay accepted $(mb_sent_count alice) messages from alice, wanted $1"
	wait_queue_empty 60 bob
}

note "rsync -a: one message per file and per folder"
rsync -a "$T/tree/" "$O/tree/" || fail "rsync -a exited $?"
total=$((200 + ndirs))
settle "$total" "rsync -a"
diff -r "$T/tree" "$I/tree" || fail "the received tree differs from the source"
diff -r "$O/tree" "$I/tree" || fail "the received tree differs from alice's outbox"
[ -d "$I/tree/empty" ] || fail "the empty folder did not arrive"
[ -f "$I/tree/d03/.hidden-9" ] || fail "dot-files inside a tree must arrive as they are"

note "rsync -a again after one change: only that file goes, and replaces"
printf 'changed\n' >"$T/tree/d03/f005.txt"
rsync -a "$T/tree/" "$O/tree/" || fail "rsync -a (second run) exited $?"
total=$((total + 1))
settle "$total" "rsync -a (second run)"
diff -r "$T/tree" "$I/tree" || fail "after the change, the received tree differs"

note "tar -x of a tarball with nested and empty folders"
mkdir -p "$T/tarsrc/pkg/a/b/c" "$T/tarsrc/pkg/e"
printf 'top\n' >"$T/tarsrc/pkg/README"
printf 'deep\n' >"$T/tarsrc/pkg/a/b/c/deep.txt"
mb_data 50000 3 >"$T/tarsrc/pkg/a/blob.bin"
tar -C "$T/tarsrc" -cf "$T/pkg.tar" pkg
tar -C "$O" -xf "$T/pkg.tar" || fail "tar -x exited $?"
total=$((total + 3 + 5))
settle "$total" "tar -x"
diff -r "$T/tarsrc/pkg" "$I/pkg" || fail "the received tarball tree differs"

note "git clone of a small local repository"
git init -q "$T/repo"
mkdir -p "$T/repo/src/lib"
for i in 1 2 3; do
	printf 'line %d\n' "$i" >>"$T/repo/src/lib/code.c"
	printf 'notes %d\n' "$i" >"$T/repo/NOTES"
	git -C "$T/repo" add -A
	git -C "$T/repo" -c user.name=t -c user.email=t@example.com commit -q -m "commit $i"
done
git clone -q "$T/repo" "$O/clone" || fail "git clone into the outbox failed"
git -C "$O/clone" fsck --strict >/dev/null 2>&1 || fail "git fsck fails in alice's outbox"
# git saves .git/config and HEAD several times (lock file, rename): each
# save is a message, the newest replaces the one before at the receiver.
n=$(( $(find "$O/clone" -mindepth 1 | wc -l) + 1 ))
_at_least() { [ "$(mb_sent_count alice)" -ge "$1" ]; }
wait_until "$(mb_secs 60)" _at_least $((total + n)) ||
	fail "git clone: the relay accepted $(mb_sent_count alice) messages, fewer than $((total + n))"
_steady() { local c; c=$(mb_sent_count alice); sleep 1; [ "$(mb_sent_count alice)" -eq "$c" ]; }
wait_until "$(mb_secs 30)" _steady || fail "git clone: alice never stops sending"
wait_queue_empty 60 bob
diff -r "$O/clone" "$I/clone" || fail "the received clone differs from alice's"
git -C "$I/clone" fsck --strict || fail "git fsck fails on the received clone"
[ "$(git -C "$I/clone" log --format=%s | tr '\n' ',')" = "commit 3,commit 2,commit 1," ] ||
	fail "the received clone's history: $(git -C "$I/clone" log --format=%s | tr '\n' ',')"

note "alice's tree: files and folders say sent"
wait_status 20 "$O/tree/d07/f001.txt" '^(sent|delivered 1/1)$'
wait_status 20 "$O/tree/empty" '^(sent|delivered 1/1)$'

note "folders inside a conversation behave as folders"
[ "$(mb_errno rmdir "$O/tree/d07")" = ENOTEMPTY ] || fail "rmdir of a full folder: $(mb_errno rmdir "$O/tree/d07")"
[ "$(mb_errno unlink "$O/tree/d07")" = EISDIR ] || fail "unlink of a folder: $(mb_errno unlink "$O/tree/d07")"
[ "$(mb_errno read "$O/tree/d07")" = EISDIR ] || fail "open of a folder: $(mb_errno read "$O/tree/d07")"
[ "$(mb_errno mkdir "$O/tree/d07")" = EEXIST ] || fail "mkdir of a folder there: $(mb_errno mkdir "$O/tree/d07")"
[ "$(mb_errno rename "$O/tree/d07" "$O/tree/moved")" = EXDEV ] ||
	fail "rename of a folder: $(mb_errno rename "$O/tree/d07" "$O/tree/moved")"
[ "$(mb_errno mkdir "$I/tree/x")" = EROFS ] || fail "mkdir in a received tree: $(mb_errno mkdir "$I/tree/x")"
sent=$(mb_sent_count alice)
mkdir "$O/tree/scratch" && rmdir "$O/tree/scratch" || fail "mkdir + rmdir"
sleep 1
[ "$(mb_sent_count alice)" -eq "$sent" ] || fail "a folder removed right after mkdir was sent"
rm "$I/tree/d01/f000.txt" || fail "rm of a received tree's file"
[ ! -e "$I/tree/d01/f000.txt" ] || fail "the received file is still there"
mb_finish
