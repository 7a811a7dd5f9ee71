#!/usr/bin/env bash
# Against a hostile relay (tests/helpers/hostile_relay.c: the real relay
# over a lying store, driven by a seeded schedule) nothing false appears in
# an inbox, nothing true is lost, and every false item is rejected with its
# reason in the receiving agent's log.
#
#   phase 1  hostile (seed $HOSTILE_SEED): alice sends texts and attachments
#            to bob's two devices, bob sends to alice; pushes are dropped,
#            held back and reordered, delayed, duplicated; false items are
#            injected (bit flips, truncations, payloads swapped between
#            devices, old payloads replayed under new ids, changed sender,
#            sender device or time); no ACK is honoured.
#   phase 2  hostile with a forged identity served for alice@example.com:
#            the forged keys are not in the relay's transparency log, so
#            `sealbox devices` and `sealbox verify` at carol refuse the
#            answer (docs/PROTOCOL.md 14.8) instead of showing it; alice
#            sends more.
#   phase 3  the honest sealbox-relay on the same database: everything
#            queued is pushed again; every inbox holds exactly what was sent,
#            once, byte for byte; every queue drains.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

SEED=${HOSTILE_SEED:-20261124}
HOSTILE="$SB_BUILD/tests/helpers/hostile_relay"
CHECK="$SB_TOP/tests/hostile/check_inbox.py"
HLOG="$T/hostile.log"
[ -x "$HOSTILE" ] || fail "$HOSTILE not built (run make)"
note "seed $SEED (HOSTILE_SEED=... to repeat another schedule)"

hostile_start() {
	local before
	before=$(grep -c "listening on" "$HLOG" 2>/dev/null || true)
	echo "=== hostile_relay $*" >>"$HLOG"
	"$HOSTILE" --data "$RDATA" "$@" 2>>"$HLOG" &
	HPID=$!
	on_exit "kill -9 $HPID"
	_hl() { [ "$(grep -c "listening on" "$HLOG" 2>/dev/null || true)" -gt "${before:-0}" ]; }
	wait_until 10 _hl || fail "hostile relay did not start: $(tail -3 "$HLOG")"
}
# Every push of the hostile relay was handled by its agent (received or
# rejected): only then may it stop, or items still waiting in an agent would
# be dropped unhandled at the disconnect (never re-pushed: they were false).
_handled() {
	local pushed done_
	pushed=$(grep -c " push conn=" "$HLOG" || true)
	done_=$(cat "$(mb_log alice)" "$(mb_log bob1)" "$(mb_log bob2)" |
		grep -cE "^sealbox: (rejected|received) message" || true)
	[ "$pushed" -eq "$done_" ]
}
hostile_stop() {
	local st=0
	wait_until "$(mb_secs 60)" _handled ||
		fail "pushes not all handled: $(grep -c " push conn=" "$HLOG") pushed"
	kill -TERM "$HPID"
	wait "$HPID" || st=$?
	[ "$st" -eq 0 ] || fail "hostile relay exited $st: $(tail -3 "$HLOG")"
	! grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$HLOG" ||
		fail "sanitizer report in the hostile relay's log"
}

mb_relay
mb_device alice alice@example.com
mb_device bob1 bob@example.com
mb_device bob2 bob@example.com
# carol only asks the directory (sealbox devices/verify); not mounted, so
# her queries never replace a mounted device's connection.
mb_device carol carol@example.com
mb_mount alice
mb_mount bob1
mb_mount bob2
A=$(mb_mnt alice)
mkdir "$A/outbox/bob@example.com" "$(mb_mnt bob1)/outbox/alice@example.com"
honest_devices=$("$SEALBOX" devices alice@example.com --home "$(mb_home carol)" 2>&1) ||
	fail "sealbox devices: $honest_devices"
honest_verify=$("$SEALBOX" verify alice@example.com --home "$(mb_home carol)" 2>&1) ||
	fail "sealbox verify: $honest_verify"

mkdir -p "$T/to-bob" "$T/to-alice"
# send FROM FOLDER NAME SIZE SEED
send() {
	local f="$(mb_mnt "$1")/outbox/$2/$3"
	mb_data "$4" "$5" >"$T/$6/$3"
	cp "$T/$6/$3" "$f"
	wait_status 30 "$f" '^(sent|delivered [0-9]+/[0-9]+)$'
}

note "phase 1: hostile relay"
relay_stop
hostile_start --seed "$SEED"
for i in $(seq 1 12); do
	send alice bob@example.com "m$i.txt" $((20 + i * 97)) "$i" to-bob
done
send alice bob@example.com "att1.bin" 9000 101 to-bob
send alice bob@example.com "att2.bin" 70000 102 to-bob
for i in 1 2 3; do
	send bob1 alice@example.com "r$i.txt" $((50 * i)) $((200 + i)) to-alice
done
hostile_stop

note "phase 2: hostile relay serving a forged identity for alice"
hostile_start --seed $((SEED + 1)) --forge alice@example.com
logmsg="directory answer does not match the relay's transparency log"
! forged_devices=$("$SEALBOX" devices alice@example.com --home "$(mb_home carol)" 2>&1) ||
	fail "sealbox devices took the forged identity: $forged_devices"
[[ "$forged_devices" == *"$logmsg"* ]] || fail "sealbox devices (forged): $forged_devices"
! forged_verify=$("$SEALBOX" verify alice@example.com --home "$(mb_home carol)" 2>&1) ||
	fail "sealbox verify took the forged identity: $forged_verify"
[[ "$forged_verify" == *"$logmsg"* ]] || fail "sealbox verify (forged): $forged_verify"
[ -n "$honest_devices" ] && [ -n "$honest_verify" ] || fail "no honest answers to compare"
grep -q "hostile: forged identity address=alice@example.com" "$HLOG" ||
	fail "the hostile relay served no forged identity"
for i in 13 14 15; do
	send alice bob@example.com "m$i.txt" $((20 + i * 97)) "$i" to-bob
done
hostile_stop

note "phase 3: the honest relay"
relay_start
for d in alice bob1 bob2; do
	wait_queue_empty 60 "$d"
done
sleep 1
for d in bob1 bob2; do
	python3 "$CHECK" inbox "$T/to-bob" "$(mb_mnt "$d")/inbox/alice@example.com" ||
		fail "$d's inbox differs from what alice sent"
	[ "$(ls -A "$(mb_mnt "$d")/inbox")" = "alice@example.com" ] ||
		fail "$d has other inbox folders: $(ls -A "$(mb_mnt "$d")/inbox" | tr '\n' ' ')"
done
python3 "$CHECK" inbox "$T/to-alice" "$A/inbox/bob@example.com" ||
	fail "alice's inbox differs from what bob sent"
[ "$(ls -A "$A/inbox")" = "bob@example.com" ] ||
	fail "alice has other inbox folders: $(ls -A "$A/inbox" | tr '\n' ' ')"
python3 "$CHECK" rejections "$HLOG" \
	"$(mb_device_id alice)=$(mb_log alice)" \
	"$(mb_device_id bob1)=$(mb_log bob1)" \
	"$(mb_device_id bob2)=$(mb_log bob2)" ||
	fail "an injected item was not rejected with a logged reason"
for k in drop hold delay duplicate; do
	grep -q "^hostile: $k " "$HLOG" || fail "the schedule never did '$k' (pick another seed)"
done
note "rejections logged: alice $(grep -c 'rejected message' "$(mb_log alice)"), bob1 $(grep -c 'rejected message' "$(mb_log bob1)"), bob2 $(grep -c 'rejected message' "$(mb_log bob2)")"
mb_finish
