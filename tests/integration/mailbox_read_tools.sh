#!/usr/bin/env bash
# Ordinary tools over the inbox: ls -l shows real sizes, read-only modes and
# the send time, in time order; cat, grep -r, find (-name, -newer), head,
# tail and dd at an offset (pread of an attachment) all read the verified,
# decrypted content.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob

printf 'apple\nbanana\n' >"$T/a.txt"
printf 'cherry\nthe needle is here\nplum\n' >"$T/b.txt"
mb_data $((3 * 65536 + 1234)) 21 >"$T/big.bin"
cp "$T/a.txt" "$T/b.txt" "$T/big.bin" "$O/"
ga=$(wait_for_file 30 "$I" "$(mb_inbox_re a.txt)")
gb=$(wait_for_file 30 "$I" "$(mb_inbox_re b.txt)")
gbig=$(wait_for_file 30 "$I" "$(mb_inbox_re big.bin)")
touch "$T/marker"
sleep 1.5
printf 'cranberry\n' >"$O/c.txt"
gc=$(wait_for_file 30 "$I" "$(mb_inbox_re c.txt)")

note "cat, cmp"
cmp "$ga" "$T/a.txt" && cmp "$gb" "$T/b.txt" && cmp "$gbig" "$T/big.bin" || fail "content differs"
[ "$(cat "$gc")" = cranberry ] || fail "c.txt reads '$(cat "$gc")'"

note "ls -l: sizes, modes, times, order"
ls -l --time-style=+%s "$I" >"$T/ls.out"
cat "$T/ls.out" >&2
for pair in "a.txt:13" "b.txt:31" "big.bin:$((3 * 65536 + 1234))" "c.txt:10"; do
	n=${pair%%:*} sz=${pair##*:}
	line=$(grep -E -- "-$n\$" "$T/ls.out") || fail "ls -l does not list $n"
	[ "$(awk '{print $5}' <<<"$line")" -eq "$sz" ] || fail "ls -l size of $n: $line (wanted $sz)"
	[[ "$line" =~ ^-r-------- ]] || fail "inbox file $n is not read-only and private: $line"
	t=$(awk '{print $6}' <<<"$line")
	[ $(( $(date +%s) - t )) -lt 120 ] && [ $(( t - $(date +%s) )) -lt 5 ] ||
		fail "mtime of $n is $t, not the send time"
done
[ "$(ls "$I" | tail -n 1)" = "$(basename "$gc")" ] || fail "ls does not sort the last message last"
[ "$(stat -c %s "$gbig")" -eq $((3 * 65536 + 1234)) ] || fail "stat size"

note "grep -r"
out=$(grep -r needle "$B/inbox") || fail "grep -r found nothing"
[ "$out" = "$gb:the needle is here" ] || fail "grep -r printed '$out'"
[ "$(grep -rl banana "$B/inbox")" = "$ga" ] || fail "grep -rl banana"
! grep -rq 'no such words' "$B/inbox" || fail "grep -r matched nonsense"

note "find"
[ "$(find "$B/inbox" -type f | wc -l)" -eq 4 ] || fail "find -type f: $(find "$B/inbox" -type f)"
[ "$(find "$B/inbox" -type f -name '*-b.txt')" = "$gb" ] || fail "find -name"
[ "$(find "$B/inbox" -type f -newer "$T/marker")" = "$gc" ] ||
	fail "find -newer: '$(find "$B/inbox" -type f -newer "$T/marker" | tr '\n' ' ')'"
[ "$(find "$B/inbox" -mindepth 1 -maxdepth 1 -type d)" = "$I" ] || fail "find -type d"

note "head, tail, dd at offsets (pread)"
[ "$(head -n 1 "$gb")" = cherry ] || fail "head"
[ "$(tail -n 1 "$gb")" = plum ] || fail "tail"
cmp <(tail -c 5000 "$gbig") <(tail -c 5000 "$T/big.bin") || fail "tail -c of the attachment"
for off in 0 1 65535 65536 131071 196000; do
	cmp <(dd if="$gbig" bs=1 skip="$off" count=700 status=none) \
		<(dd if="$T/big.bin" bs=1 skip="$off" count=700 status=none) ||
		fail "pread of 700 bytes at $off differs"
done
python3 - "$gbig" "$T/big.bin" <<'PY' || fail "random preads differ"
import os, random, sys
a, b = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
size = os.fstat(b).st_size
r = random.Random(5)
for _ in range(200):
    off = r.randrange(0, size + 10)
    n = r.randrange(1, 70000)
    if os.pread(a, n, off) != os.pread(b, n, off):
        sys.exit("pread(%d, %d) differs" % (n, off))
PY
mb_finish
