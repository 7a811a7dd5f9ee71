#!/usr/bin/env bash
# Group commit under kill -9 (docs/RELAY.md "Group commit"): three devices
# each send from 8 threads at once over one connection (many SENDs in
# flight, so one turn of the relay's loop holds several) while bob
# receives and acknowledges, and the relay is killed with SIGKILL at
# seeded random moments and started again.  Afterwards:
#   - every message the relay answered "accepted" reached bob, queued once
#     (one item id per message id), and nothing bob never sent arrived;
#   - no item whose ACK the relay answered was ever pushed again;
#   - nothing is left queued;
#   - and the relay does batch: SENDs that wait while it is stopped
#     (SIGSTOP) are committed in one group (the metrics' counters).
#   RELAY_KILL_SEED   the schedule (default fixed; the log names it)
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

SEED=${RELAY_KILL_SEED:-1515}
RANDOM=$SEED
PER_THREAD=300          # x 8 threads x 3 senders
KILLS=4
note "seed $SEED, $((PER_THREAD * 8 * 3)) messages, $KILLS kills"

relay_init
MPORT=$(free_port)
relay_start --metrics "127.0.0.1:$MPORT"
new_device bob bob@example.com >/dev/null
for i in 1 2 3; do new_device "s$i" "s$i@example.com" >/dev/null; done

rc recv --keys "$T/bob" --ack --print-acks --until-idle --timeout 10 \
	--ready-file "$T/bob.ready" >"$T/bob.out" 2>"$T/bob.err" &
bobpid=$!
wait_until 10 test -f "$T/bob.ready" || fail "bob never connected"
spids=()
for i in 1 2 3; do
	rc flood --keys "$T/s$i" --to bob@example.com --count $PER_THREAD --timeout 60 \
		>"$T/s$i.out" 2>"$T/s$i.err" &
	spids+=($!)
done

# The kills: each after 0.2..0.6 s of traffic, the relay back at once.
for k in $(seq 1 $KILLS); do
	sleep "0.$((RANDOM % 400 + 200))"
	n=$(cat "$T"/s?.out 2>/dev/null | wc -l)
	echo "kill $k after $n accepted" >>"$T/kills.log"
	kill -KILL "$RPID"
	wait "$RPID" 2>/dev/null || true
	relay_start --metrics "127.0.0.1:$MPORT"
done
for i in 1 2 3; do
	wait "${spids[$((i - 1))]}" || fail "sender s$i: $(tail -2 "$T/s$i.err")"
done
wait "$bobpid" || fail "bob: $(tail -2 "$T/bob.err")"
cat "$T/kills.log" >&2
grep -q "^kill $KILLS after [0-9]" "$T/kills.log" || fail "not every kill happened"
[ "$(grep -c "^kill [0-9]* after $((PER_THREAD * 24))$" "$T/kills.log")" -eq 0 ] ||
	fail "a kill came after the last send: raise PER_THREAD"

python3 - "$T" "$PER_THREAD" <<'PY' || fail "delivery check failed"
import re, sys
t, per = sys.argv[1], int(sys.argv[2])
accepted = set()
for i in (1, 2, 3):
    for line in open(f"{t}/s{i}.out"):
        m = re.match(r"accepted ([0-9a-f]{32})( exists)?$", line.strip())
        assert m, f"s{i}: odd line {line!r}"
        assert m.group(1) not in accepted, f"accepted twice: {m.group(1)}"
        accepted.add(m.group(1))
want = per * 8 * 3
assert len(accepted) == want, f"{len(accepted)} of {want} sends accepted"
# bob prints "got" as a push arrives and "acked" once the relay answered
# the ack: no "got" of an item may follow its "acked".
item_of, acked, late = {}, set(), []
for line in open(f"{t}/bob.out"):
    m = re.match(r"push item=(\d+) msg=([0-9a-f]{32}) ", line)
    if m:
        item, msg = int(m.group(1)), m.group(2)
        assert item_of.setdefault(msg, item) == item, f"{msg} queued twice"
        continue
    m = re.match(r"(got|acked) item=(\d+)$", line.strip())
    assert m, f"bob: odd line {line!r}"
    item = int(m.group(2))
    if m.group(1) == "acked":
        acked.add(item)
    elif item in acked:
        late.append(item)
assert not late, f"{len(late)} acknowledged items pushed again, e.g. {late[:5]}"
# The same from the relay's side, across its restarts: an item it logged
# deleted (after the commit, with the answer) is never pushed again.
gone, again = set(), []
for line in open(f"{t}/relay.log"):
    m = re.search(r" ack conn=\d+ device=\d+ item=(\d+): deleted$", line)
    if m:
        gone.add(int(m.group(1)))
    m = re.search(r" push conn=\d+ device=\d+ item=(\d+) ", line)
    if m and int(m.group(1)) in gone:
        again.append(int(m.group(1)))
assert not again, f"{len(again)} deleted items pushed again, e.g. {again[:5]}"
assert len(gone) > 0, "no ack logged"
lost = accepted - set(item_of)
assert not lost, f"{len(lost)} accepted messages never delivered, e.g. {sorted(lost)[:3]}"
extra = set(item_of) - accepted
assert not extra, f"{len(extra)} delivered messages nobody saw accepted"
print(f"{len(accepted)} accepted, all delivered once; {len(acked)} acks answered,"
      " none came back", file=sys.stderr)
PY
rc recv --keys "$T/bob" --count 0 --timeout 2 >/dev/null || fail "items left queued for bob"

# Batching, made certain: the relay stops (SIGSTOP) for a second while
# three senders of 8 threads each keep sending, so their SENDs wait in the
# sockets; the first turn after SIGCONT reads from all of them and commits
# what it read in ONE group.
rc recv --keys "$T/bob" --ack --until-idle --timeout 5 >"$T/bob2.out" 2>/dev/null &
bobpid=$!
for i in 1 2 3; do
	rc flood --keys "$T/s$i" --to bob@example.com --count 100 >"$T/b$i.out" &
	spids[$((i - 1))]=$!
done
_going() { [ "$(cat "$T"/b?.out | wc -l)" -ge 200 ]; }
wait_until 30 _going || fail "the burst did not start"
kill -STOP "$RPID"
sleep 1
kill -CONT "$RPID"
for p in "${spids[@]}"; do wait "$p" || fail "burst sender"; done
wait "$bobpid" || fail "bob (burst)"
[ "$(grep -c '^push ' "$T/bob2.out")" -ge 2400 ] || fail "burst: $(grep -c '^push ' "$T/bob2.out") pushes"
curl -fsS "http://127.0.0.1:$MPORT/metrics" >"$T/metrics" || fail "metrics scrape"
m() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"; }
commits=$(m sealbox_relay_commits_total)
ops=$(m sealbox_relay_committed_ops_total)
most=$(m sealbox_relay_commit_ops_max)
note "$ops SENDs and ACKs in $commits commits, at most $most in one"
[ -n "$commits" ] && [ -n "$ops" ] && [ "$ops" -ge 4800 ] || fail "counters: commits=$commits ops=$ops"
[ "$commits" -lt "$ops" ] || fail "no batching: $ops ops in $commits commits"
# libevent's TLS bufferevent hands over one or two TLS records per
# connection and turn (each of the client's frames is one), so the first
# turn holds about two SENDs of each of the three senders: 6 or more.
[ "${most:-0}" -ge 6 ] || fail "the stopped relay's backlog was not one group: at most $most"
relay_stop
exit 0
