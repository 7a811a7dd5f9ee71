#!/usr/bin/env python3
"""mbtool.py - the timing loops of the mailbox benchmarks (bench/mailbox.sh).

Writes files into a mounted outbox and polls the recipient's mounted inbox
(or the sent file's status xattr) in a tight loop: inotify sees nothing on
FUSE, so polling is the only honest clock.  Prints results as
`KEY V1 V2 ...` lines for bench/report.py.  Never reads or writes anything
outside the paths it is given.

  mbtool.py latency OUTBOX INBOX N KEY [fsync]
                                           per-message close() -> listable (ms);
                                           fsync: fsync(2) before close, inside
                                           the clock (a file fsynced is sent
                                           without the outbox's settle time)
  mbtool.py small OUTBOX INBOX SRCDIR RUNS KEY   files/s, RUNS runs over SRCDIR
  mbtool.py fanout OUTBOX RUNS KEY         close() -> status leaves "queued" (ms)
"""
import os
import sys
import time

POLL_LIMIT_S = 60


def fail(msg):
    sys.exit("mbtool: " + msg)


def count(d):
    try:
        return len(os.listdir(d))
    except FileNotFoundError:
        return 0


def wait_count(d, want, deadline):
    n = count(d)
    while n < want:
        if time.monotonic() > deadline:
            fail("%s has %d entries, waited for %d" % (d, n, want))
        n = count(d)
    return n


def write_file(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def latency(outbox, inbox, n, key, sync=False):
    lat = []
    data = b"x" * 100
    have = count(inbox)
    for i in range(n):
        path = os.path.join(outbox, "lat%s%05d.txt" % ("f" if sync else "", i))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        t0 = time.monotonic()   # close() itself (the durable spool) counts
        if sync:
            os.fsync(fd)
        os.close(fd)
        have = wait_count(inbox, have + 1, t0 + POLL_LIMIT_S)
        lat.append((time.monotonic() - t0) * 1e3)
    print(key + " " + " ".join("%.3f" % v for v in lat))


def small(outbox, inbox, srcdir, runs, key):
    names = sorted(os.listdir(srcdir))
    blobs = [open(os.path.join(srcdir, f), "rb").read() for f in names]
    rates = []
    have = count(inbox)
    for r in range(runs):
        t0 = time.monotonic()
        for name, data in zip(names, blobs):
            write_file(os.path.join(outbox, "r%d-%s" % (r, name)), data)
        have = wait_count(inbox, have + len(names), t0 + 10 * POLL_LIMIT_S)
        rates.append(len(names) / (time.monotonic() - t0))
    print(key + " " + " ".join("%.2f" % v for v in rates))


def status(path):
    try:
        return os.getxattr(path, "user.sealbox.status").decode()
    except OSError:
        return ""


def fanout(outbox, runs, key):
    ms = []
    for r in range(runs):
        path = os.path.join(outbox, "fan%d.txt" % r)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b"to the whole group\n" * 5)
        t0 = time.monotonic()
        os.close(fd)
        while True:
            st = status(path)
            if st.startswith("failed"):
                fail("%s: %s" % (path, st))
            if st == "sent" or st.startswith("delivered"):
                break
            if time.monotonic() - t0 > POLL_LIMIT_S:
                fail("%s still '%s'" % (path, st))
        ms.append((time.monotonic() - t0) * 1e3)
    print(key + " " + " ".join("%.3f" % v for v in ms))


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    cmd = argv[1]
    if cmd == "latency" and len(argv) in (6, 7) and argv[6:] in ([], ["fsync"]):
        latency(argv[2], argv[3], int(argv[4]), argv[5], argv[6:] == ["fsync"])
    elif cmd == "small" and len(argv) == 7:
        small(argv[2], argv[3], argv[4], int(argv[5]), argv[6])
    elif cmd == "fanout" and len(argv) == 5:
        fanout(argv[2], int(argv[3]), argv[4])
    else:
        fail(__doc__)
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
