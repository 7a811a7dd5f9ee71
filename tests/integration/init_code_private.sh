#!/usr/bin/env bash
# Issue 12, finding 3: the enrollment code never passes through a command
# line or an environment, where every local user (/proc/PID/cmdline) or the
# same user (/proc/PID/environ) can read it and enroll a device of their own
# first.
#   - `--code CODE` (and --code=CODE, and a bare --code) is refused with the
#     exact one-line message, exit 2, before anything happens: the relay sees
#     no registration and the code stays unused;
#   - a --code-file that group or others may read is refused (exit 1, one
#     line saying why), nothing registered;
#   - while init runs with the code from a 0600 --code-file, on stdin, from
#     `--code-file -` and typed at a no-echo terminal prompt, a poller
#     reading every /proc/*/cmdline and /proc/*/environ it can (this case's
#     own user: more than `nobody` could) never sees any of the codes.  Each
#     init is held for a second with its code read (the relay is down when
#     it starts, so it retries its connection), time for dozens of scans;
#     the poller proves it would have seen a code, by catching canaries in
#     the argv and the environment of processes that live as long;
#   - each of those inits works end to end: `sealbox devices` lists the
#     device as this device; the prompt does not echo the code.
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] ||
	exec "$(dirname "$0")/../../scripts/with-keyring" bash "$0" "$@"
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/relay.sh"

relay_init
relay_start
invite() { "$SEALBOX_RELAY" invite --data "$RDATA" "$1" || fail "invite $1"; }
init() {   # init NAME ADDRESS [options]: into $T/NAME
	local name=$1 addr=$2
	shift 2
	"$SEALBOX" init --home "$T/$name" --address "$addr" --relay "127.0.0.1:$RPORT" \
		--fingerprint "$FP" --device-name "$name" "$@"
}
registrations() { grep -c 'register ' "$RLOG" || true; }
# this_device NAME: the relay lists NAME's device, marked as this device.
this_device() {
	local list
	list=$("$SEALBOX" devices --home "$T/$1" </dev/null) || fail "devices $1: $list"
	grep -q "^[0-9]* *$1 .*(this device)$" <<<"$list" || fail "devices $1 printed '$list'"
}

note "--code is refused, exactly, with exit 2, and registers nothing"
code0=$(invite alice@example.com)
want='sealbox: init: --code is refused: a code on the command line can be read by every local user (/proc/PID/cmdline) and used to enroll first; give it on standard input, at the prompt, or with --code-file FILE (mode 0600)'
for form in "--code $code0" "--code=$code0" "--code"; do
	rc=0
	# shellcheck disable=SC2086  # the form is split on purpose
	err=$(init a0 alice@example.com $form 2>&1 </dev/null >/dev/null) || rc=$?
	[ "$rc" -eq 2 ] || fail "'${form%% *}': exit $rc, wanted 2 ($err)"
	[ "$err" = "$want" ] || fail "'${form%% *}': stderr '$err'"
done
[ ! -e "$T/a0" ] || fail "a refused --code created the home"
[ "$(registrations)" -eq 0 ] || fail "a refused --code reached the relay: $(grep register "$RLOG")"

note "a code file others may read is refused"
code1=$(invite alice@example.com)
printf '%s\n' "$code1" >"$T/code1"
for mode in 640 604 620 660 644; do
	chmod "$mode" "$T/code1"
	expect_fail 1 "^sealbox: init: --code-file $T/code1 is accessible by group or others \\(mode 0$mode\\): .*chmod 600" \
		init a1 alice@example.com --code-file "$T/code1"
done
[ ! -e "$T/a1" ] || fail "a refused code file created the home"
[ "$(registrations)" -eq 0 ] || fail "a refused code file reached the relay"
chmod 600 "$T/code1"

# ---- the poller -------------------------------------------------------------
code2=$(invite bob@example.com)
code3=$(invite carol@example.com)
code4=$(invite dave@example.com)
canary_argv="sbcanary-argv-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
canary_env="sbcanary-env-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# The needles reach the poller in a 0600 file, not in its own argv.
(umask 077; printf '%s\n' "code $code0" "code $code1" "code $code2" "code $code3" \
	"code $code4" "canary $canary_argv" "canary $canary_env" >"$T/needles")
