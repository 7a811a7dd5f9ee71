#!/usr/bin/env python3
"""check_inbox.py - compares an inbox folder with what was sent, and the
hostile relay's injections with the receiving agents' rejection lines.

  check_inbox.py inbox SENT_DIR INBOX_DIR
      every file of SENT_DIR is in INBOX_DIR exactly once (name
      <UTC stamp>-<id>-NAME) with the same bytes, and nothing else is there.
  check_inbox.py rejections HOSTILE_LOG DEVICE_ID=AGENT_LOG...
      every "hostile: inject KIND device=D msg=M" has, in D's agent log, a
      "sealbox: rejected message M" line (as many as there were injections
      of M for D).
"""
import collections, os, re, sys

def inbox(sent_dir, inbox_dir):
    want = {n: open(os.path.join(sent_dir, n), "rb").read() for n in os.listdir(sent_dir)}
    got = collections.defaultdict(list)
    bad = []
    for f in os.listdir(inbox_dir):
        m = re.match(r"^[0-9]{8}T[0-9]{6}Z-[0-9]{4,}-[0-9a-f]{4,32}-(.*)$", f)
        if not m or m.group(1) not in want:
            bad.append(f)
            continue
        got[m.group(1)].append(f)
    errs = []
    if bad:
        errs.append("false or unknown files in %s: %s" % (inbox_dir, bad))
    for n, data in sorted(want.items()):
        if len(got[n]) != 1:
            errs.append("%s: %d copies in %s" % (n, len(got[n]), inbox_dir))
            continue
        if open(os.path.join(inbox_dir, got[n][0]), "rb").read() != data:
            errs.append("%s: bytes differ in %s" % (n, inbox_dir))
    return errs

def rejections(hlog, pairs):
    logs = {}
    for p in pairs:
        dev, path = p.split("=", 1)
        logs[dev] = open(path, errors="replace").read()
    need = collections.Counter()
    kinds = collections.Counter()
    for line in open(hlog, errors="replace"):
        m = re.match(r"^hostile: inject (\S+) device=(\d+) msg=([0-9a-f]{32})$", line.strip())
        if m:
            need[(m.group(2), m.group(3))] += 1
            kinds[m.group(1)] += 1
    errs = []
    for (dev, msg), n in need.items():
        if dev not in logs:
            errs.append("injection for unknown device %s" % dev)
            continue
        have = len(re.findall(r"sealbox: rejected message %s from \S+: \S" % msg, logs[dev]))
        if have < n:
            errs.append("device %s: %d injection(s) of %s, %d rejection line(s)" % (dev, n, msg, have))
    print("injections by kind: " + ", ".join("%s=%d" % kv for kv in sorted(kinds.items())),
          file=sys.stderr)
    if sum(need.values()) == 0:
        errs.append("the hostile relay injected nothing")
    return errs

if __name__ == "__main__":
    if sys.argv[1] == "inbox":
        errs = inbox(sys.argv[2], sys.argv[3])
    else:
        errs = rejections(sys.argv[2], sys.argv[3:])
    for e in errs:
        print("check_inbox: " + e, file=sys.stderr)
    sys.exit(1 if errs else 0)
