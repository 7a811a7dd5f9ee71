#!/usr/bin/env bash
# A 1 GiB attachment streams with flat memory: written into alice's outbox,
# encrypted at rest, uploaded, fetched, hash-checked and decrypted by bob,
# its SHA-256 equal on both sides, with the peak RSS (VmHWM) of both mount
# processes under 64 MiB.
# Streaming 1 GiB three times over (write, upload, fetch) on a loaded 2-core
# machine may take minutes: a longer watchdog than the other cases.
export MB_CASE_LIMIT=400
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

# Under ASan freed chunks sit in a quarantine (256 MiB by default) that
# would count in VmHWM without being our buffers; cap it, as relay_blob does.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
# Knobs for scripts/valgrind.sh: a smaller size, and no RSS limit (under
# memcheck VmHWM is valgrind's shadow memory).
SIZE=${MB_ATTACH_SIZE:-$((1024 * 1024 * 1024))}
LIMIT_KB=${SB_RSS_LIMIT_KB:-$((64 * 1024))}
mb_alice_to_bob

want=$(mb_data "$SIZE" 42 | sha256sum | cut -d' ' -f1)
start=$(date +%s)
mb_data "$SIZE" 42 | dd of="$O/big.bin" bs=1M iflag=fullblock status=none ||
	fail "writing 1 GiB into the outbox failed"
note "written in $(( $(date +%s) - start )) s"
[ "$(stat -c %s "$O/big.bin")" -eq "$SIZE" ] || fail "outbox size $(stat -c %s "$O/big.bin")"
got=$(wait_for_file 180 "$I" "$(mb_inbox_re big.bin)")
note "arrived $(( $(date +%s) - start )) s after the write began"
[ "$(stat -c %s "$got")" -eq "$SIZE" ] || fail "inbox size $(stat -c %s "$got")"
have=$(sha256sum <"$got" | cut -d' ' -f1)
[ "$have" = "$want" ] || fail "bob's copy has SHA-256 $have, wanted $want"
wait_status 30 "$O/big.bin" '^delivered 1/1$'
# A read at the very end and in the middle (pread without the whole file).
cmp <(tail -c 4097 "$got") <(mb_data "$SIZE" 42 | tail -c 4097) || fail "tail of the attachment"
ha=$(mb_vmhwm_kb alice) hb=$(mb_vmhwm_kb bob)
echo "VmHWM: sending mount ${ha} kB, receiving mount ${hb} kB (limit ${LIMIT_KB} kB)"
[ "$ha" -lt "$LIMIT_KB" ] || fail "sending mount peaked at ${ha} kB"
[ "$hb" -lt "$LIMIT_KB" ] || fail "receiving mount peaked at ${hb} kB"
note "total $(( $(date +%s) - start )) s"
mb_finish
