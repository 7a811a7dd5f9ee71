#!/usr/bin/env bash
# Node types the mailbox does not have are refused with EPERM, as the man
# pages specify for a file system that does not support them (issue 13,
# point 4): symlink(2), mknod(2), mkfifo(3), bind(2) of a unix socket and
# link(2) (no hard links).  They used to answer ENOSYS (libfuse's default),
# which tools report as "Function not implemented".  Nothing is created,
# nothing is sent, in outbox/ or inbox/.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
echo "a real file" >"$O/real.txt"
wait_status 20 "$O/real.txt" '^(sent|delivered .*)$'
for d in "$O" "$I"; do
	got=$(python3 - "$d" <<'PY'
import errno, os, socket, stat, sys
d = sys.argv[1]
out = []
def run(name, f):
    try:
        f()
        out.append(name + "=OK")
    except OSError as e:
        out.append(name + "=" + errno.errorcode.get(e.errno, str(e.errno)))
run("symlink", lambda: os.symlink("real.txt", d + "/link"))
run("mkfifo", lambda: os.mkfifo(d + "/fifo"))
run("mknod", lambda: os.mknod(d + "/node", 0o600 | stat.S_IFCHR, os.makedev(1, 3)))
run("link", lambda: os.link(d + "/real.txt", d + "/hard"))
def bind():
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(d + "/sock")
    finally:
        s.close()
run("bind", bind)
print(" ".join(out))
PY
)
	note "$(basename "$d"): $got"
	if [ "$d" = "$O" ]; then want="symlink=EPERM mkfifo=EPERM mknod=EPERM link=EPERM bind=EPERM"
	else want="symlink=EROFS mkfifo=EROFS mknod=EROFS link=EROFS bind=EROFS"; fi
	# The inbox is read-only first: EROFS or EPERM both say "not here".
	[[ "$got" =~ ^(symlink=(EPERM|EROFS|ENOENT) mkfifo=(EPERM|EROFS) mknod=(EPERM|EROFS) link=(EPERM|EROFS|ENOENT) bind=(EPERM|EROFS))$ ]] ||
		fail "$(basename "$d"): $got, wanted $want"
	[[ "$got" == *ENOSYS* ]] && fail "ENOSYS in $(basename "$d"): $got"
done
[ "$(ls "$O")" = real.txt ] || fail "outbox has: $(ls "$O")"
[ "$(ls "$O" | wc -l)" -eq 1 ] || fail "something was created"
mb_finish
