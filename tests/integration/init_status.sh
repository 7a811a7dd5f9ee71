#!/usr/bin/env bash
# sealbox status beside a live mount: it reads the mount's store.db (WAL)
# without disturbing it and counts what the outbox still has to send; with
# the relay down a written file is "queued" and status says the relay is
# unreachable (exit 1); once the relay is back and the file went out,
# status counts nothing queued and exits 0.  `sealbox --help` lists the
# account commands.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

for c in init devices verify status; do
	"$SEALBOX" --help | grep -q "^  $c " || fail "--help does not list $c"
done

mb_relay
mb_device alice alice@example.com
mb_device bob bob@example.com
mb_mount alice
A=$(mb_mnt alice)
st=$("$SEALBOX" status --home "$(mb_home alice)") || fail "status with relay up: $st"
grep -q '^outbox: *0 queued, 0 failed' <<<"$st" || fail "fresh outbox: $st"

note "relay down: a written file stays queued"
mkdir "$A/outbox/bob@example.com"
relay_stop
printf 'while the relay is down\n' >"$A/outbox/bob@example.com/later.txt"
wait_status 10 "$A/outbox/bob@example.com/later.txt" '^queued: relay unreachable, retrying$'
rc=0
st=$(SEALBOX_CONNECT_TIMEOUT=2 "$SEALBOX" status --home "$(mb_home alice)") || rc=$?
[ "$rc" -eq 1 ] || fail "status exit $rc with the relay down"
grep -q '^relay: .*unreachable' <<<"$st" || fail "status relay: $st"
grep -q '^outbox: *1 queued, 0 failed' <<<"$st" || fail "status outbox: $st"
grep -q '^keyring: *ok' <<<"$st" || fail "status keyring: $st"

note "relay back: it goes out, status is clean"
relay_start
wait_status 30 "$A/outbox/bob@example.com/later.txt" '^(sent|delivered 0/1)$'
st=$("$SEALBOX" status --home "$(mb_home alice)") || fail "status after: $st"
grep -q '^outbox: *0 queued, 0 failed' <<<"$st" || fail "status after: $st"
mb_finish
