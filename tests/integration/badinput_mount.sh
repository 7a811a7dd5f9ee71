#!/usr/bin/env bash
# Bad input through the mount and the home: outbox file names (very long,
# control characters, "..", not UTF-8), extended attributes with odd names
# and values, a garbage contacts.vcf, a corrupt config.  Each gets a precise
# errno or a clear one-line error, never EIO and never a crash; nothing sent
# before is lost and a good file sent afterwards arrives.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
echo "good before" >"$O/before.txt"
wait_for_file 20 "$I" "$(mb_inbox_re before.txt)" >/dev/null

# pyop OP NAME_HEX [ARGS]: one operation on O/<bytes>, prints OK or the errno.
pyop() {
	python3 - "$O" "$@" <<'PY'
import errno, os, sys
d, op, name = sys.argv[1].encode(), sys.argv[2], bytes.fromhex(sys.argv[3])
p = d + b"/" + name
try:
    if op == "create":
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"odd name\n")
        finally:
            os.close(fd)
    elif op == "mkdir":
        os.mkdir(p)
    elif op == "setx":
        os.setxattr(d + b"/before.txt", bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4]))
    elif op == "getx":
        os.getxattr(d + b"/before.txt", bytes.fromhex(sys.argv[3]))
    elif op == "listx":
        os.listxattr(d + b"/before.txt")
    elif op == "rmx":
        os.removexattr(d + b"/before.txt", bytes.fromhex(sys.argv[3]))
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
}
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
bad=0
# expect WHAT ALLOWED_REGEX RESULT
expect() {
	if [[ ! "$3" =~ ^($2)$ ]]; then
		echo "BAD: $1: $3 (wanted $2)" >&2
		bad=$((bad + 1))
	else
		note "$1: $3"
	fi
}

note "outbox file names"
expect "256-byte name" "ENAMETOOLONG" "$(pyop create "$(hexof "$(head -c 256 /dev/zero | tr '\0' n)")")"
expect "255-byte name" "OK" "$(pyop create "$(hexof "$(head -c 251 /dev/zero | tr '\0' n).txt")")"
expect "newline in name" "OK|EINVAL" "$(pyop create "$(hexof $'a\nb.txt')")"
expect "escape sequence in name" "OK|EINVAL" "$(pyop create "$(hexof $'\e[31mred.txt')")"
expect "DEL in name" "OK|EINVAL" "$(pyop create "$(hexof $'del\x7f.txt')")"
expect "not UTF-8" "OK|EINVAL|EILSEQ" "$(pyop create "fffe2e747874")"
expect "RLO in name" "OK|EINVAL" "$(pyop create "$(hexof $'invoice\u202efdp.exe')")"
expect "'..' as a name" "EEXIST|EISDIR|EINVAL|EPERM|EACCES" "$(pyop create "2e2e")"
expect "'..' as a folder" "EEXIST|EINVAL|EPERM|EACCES" "$(pyop mkdir "2e2e")"
# Folders go as folders (issue 13, point 8); 33 levels is past what one
# message can name (PROTOCOL 11.1) and is refused at the mkdir.
expect "mkdir in a conversation" "OK" "$(pyop mkdir "$(hexof sub)")"
deep=sub; for _ in $(seq 2 32); do deep="$deep/d"; done
expect "32 levels of folders" "OK" "$(mkdir -p "$O/$deep" 2>/dev/null && echo OK || echo FAILED)"
expect "a 33rd level" "ENAMETOOLONG" "$(pyop mkdir "$(hexof "$deep/e")")"

