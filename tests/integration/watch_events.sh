#!/usr/bin/env bash
# `sealbox watch` tells of every arrival (issue 13, point 6): one line per
# message in inbox/ (path, sender, size, "verified"), or with --json one
# object per line with the id, device and times; found by the mountpoint
# or by --home; it exits 0 when the mount goes.  The socket it reads,
# HOME/watch.sock, is the mounting user's only: mode 0600, and a peer of
# another uid that reaches it anyway is refused (SO_PEERCRED, both ends).
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"
export TZ=UTC

_connected() { [ "$(grep -c 'watch: a watcher connected' "$(mb_log bob)")" -ge "$1" ]; }
_lines() { [ "$(wc -l <"$1")" -ge "$2" ]; }

mb_alice_to_bob
SOCK="$(mb_home bob)/watch.sock"
[ -S "$SOCK" ] || fail "no socket $SOCK"
[ "$(stat -c '%a %u' "$SOCK")" = "600 $(id -u)" ] || fail "socket: $(stat -c '%a %u' "$SOCK")"

"$SEALBOX" watch "$B" >"$T/text.out" 2>"$T/text.err" &
wt=$!
"$SEALBOX" watch --home "$(mb_home bob)" --json >"$T/json.out" 2>"$T/json.err" &
wj=$!
wait_until "$(mb_secs 10)" _connected 2 || fail "watchers did not connect: $(cat "$T"/*.err)"

printf 'hello\n' >"$O/note.txt"
f1=$(wait_for_file 20 "$I" "$(mb_inbox_re note.txt)")
wait_until "$(mb_secs 10)" _lines "$T/text.out" 1 || fail "no line for note.txt"
printf 'a second message\n' >"$O/two words.txt"
f2=$(wait_for_file 20 "$I" "$(mb_inbox_re 'two words.txt')")
wait_until "$(mb_secs 10)" _lines "$T/text.out" 2 || fail "no line for the second file"
wait_until "$(mb_secs 10)" _lines "$T/json.out" 2 || fail "json: $(cat "$T/json.out")"

printf '%s\t%s\t%s\tverified\n' "$f1" alice@example.com 6 "$f2" alice@example.com 17 >"$T/text.want"
cmp "$T/text.want" "$T/text.out" || fail "text lines: $(cat -A "$T/text.out")"

for f in "$f1" "$f2"; do
	printf '%s\t%s\t%s\t%s\t%s\n' "$f" \
		"$(getfattr --absolute-names --only-values -n user.sealbox.id "$f")" \
		"$(getfattr --absolute-names --only-values -n user.sealbox.device "$f")" \
		"$(stat -c %Y "$f")" "$(stat -c %z "$f")"
done >"$T/attrs"
python3 - "$T/json.out" "$T/attrs" <<'PY' || fail "json lines do not match"
import calendar, json, sys, time
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
attrs = [l.split("\t") for l in open(sys.argv[2], encoding="utf-8").read().splitlines()]
assert len(lines) == 2, lines
for line, (path, mid, dev, mtime, ctime), size in zip(lines, attrs, (6, 17)):
    o = json.loads(line)
    assert list(o) == ["path", "folder", "name", "sender", "device", "id", "size",
                       "sent", "arrived", "verified"], list(o)
    assert o["path"] == path and o["folder"] == "alice@example.com", o
    assert o["name"] == path.rsplit("/", 1)[1], o
    assert o["sender"] == "alice@example.com" and o["size"] == size, o
    assert o["device"] == dev and o["id"] == mid and o["verified"] is True, o
    assert o["sent"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(mtime))), (o, mtime)
    # stat %z: "2026-01-02 03:04:05.123456789 +0000" (the case runs in UTC)
    day, clock, _ = ctime.split(" ")
    assert o["arrived"] == day + "T" + clock + "Z", (o, ctime)
PY

note "another uid is refused, even with the socket opened to it"
chmod o+x "$T" "$T/bob" "$(mb_home bob)"
chmod 666 "$SOCK"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SEALBOX" watch --home "$(mb_home bob)" 2>&1) &&
	fail "a watcher of uid 65534 was served: $out"
grep -q "sealbox: watch: refused a watcher of uid 65534" "$(mb_log bob)" ||
	fail "no refusal in the log: $(grep watch "$(mb_log bob)")"
# ... and the watcher refuses a socket another uid serves, too.
[ "$out" = "sealbox: watch: $SOCK is not served by a process of yours" ] || fail "uid 65534 got: $out"
chmod 600 "$SOCK"

note "both watchers end with the mount, status 0"
mb_umount bob
_gone() { ! kill -0 "$1" 2>/dev/null; }
wait_until "$(mb_secs 10)" _gone "$wt" || fail "sealbox watch (text) still running after the unmount"
wait_until "$(mb_secs 10)" _gone "$wj" || fail "sealbox watch --json still running after the unmount"
st=0; wait "$wt" || st=$?
[ "$st" -eq 0 ] || fail "watch exited $st: $(cat "$T/text.err")"
st=0; wait "$wj" || st=$?
[ "$st" -eq 0 ] || fail "watch --json exited $st: $(cat "$T/json.err")"
[ ! -s "$T/text.err" ] && [ ! -s "$T/json.err" ] || fail "stderr: $(cat "$T"/*.err)"
[ ! -e "$SOCK" ] || fail "the socket outlived the mount"

expect_fail 1 "^sealbox: watch: $B is not a sealbox mount$" "$SEALBOX" watch "$B"
expect_fail 1 "^sealbox: watch: $(mb_home bob) is not mounted$" \
	"$SEALBOX" watch --home "$(mb_home bob)"
expect_fail 2 "^sealbox: watch: unknown option '--bogus' \\(try --help\\)$" "$SEALBOX" watch --bogus
mb_finish
