#!/usr/bin/env bash
# Versions written within one second are listed in the order they were
# written (issue 13, point 5): an incoming name is the sender's time, then
# a fixed-width sequence, then the id, so `ls` (in any locale) sorts by
# time and then by sequence.  The id alone used to decide within a second:
# twelve quick versions of one file were listed in random order.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
python3 - "$O" <<'PY'
import os, sys
for i in range(1, 13):
    with open(os.path.join(sys.argv[1], "v.txt"), "w") as f:
        f.write("version %d\n" % i)
    with open(os.path.join(sys.argv[1], "w.txt"), "w") as f:
        f.write("other %d\n" % i)
PY
_all() { [ "$(mb_count "$I" "$(mb_inbox_re v.txt)")" -eq 12 ] && [ "$(mb_count "$I" "$(mb_inbox_re w.txt)")" -eq 12 ]; }
wait_until "$(mb_secs 30)" _all || fail "bob has $(ls "$I" | wc -l) of 24 messages: $(ls "$I" | tr '\n' ' ')"
stamps=$(ls "$I" | cut -c1-16 | sort -u | wc -l)
note "the 24 messages carry $stamps distinct second(s)"
for loc in $(locale -a); do
	order=$(cd "$I" && LC_ALL=$loc ls | grep -- '-v\.txt$' | while read -r f; do cat "$f"; done | tr '\n' ',')
	want=$(for i in $(seq 1 12); do printf 'version %d,' "$i"; done)
	[ "$order" = "$want" ] || fail "LC_ALL=$loc ls lists v.txt's versions as: $order ($(ls "$I" | tr '\n' ' '))"
done
all=$(cd "$I" && ls | while read -r f; do head -c 20 "$f"; done | tr '\n' ',')
want=$(for i in $(seq 1 12); do printf 'version %d,other %d,' "$i" "$i"; done)
[ "$all" = "$want" ] || fail "the folder does not list arrivals in order: $all"
ls "$I" | grep -Eq '^[0-9]{8}T[0-9]{6}Z-[0-9]{4}-[0-9a-f]{8}-v\.txt$' ||
	fail "names are not STAMP-SEQUENCE-ID-NAME: $(ls "$I" | head -3 | tr '\n' ' ')"
mb_finish
