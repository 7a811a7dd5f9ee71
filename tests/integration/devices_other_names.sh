#!/usr/bin/env bash
# `sealbox devices` (issue 17): the relay tells device names only to the
# account's own devices, so another account's devices list with "-" in
# the name column (not an empty field that shifts the columns); our own
# devices keep their names.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_device bob2 bob@example.com --suite pair
fp='([0-9a-f]{4} ){7}[0-9a-f]{4}'
out=$("$SEALBOX" devices --home "$(mb_home alice)" Bob@Example.com) || fail "devices: $out"
[ "$(wc -l <<<"$out")" -eq 2 ] || fail "bob's devices: $out"
while IFS= read -r line; do
	[[ "$line" =~ ^[0-9]+\ +-\ +(ec|pair)\ +$fp$ ]] || fail "another account's device: '$line'"
done <<<"$out"
out=$("$SEALBOX" devices --home "$(mb_home bob)") || fail "own devices: $out"
grep -Eq "^$(mb_device_id bob) +bob +ec +$fp +\(this device\)$" <<<"$out" || fail "own devices: $out"
grep -Eq "^$(mb_device_id bob2) +bob2 +pair +$fp$" <<<"$out" || fail "own devices: $out"
mb_finish
