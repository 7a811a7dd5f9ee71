#!/usr/bin/env bash
# valgrind.sh - `make valgrind`: a representative subset of the integration
# suite with the mount daemon (`sealbox mount`) and the relay
# (`sealbox-relay serve`) under valgrind memcheck.  Not part of `make check`
# (it takes minutes); the result is recorded in docs/SECURITY.md.
#
#   scripts/valgrind.sh [BUILD_DIR] [CASE.sh ...]
#
# How: BUILD_DIR/valgrind/ gets wrapper scripts named sealbox and
# sealbox-relay that run `mount` and `serve` under memcheck (every other
# command runs natively: key generation under valgrind would only be slow),
# and the cases run with SB_BUILD pointing there.  Each process writes its
# own log; the script fails if any log reports an error or a definite leak.
# Suppressions (tests/valgrind.supp) cover only glib/gio/libsecret/libfuse
# internals; none names project code.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
shift || true
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(mailbox_text_both_ways.sh mailbox_attach_sizes.sh relay_push.sh)

command -v valgrind >/dev/null || {
	echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
	exit 1
}
vg="$build/valgrind"
logs="$vg/logs"
rm -rf "$vg"
mkdir -p "$logs"
ln -s "$build/tests" "$vg/tests"
for prog in sealbox:mount sealbox-relay:serve; do
	name=${prog%%:*} sub=${prog#*:}
	cat >"$vg/$name" <<WRAP
#!/bin/sh
if [ "\$1" = "$sub" ]; then
	exec valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \\
		--show-leak-kinds=definite --errors-for-leak-kinds=definite \\
		--num-callers=30 --suppressions="$top/tests/valgrind.supp" \\
		--log-file="$logs/$name-%p.log" "$build/$name" "\$@"
fi
exec "$build/$name" "\$@"
WRAP
	chmod +x "$vg/$name"
done

failed=0
for c in "${cases[@]}"; do
	echo "== $c (under valgrind)"
	if ! SB_BUILD="$vg" timeout 900 bash "$top/tests/integration/$c"; then
		echo "FAIL: $c" >&2
		failed=$((failed + 1))
	fi
done

n=0 bad=0
for l in "$logs"/*.log; do
	[ -e "$l" ] || continue
	n=$((n + 1))
	if grep -qE "ERROR SUMMARY: [1-9]|definitely lost: [1-9]" "$l"; then
		bad=$((bad + 1))
		echo "---- $l" >&2
		grep -E "ERROR SUMMARY|definitely lost|^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|.*definitely)" "$l" | head -20 >&2
	fi
done
echo "valgrind: ${#cases[@]} cases ($failed failed), $n processes under memcheck, $bad with errors or definite leaks"
[ "$n" -gt 0 ] || { echo "valgrind: no process ran under valgrind" >&2; exit 1; }
[ "$failed" -eq 0 ] && [ "$bad" -eq 0 ]