note "extended attributes"
expect "set user.sealbox.status" "EPERM|EACCES|EROFS|ENOTSUP|EOPNOTSUPP|EINVAL" "$(pyop setx "$(hexof user.sealbox.status)" "$(hexof delivered)")"
expect "set a long name" "ERANGE|ENOTSUP|EOPNOTSUPP|EPERM|EINVAL|OK" "$(pyop setx "$(hexof "user.$(head -c 250 /dev/zero | tr '\0' x)")" 31)"
expect "set a control-character name" "ENOTSUP|EOPNOTSUPP|EPERM|EINVAL|OK" "$(pyop setx "$(hexof $'user.a\nb')" 31)"
expect "set a non-UTF-8 name" "ENOTSUP|EOPNOTSUPP|EPERM|EINVAL|OK" "$(pyop setx "757365722eff" 31)"
expect "set trusted.x" "ENOTSUP|EOPNOTSUPP|EPERM|EINVAL" "$(pyop setx "$(hexof trusted.x)" 31)"
expect "get an unknown name" "ENODATA" "$(pyop getx "$(hexof user.nonexistent)")"
expect "get a non-UTF-8 name" "ENODATA" "$(pyop getx "757365722eff")"
expect "get an empty-ish name" "ENODATA|EINVAL|ERANGE" "$(pyop getx "$(hexof user.)")"
expect "list" "OK" "$(pyop listx 00)"
expect "remove user.sealbox.status" "EPERM|EACCES|EROFS|ENOTSUP|EOPNOTSUPP|ENODATA" "$(pyop rmx "$(hexof user.sealbox.status)")"
wait_status 10 "$O/before.txt" '^delivered 1/1$'

note "garbage contacts.vcf"
head -c 20000 /dev/urandom >"$(mb_home alice)/contacts.vcf"
printf 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:\xff\xfe\x1b[2J\r\nEMAIL:bob@example.com\r\nBEGIN:VCARD\r\n' \
	>>"$(mb_home alice)/contacts.vcf"
ls "$A/outbox" >/dev/null || fail "outbox unreadable with a garbage contacts.vcf"
ls "$A/inbox" >/dev/null || fail "inbox unreadable with a garbage contacts.vcf"
expect "unknown contact folder" "ENXIO" "$(mb_errno mkdir "$A/outbox/Nobody Known")"

note "the good file still goes, nothing earlier was lost"
echo "good after" >"$O/after.txt"
g=$(wait_for_file 20 "$I" "$(mb_inbox_re after.txt)")
[ "$(cat "$g")" = "good after" ] || fail "after.txt reads '$(cat "$g")'"
[ "$(cat "$(wait_for_file 5 "$I" "$(mb_inbox_re before.txt)")")" = "good before" ] ||
	fail "before.txt changed"
# Whatever odd names the outbox accepted arrive under sanitised names.
sleep 2
while IFS= read -r f; do
	if printf '%s' "$f" | LC_ALL=C grep -q '[[:cntrl:]]'; then
		fail "an inbox name holds a control character: $(printf '%q' "$f")"
	fi
	printf '%s' "$f" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 ||
		fail "an inbox name is not UTF-8: $(printf '%q' "$f")"
done < <(ls -A "$I")
grep -qE "sanitizer|runtime error" "$(mb_log alice)" "$(mb_log bob)" && fail "sanitizer report"
mb_umount alice

note "corrupt config: one clear line"
cp "$(mb_home alice)/config" "$T/config.good"
for variant in garbage empty nul longline; do
	case $variant in
	garbage) head -c 3000 /dev/urandom >"$(mb_home alice)/config" ;;
	empty) : >"$(mb_home alice)/config" ;;
	nul) printf 'address = alice@example.com\0\nrelay = x\n' >"$(mb_home alice)/config" ;;
	longline) { cat "$T/config.good"; head -c 100000 /dev/zero | tr '\0' x; echo; } >"$(mb_home alice)/config" ;;
	esac
	for cmd in status mount; do
		args=("$cmd" --home "$(mb_home alice)")
		[ "$cmd" = mount ] && args=(mount "$A" -f --home "$(mb_home alice)")
		rc=0
		timeout 20 "$SEALBOX" "${args[@]}" >"$T/out" 2>"$T/err" || rc=$?
		if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ] || [ "$(wc -l <"$T/err")" -ne 1 ] ||
		    ! grep -qi "config" "$T/err"; then
			echo "BAD: $variant config, sealbox $cmd: exit $rc: $(head -c 300 "$T/err")" >&2
			bad=$((bad + 1))
		fi
		! _mb_mounted "$A" || { fusermount3 -u "$A"; fail "mounted with a corrupt config"; }
	done
done
cp "$T/config.good" "$(mb_home alice)/config"
: >"$(mb_home alice)/contacts.vcf"
mb_mount alice
[ "$(cat "$O/before.txt")" = "good before" ] || fail "before.txt after the config came back"
[ "$bad" -eq 0 ] || fail "$bad bad answers"
mb_finish
