#!/usr/bin/env bash
# The Maildir view (issue 13, point 9): MNT/maildir/ is a read-only
# Maildir++ tree, one ".folder" per inbox folder (dots shown as '_'), each
# message in cur/ as "<sent>.<id>_<device>.sealbox:2,S", rendered on the
# fly as RFC 5322 mail.  Checked here: the layout; one text message byte
# for byte against the expected file; a non-ASCII name as an RFC 2047
# subject; a binary file as a MIME attachment that Python's email module
# extracts back to the very bytes, reads at odd offsets agreeing with the
# whole, stat sizes exact, memory flat while a 12 MiB attachment renders;
# EROFS for every change; notmuch indexing it and finding a word.  Nothing
# of it is written to disk (only sealed payloads and content files).
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"
command -v notmuch >/dev/null || fail "notmuch not installed (scripts/deps.sh)"
export TZ=UTC LC_ALL=C
# Under ASan freed chunks sit in a quarantine (256 MiB by default) that
# would count in VmHWM without being our buffers; cap it, as relay_blob does.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"

mb_alice_to_bob
printf 'Hello Bob,\nthe secret word is quokka.\n' >"$O/greeting.txt"
mb_data 300000 7 >"$T/photo.bin"
cp "$T/photo.bin" "$O/photo.bin"
printf 'Grüße\n' >"$O/Grüße 日本.txt"
mb_data $((12 << 20)) 8 >"$T/big.bin"
cp "$T/big.bin" "$O/big.bin"
g=$(wait_for_file 20 "$I" "$(mb_inbox_re greeting.txt)")
p=$(wait_for_file 20 "$I" "$(mb_inbox_re photo.bin)")
u=$(wait_for_file 20 "$I" "$(mb_inbox_re 'Grüße 日本.txt')")
big=$(wait_for_file 60 "$I" "$(mb_inbox_re big.bin)")

MD="$B/maildir"
F="$MD/.alice@example_com"
[ "$(ls -A "$B" | grep -c '^maildir$')" -eq 1 ] || fail "root: $(ls -A "$B")"
[ "$(ls -A "$MD" | tr '\n' ' ')" = ".alice@example_com cur new tmp " ] || fail "maildir/: $(ls -A "$MD")"
[ "$(ls -A "$F" | tr '\n' ' ')" = "cur new tmp " ] || fail "$F: $(ls -A "$F")"
[ -z "$(ls -A "$F/new" "$F/tmp" "$MD/cur" "$MD/new" "$MD/tmp" | grep -v ':$' | grep .)" ] ||
	fail "new/, tmp/ or the root's folders are not empty"
[ "$(stat -c %a "$F/cur")" = 500 ] || fail "cur/ mode $(stat -c %a "$F/cur")"

# A message's maildir name from its inbox file.
mdname() {
	printf '%s.%s_%s.sealbox:2,S' "$(stat -c %Y "$1")" \
		"$(getfattr --absolute-names --only-values -n user.sealbox.id "$1")" \
		"$(getfattr --absolute-names --only-values -n user.sealbox.device "$1")"
}
[ "$(ls "$F/cur" | sort | tr '\n' ' ')" = "$(for f in "$g" "$p" "$u" "$big"; do mdname "$f"; echo; done | sort | tr '\n' ' ')" ] ||
	fail "cur/: $(ls "$F/cur")"

note "the text message, byte for byte"
id=$(getfattr --absolute-names --only-values -n user.sealbox.id "$g")
dev=$(getfattr --absolute-names --only-values -n user.sealbox.device "$g")
sent=$(stat -c %Y "$g")
M="$F/cur/$(mdname "$g")"
{
	printf 'From: alice@example.com\nTo: bob@example.com\n'
	printf 'Date: %s\n' "$(date -u -d "@$sent" '+%a, %-d %b %Y %H:%M:%S +0000')"
	printf 'Subject: greeting.txt\nMessage-ID: <%s.%s@sealbox>\n' "$id" "$dev"
	printf 'X-Sealbox-Verified: yes; sender alice@example.com; device %s\n' "$dev"
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf 'Hello Bob,\nthe secret word is quokka.\n'
} >"$T/greeting.eml"
cmp "$T/greeting.eml" "$M" || fail "rendered message differs: $(diff "$T/greeting.eml" "$M")"
[ "$(stat -c %s "$M")" -eq "$(stat -c %s "$T/greeting.eml")" ] || fail "stat size $(stat -c %s "$M")"
[ "$(stat -c '%Y %a' "$M")" = "$sent 400" ] || fail "mtime/mode $(stat -c '%Y %a' "$M")"

note "the other three through Python's email module"
python3 - "$F/cur/$(mdname "$p")" "$T/photo.bin" "$F/cur/$(mdname "$u")" \
	"$F/cur/$(mdname "$big")" "$T/big.bin" <<'PY' || fail "MIME check failed"
import email, email.header, email.policy, os, random, sys
photo, photo_src, uni, big, big_src = sys.argv[1:]
def parse(path):
    with open(path, "rb") as f:
        data = f.read()
    assert os.stat(path).st_size == len(data), (path, os.stat(path).st_size, len(data))
    return data, email.message_from_bytes(data, policy=email.policy.default)
