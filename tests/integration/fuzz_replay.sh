#!/usr/bin/env bash
# fuzz_replay: every fuzz harness (fuzz/fuzz_<target>.c), built by gcc as
# $SB_BUILD/fuzz/replay_<target>, replays its checked-in corpus
# (fuzz/corpus/<target>) and every past finding (fuzz/crashes/<target>)
# without a crash, a sanitizer report (SANITIZE=1 builds) or a broken
# harness property.  Known open findings (fuzz/findings/<target>, reported,
# awaiting a fix in someone else's module) must still reproduce: once one
# stops failing it has been fixed, and this case fails until the fix moves
# it into fuzz/crashes/<target>/, where it guards against a regression.
# Prints "fuzz-replay: N passed, N failed" (one per target and directory).
. "$(dirname "$0")/../lib/common.sh"

export SB_FUZZ_KEYS="$SB_TOP/tests/vectors/keys"
unset SB_FUZZ_SKIP_KNOWN
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

pass=0 failed=0 targets=0
for src in "$SB_TOP"/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	t=${t#fuzz_}
	bin="$SB_BUILD/fuzz/replay_$t"
	targets=$((targets + 1))
	[ -x "$bin" ] || fail "$bin not built (make BUILD=... fuzz-replay)"
	corpus="$SB_TOP/fuzz/corpus/$t" crashes="$SB_TOP/fuzz/crashes/$t"
	[ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ] || fail "empty or missing corpus $corpus"
	[ -d "$crashes" ] || fail "missing $crashes (keep it, with .gitkeep)"
	for dir in "$corpus" "$crashes"; do
		if out=$("$bin" "$dir" 2>"$T/$t.err"); then
			note "$out"
			pass=$((pass + 1))
		else
			echo "replay_$t failed on ${dir#"$SB_TOP"/}:" >&2
			tail -n 30 "$T/$t.err" >&2
			failed=$((failed + 1))
		fi
	done
	if [ -d "$SB_TOP/fuzz/findings/$t" ]; then
		for f in "$SB_TOP/fuzz/findings/$t"/*; do
			[ -f "$f" ] || continue
			# An inner shell keeps bash's "Aborted" notice with the rest.
			if bash -c '"$@"; exit $?' _ "$bin" "$f" >/dev/null 2>"$T/$t.finding"; then
				echo "fixed: ${f#"$SB_TOP"/} no longer fails; git mv it to fuzz/crashes/$t/" >&2
				failed=$((failed + 1))
			elif grep -Eq 'property failed|ERROR: AddressSanitizer|runtime error' "$T/$t.finding"; then
				note "known open finding still reproduces: ${f#"$SB_TOP"/}"
				pass=$((pass + 1))
			else
				echo "${f#"$SB_TOP"/} failed for another reason:" >&2
				tail -n 10 "$T/$t.finding" >&2
				failed=$((failed + 1))
			fi
		done
	fi
done
[ "$targets" -gt 0 ] || fail "no fuzz harnesses found"
echo "fuzz-replay: $pass passed, $failed failed"
[ "$failed" -eq 0 ] || fail "$failed fuzz replay(s) failed"