python3 - "$T/needles" "$T/poll.stop" "$T/poll.out" <<'PY' &
import os, sys
needles_file, stop, out = sys.argv[1:4]
needles = [line.split(" ", 1) for line in open(needles_file).read().splitlines()]
needles = [(kind, value.encode()) for kind, value in needles]
me, scans, seen = os.getpid(), 0, {}
ready = stop + ".ready"
while not os.path.exists(stop):
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        for what in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (pid, what), "rb") as f:
                    data = f.read()
            except OSError:
                continue
            for kind, value in needles:
                if value in data and (value, what) not in seen:
                    try:
                        comm = open("/proc/%s/comm" % pid).read().strip()
                    except OSError:
                        comm = "?"
                    seen[(value, what)] = "%s %s in /proc/%s/%s (%s)" % (kind, value.decode(), pid, what, comm)
    scans += 1
    if scans == 1:
        open(ready, "w").close()
with open(out, "w") as f:
    f.write("scans %d\n" % scans)
    for line in seen.values():
        f.write(line + "\n")
PY
poller=$!
on_exit "touch $T/poll.stop; kill $poller"
wait_until 20 test -e "$T/poll.stop.ready" || fail "poller did not start"

note "the poller sees the argv and the environment of a process living 1 s"
bash -c 'sleep 1; :' _ "$canary_argv"
SB_CANARY="$canary_env" sleep 1   # in sleep's environment only

# held NAME CMD...: runs CMD (an init) in the background while the relay is
# down, so it holds its code for a second before it can register; then
# starts the relay and waits for CMD, which must succeed.  Output: $T/NAME.out
held() {
	local name=$1 pid st=0
	shift
	relay_stop
	"$@" <&0 >"$T/$name.out" 2>&1 &   # <&0: a background job would get /dev/null
	pid=$!
	sleep 1
	relay_start
	wait "$pid" || st=$?
	[ "$st" -eq 0 ] || fail "init $name: exit $st: $(cat "$T/$name.out")"
	grep -q 'registered at' "$T/$name.out" || fail "init $name printed: $(cat "$T/$name.out")"
	this_device "$name"
}
export SEALBOX_CONNECT_TIMEOUT=60

note "--code-file (mode 0600) works end to end"
held a1 init a1 alice@example.com --code-file "$T/code1" </dev/null

note "the code on standard input (a pipe) works"
pipe_init() { printf '%s\n' "$code2" | init b1 bob@example.com; }
held b1 pipe_init

note "--code-file - reads standard input (a file)"
(umask 077; printf '  %s \r\n' "$code3" >"$T/code3")   # white space around it is dropped
held c1 init c1 carol@example.com --code-file - <"$T/code3"

note "a terminal: a prompt on stderr, no echo"
(umask 077; printf '%s\n' "$code4" >"$T/code4")
tty_init() {
	python3 - "$T/code4" "$SEALBOX" init --home "$T/d1" --address dave@example.com \
		--relay "127.0.0.1:$RPORT" --fingerprint "$FP" --device-name d1 <<'PY'
import os, pty, select, sys, termios, time
code = open(sys.argv[1]).read().strip().encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
buf, deadline, sent, echo_off = b"", time.time() + 90, False, None
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    if not sent and b"enrollment code for dave@example.com: " in buf:
        echo_off = not (termios.tcgetattr(fd)[3] & termios.ECHO)
        os.write(fd, code + b"\n")
        sent = True
_, st = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace"))
if not sent:
    sys.exit("no prompt")
if not echo_off:
    sys.exit("echo was on at the prompt")
if code in buf:
    sys.exit("the code was echoed")
sys.exit(os.waitstatus_to_exitcode(st))
PY
}
held d1 tty_init

touch "$T/poll.stop"
wait "$poller" || fail "poller failed"
scans=$(awk '$1 == "scans" { print $2 }' "$T/poll.out")
note "poller: $scans scans of /proc"
[ "${scans:-0}" -ge 10 ] || fail "the poller scanned /proc only ${scans:-0} times"
grep -q "^canary $canary_argv in /proc/[0-9]*/cmdline" "$T/poll.out" ||
	fail "the poller missed a process's argv: $(cat "$T/poll.out")"
grep -q "^canary $canary_env in /proc/[0-9]*/environ" "$T/poll.out" ||
	fail "the poller missed a process's environment: $(cat "$T/poll.out")"
if grep '^code ' "$T/poll.out"; then fail "an enrollment code was visible in /proc"; fi

note "the code refused with --code was never used: it still enrolls"
out=$(init a2 alice@example.com <<<"$code0" 2>&1) || fail "init with the refused code: $out"
[ "$("$SEALBOX" devices --home "$T/a2" | wc -l)" -eq 2 ] || fail "alice should have 2 devices"
for c in "$code0" "$code1" "$code2" "$code3" "$code4"; do
	if grep -qF -- "$c" "$RLOG"; then fail "the relay log holds an enrollment code"; fi
done
relay_stop