data, m = parse(photo)
assert m["From"] == "alice@example.com" and m["Subject"] == "photo.bin", (m["From"], m["Subject"])
assert m.get_content_type() == "multipart/mixed", m.get_content_type()
parts = list(m.iter_parts())
assert [p.get_content_type() for p in parts] == ["text/plain", "application/octet-stream"]
assert parts[0].get_content() == "Attached: photo.bin (300000 bytes)", repr(parts[0].get_content())
assert parts[1].get_filename() == "photo.bin", parts[1].get_filename()
assert parts[1].get_content() == open(photo_src, "rb").read(), "attachment bytes differ"
assert m.defects == [] and all(p.defects == [] for p in parts), (m.defects, [p.defects for p in parts])
# reads at odd offsets and sizes agree with the whole
rnd = random.Random(1)
with open(photo, "rb", buffering=0) as f:
    for _ in range(200):
        off = rnd.randrange(len(data)); n = rnd.randrange(1, 5000)
        f.seek(off)
        assert f.read(n) == data[off:off + n], off
_, m = parse(uni)
assert m["Subject"] == "Grüße 日本.txt", m["Subject"]
assert str(email.header.make_header(email.header.decode_header(
    email.message_from_bytes(open(uni, "rb").read())["Subject"]))) == "Grüße 日本.txt"
assert b"Subject: =?UTF-8?B?" in open(uni, "rb").read()
assert m.get_content() == "Grüße\n", repr(m.get_content())
_, m = parse(big)
att = list(m.iter_parts())[1]
assert att.get_content() == open(big_src, "rb").read(), "12 MiB attachment differs"
PY
hwm0=$(mb_vmhwm_kb bob)
cat "$F/cur/$(mdname "$big")" >/dev/null
cat "$F/cur/$(mdname "$big")" >/dev/null
hwm1=$(mb_vmhwm_kb bob)
# (scripts/valgrind.sh lifts it: under memcheck VmHWM is its shadow memory.)
[ $((hwm1 - hwm0)) -lt "${SB_RSS_LIMIT_KB:-6144}" ] ||
	fail "rendering 12 MiB (16 MiB of base64) grew the mount by $((hwm1 - hwm0)) kB"

note "read-only: every change is EROFS"
python3 - "$F" "$M" "$MD" <<'PY' || fail "a change under maildir/ was not EROFS"
import errno, os, sys
F, M, MD = sys.argv[1:]
ops = [
    ("create cur/x", lambda: os.open(F + "/cur/x", os.O_WRONLY | os.O_CREAT, 0o600)),
    ("create new/x", lambda: os.open(F + "/new/x", os.O_WRONLY | os.O_CREAT, 0o600)),
    ("open for write", lambda: os.open(M, os.O_WRONLY)),
    ("open O_TRUNC", lambda: os.open(M, os.O_RDONLY | os.O_TRUNC)),
    ("mkdir .x", lambda: os.mkdir(MD + "/.x")),
    ("rmdir tmp", lambda: os.rmdir(F + "/tmp")),
    ("unlink", lambda: os.unlink(M)),
    ("rename to new/", lambda: os.rename(M, F + "/new/x")),
    ("truncate", lambda: os.truncate(M, 0)),
    ("setxattr", lambda: os.setxattr(M, "user.test", b"1")),
    ("chmod", lambda: os.chmod(M, 0o600)),
    ("utime", lambda: os.utime(M, (0, 0))),
    ("symlink", lambda: os.symlink("x", F + "/cur/l")),
]
bad = []
for name, op in ops:
    try:
        op()
        bad.append(name + ": succeeded")
    except OSError as e:
        if e.errno != errno.EROFS:
            bad.append("%s: %s" % (name, errno.errorcode.get(e.errno, e.errno)))
assert not bad, bad
PY

note "notmuch indexes it and finds a word"
mkdir -p "$T/nm/db"
cat >"$T/nm/config" <<EOF
[database]
path=$T/nm/db
mail_root=$MD
[new]
tags=unread;inbox;
[maildir]
synchronize_flags=false
EOF
export NOTMUCH_CONFIG="$T/nm/config" HOME="$T/nm"
out=$(notmuch new 2>&1) || fail "notmuch new: $out"
[[ "$out" =~ "Added 4 new messages to the database." ]] || fail "notmuch new said: $out"
[ "$(notmuch search --output=files quokka)" = "$M" ] || fail "search quokka: $(notmuch search --output=files quokka)"
[ "$(notmuch count 'from:alice@example.com')" = 4 ] || fail "from:alice count $(notmuch count from:alice@example.com)"
[ "$(notmuch search --output=messages quokka)" = "id:$id.$dev@sealbox" ] ||
	fail "message id: $(notmuch search --output=messages quokka)"
[ "$(notmuch count attachment:photo.bin)" = 1 ] || fail "attachment:photo.bin not indexed"

note "nothing rendered to disk"
! grep -rqa quokka "$(mb_home bob)" || fail "the word is on disk in clear: $(grep -rla quokka "$(mb_home bob)")"
mb_finish
