#!/usr/bin/env bash
# The outbox's durability contract (issue 15, docs/ARCHITECTURE.md
# "Durability of the outbox"), seen in the system calls of alice's mount
# (run under strace -f -y -ttt):
#   - fsync(2) on an outbox file returns only after its content file, the
#     data/ directory and store.db's WAL were synced;
#   - close(2) without fsync waits for no sync of the file (the close path
#     only writes), and the spool's group commit syncs it shortly after
#     (within OB_SYNC_WINDOW_MS; a generous deadline here, for a busy
#     machine);
#   - fsync(2) of the folder returns only after data/ and the WAL were
#     synced (what a mail tool's directory fsync after its rename expects);
#   - both arrive, once each.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

command -v strace >/dev/null || fail "strace is not installed (scripts/deps.sh installs it)"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (scripts/deps.sh installs it)"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
# Only alice's mount runs under strace (mb_mount runs "$SEALBOX" mount);
# LeakSanitizer cannot run under ptrace, so an ASan build checks no leaks
# in this one mount (every other case does).
real=$SEALBOX
cat >"$T/sealbox-strace" <<EOF
#!/bin/sh
if [ "\$1" = mount ]; then
	ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
	export ASAN_OPTIONS
	exec strace -f -y -ttt -qq -e trace=fsync,fdatasync -o "$T/alice.strace" "$real" "\$@"
fi
exec "$real" "\$@"
EOF
chmod +x "$T/sealbox-strace"
SEALBOX="$T/sealbox-strace" mb_mount alice
mb_mount bob
A=$(mb_mnt alice) B=$(mb_mnt bob)
O="$A/outbox/bob@example.com" I="$B/inbox/alice@example.com"
mkdir "$O"

note "one file fsynced before close, one only closed"
python3 - "$O" >"$T/times" <<'PY'
import os, sys, time
d = sys.argv[1]
fd = os.open(os.path.join(d, "synced.txt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"fsynced before close\n")
t0 = time.time()
os.fsync(fd)
t1 = time.time()
os.close(fd)
fd = os.open(os.path.join(d, "closed.txt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"only closed\n")
t2 = time.time()
os.close(fd)
t3 = time.time()
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
t4 = time.time()
os.fsync(fd)
t5 = time.time()
os.close(fd)
print("%.6f %.6f %.6f %.6f %.6f %.6f" % (t0, t1, t2, t3, t4, t5))
PY
read -r t0 t1 t2 t3 t4 t5 <"$T/times"
for f in synced.txt closed.txt; do
	g=$(wait_for_file 30 "$I" "$(mb_inbox_re "$f")")
	[ "$(mb_count "$I" "$(mb_inbox_re "$f")")" -eq 1 ] || fail "$f arrived more than once"
	cmp -s "$g" "$O/$f" || fail "$f arrived with other bytes"
done
home=$(mb_home alice)
file_of() {
	sqlite3 "file:$home/store.db?mode=ro" \
		"SELECT file FROM out_msg WHERE name = '$1' ORDER BY id DESC LIMIT 1"
}
f_synced=$(file_of synced.txt) f_closed=$(file_of closed.txt)
[ -n "$f_synced" ] && [ -n "$f_closed" ] || fail "no content files recorded"
# The group commit of closed.txt, with a deadline for a loaded machine.
# (the result may follow on a "resumed" line; the check below reads it)
_synced() { grep -q "fsync([0-9]*<[^>]*/data/$f_closed>" "$T/alice.strace"; }
wait_until "$(mb_secs 10)" _synced || fail "closed.txt's content file was never synced"
mb_finish

# Syncs (time, what) that completed with 0; calls another thread
# interrupted are joined by strace's "resumed" line, whose time is later:
# the entry line's time is the one used (the sync began then).
python3 - "$T/alice.strace" "$home" "$f_synced" "$f_closed" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" <<'PY' ||
import re, sys
log, home, fs, fc = sys.argv[1:5]
t0, t1, t2, t3, t4, t5 = map(float, sys.argv[5:11])
calls = {}
order = []
for line in open(log):
    m = re.match(r"(\d+) +([0-9.]+) (fsync|fdatasync)\(\d+<([^>]*)>(.*)", line)
    if m:
        pid, t, path, rest = m.group(1), float(m.group(2)), m.group(4), m.group(5)
        if "<unfinished ...>" in rest:
            calls[pid] = (t, path, pid)
        elif rest.rstrip().endswith("= 0"):
            order.append((t, path, pid))
        continue
    m = re.match(r"(\d+) +[0-9.]+ <\.\.\. (fsync|fdatasync) resumed>.*= 0", line)
    if m and m.group(1) in calls:
        order.append(calls.pop(m.group(1)))
def synced(path, lo, hi, who=None):
    return any(lo <= t <= hi and p == path and (who is None or who(tid))
               for t, p, tid in order)
# The spool's syncer: the thread that synced synced.txt for its fsync.
syncer = {tid for t, p, tid in order if p == home + "/data/" + fs and t0 <= t <= t1}
bad = []
data = home + "/data"
if not synced(data + "/" + fs, t0, t1):
    bad.append("fsync returned before synced.txt's content file was synced")
if not synced(data, t0, t1):
    bad.append("fsync returned before data/ was synced")
if not synced(home + "/store.db-wal", t0, t1):
    bad.append("fsync returned before the WAL was synced")
# (the syncer may have run a round before close returned, on a slow
# machine; a sync by any other thread is the close path's)
if synced(data + "/" + fc, 0, t3, lambda tid: tid not in syncer):
    bad.append("close of closed.txt waited for a sync of its content file")
if not synced(data + "/" + fc, t3, 1e12):
    bad.append("closed.txt's content file was not synced after its close")
if not synced(data, t4, t5) or not synced(home + "/store.db-wal", t4, t5):
    bad.append("fsync of the folder returned before data/ and the WAL were synced")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
	fail "the durability contract does not hold (syncs in $T/alice.strace)"
