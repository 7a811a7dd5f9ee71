#!/usr/bin/env python3
"""report.py - turns the raw results of `make bench` into one table.

  report.py RESULTS misses            prints the ids of missed targets
  report.py RESULTS report OUT.md [PROFILE_DIR]
                                      prints the table, writes OUT.md

RESULTS holds `KEY V1 V2 ...` lines (every run's value) or `KEY NM REASON`
for a figure that could not be measured, written by bench/*.  Figures are
the median of the runs with (min-max); nothing is computed that was not
measured: a missing figure prints as "not measured: REASON" and its target
as "not measured".  Reads only RESULTS and the profile summaries.
"""
import os
import statistics
import sys


def load(path):
    res = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if parts:
                res[parts[0]] = parts[1:]
    return res


class Fig:
    """One figure: its runs, or why it is missing."""

    def __init__(self, res, key, scale=1.0):
        v = res.get(key)
        self.key = key
        self.why = None
        self.runs = []
        if v is None:
            self.why = "not measured: no result (%s)" % key
        elif v and v[0] == "NM":
            self.why = "not measured: " + " ".join(v[1:])
        else:
            try:
                self.runs = [float(x) * scale for x in v]
            except ValueError:
                self.why = "not measured: bad result line for %s" % key
            if not self.runs and self.why is None:
                self.why = "not measured: empty result (%s)" % key

    @property
    def ok(self):
        return self.why is None

    @property
    def med(self):
        return statistics.median(self.runs)

    def fmt(self, digits=1, unit=""):
        if not self.ok:
            return self.why
        d = "%%.%df" % digits
        if len(self.runs) == 1:
            return (d % self.runs[0]) + unit + " (1 run)"
        return "%s%s (%s-%s, %d runs)" % (d % self.med, unit, d % min(self.runs),
                                          d % max(self.runs), len(self.runs))


def pct(runs, p):
    s = sorted(runs)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def ratio(a, b, digits=2):
    if not (a.ok and b.ok) or b.med == 0:
        return "not measured"
    return ("%%.%dfx" % digits) % (a.med / b.med)


def build(res):
    rows = []          # (section, figure, sealbox, reference, ratio)
    targets = []       # (id, text, met (True/False/None), distance text)

    # ---- per-device seal/open -----------------------------------------
    worst = None
    for suite in ("pair", "ec"):
        for size in ("100", "4096"):
            for op in ("seal", "open"):
                a = Fig(res, "%s.%s.%s" % (op, suite, size))
                b = Fig(res, "floor.%s.%s.%s" % (op, suite, size))
                label = "%s %s %s B (us/op)" % (op, "pair RSA-2048" if suite == "pair" else "ec P-256", size)
                rows.append(("Per-device crypto", label, a.fmt(1), "floor " + b.fmt(1), ratio(a, b)))
                if op == "seal":
                    if a.ok and b.ok:
                        r = a.med / b.med
                        if worst is None or r > worst[0]:
                            worst = (r, label, suite, size)
                    else:
                        worst = (float("nan"), label, suite, size) if worst is None else worst
    if worst is None or worst[0] != worst[0]:
        targets.append(("seal", "per-device seal <= 1.3x the OpenSSL floor", None, "not measured"))
    else:
        targets.append(("seal", "per-device seal <= 1.3x the OpenSSL floor", worst[0] <= 1.3,
                        "worst %.2fx (%s); target 1.30x, distance %+.2fx" % (worst[0], worst[1], worst[0] - 1.3),
                        "%s %s" % (worst[2], worst[3])))

    # ---- openssl speed -------------------------------------------------
    for key, label, unit, digits in (
            ("ossl.rsa2048.sign.us", "openssl speed rsa2048 private op (sign ~ OAEP decrypt)", " us", 1),
            ("ossl.rsa2048.verify.us", "openssl speed rsa2048 public op (verify ~ OAEP encrypt)", " us", 1),
            ("ossl.ecdsap256.sign.us", "openssl speed ecdsap256 sign", " us", 1),
            ("ossl.ecdsap256.verify.us", "openssl speed ecdsap256 verify", " us", 1),
            ("ossl.ecdhp256.us", "openssl speed ecdhp256", " us", 1),
            ("ossl.aes-128-ctr.mbs", "openssl speed -evp aes-128-ctr (16 KiB)", " MB/s", 0),
            ("ossl.aes-256-ctr.mbs", "openssl speed -evp aes-256-ctr (16 KiB)", " MB/s", 0),
            ("ossl.sha1.mbs", "openssl speed -evp sha1 (16 KiB)", " MB/s", 0)):
        rows.append(("OpenSSL reference", label, "", Fig(res, key).fmt(digits, unit), ""))

    # ---- fan-out -------------------------------------------------------
    f = Fig(res, "fanout.ms")
    rows.append(("Fan-out", "1 message to 10 recipients x 3 devices: close() -> relay accepted (ms)",
                 f.fmt(1), "(no reference)", ""))

    # ---- small messages --------------------------------------------------
    s = Fig(res, "small.fps")
    g = Fig(res, "gpg.se.fps")
    gd = Fig(res, "gpg.d.fps")
    gv = " ".join(res.get("gpg.version", []))
    rows.append(("Small messages (1000 B)", "files/s written into the outbox and listed in bob's inbox",
                 s.fmt(1), "gpg -se %s: %s" % (gv, g.fmt(1)), ratio(s, g, 1)))
    rows.append(("Small messages (1000 B)", "files/s, decrypt side", "(included above)",
                 "gpg -d: " + gd.fmt(1), ratio(s, gd, 1)))
    if s.ok and g.ok:
        r = s.med / g.med
        targets.append(("small", "small messages >= 30x GnuPG's files/s", r >= 30,
                        "%.1fx; target 30x, distance %+.1fx" % (r, r - 30)))
    else:
        targets.append(("small", "small messages >= 30x GnuPG's files/s", None, "not measured"))

    # ---- latency ---------------------------------------------------------
    lat = Fig(res, "lat.ms")
    if lat.ok:
        p50, p99 = pct(lat.runs, 50), pct(lat.runs, 99)
        rows.append(("Delivery latency", "close() in outbox -> listable in inbox, %d messages (ms)" % len(lat.runs),
                     "p50 %.1f, p99 %.1f (min %.1f, max %.1f)" % (p50, p99, min(lat.runs), max(lat.runs)),
                     "target p99 <= 10", ""))
        targets.append(("p99", "p99 delivery <= 10 ms", p99 <= 10,
                        "p99 %.1f ms over %d messages; distance %+.1f ms" % (p99, len(lat.runs), p99 - 10)))
    else:
        rows.append(("Delivery latency", "close() -> listable (ms)", lat.why, "", ""))
        targets.append(("p99", "p99 delivery <= 10 ms", None, "not measured"))

    # ---- attachments -----------------------------------------------------
    mb = res.get("att.mb", res.get("meta.att_mb", ["?"]))[0]
    aw = Fig(res, "att.write_sent.mbs")
    ac = Fig(res, "att.write_close.mbs")
    ar = Fig(res, "att.read.mbs")
    gw = Fig(res, "gocryptfs.write.mbs")
    gr = Fig(res, "gocryptfs.read.mbs")
    rows.append(("Attachment %s MiB" % mb, "write into outbox until status sent (MB/s)", aw.fmt(1),
                 "gocryptfs write on tmpfs: " + gw.fmt(1), ratio(aw, gw)))
    rows.append(("Attachment %s MiB" % mb, "write into outbox until close() returns (MB/s)", ac.fmt(1),
                 "", ratio(ac, gw)))
    rows.append(("Attachment %s MiB" % mb, "read back from bob's inbox (MB/s)", ar.fmt(1),
                 "gocryptfs read on tmpfs: " + gr.fmt(1), ratio(ar, gr)))
    rows.append(("Attachment %s MiB" % mb, "raw AES-256-CTR / SHA-1 (MB/s)", "",
                 "%s / %s" % (Fig(res, "ossl.aes-256-ctr.mbs").fmt(0), Fig(res, "ossl.sha1.mbs").fmt(0)), ""))
    hs = Fig(res, "att.hwm_send.kb", 1 / 1024.0)
    hr = Fig(res, "att.hwm_recv.kb", 1 / 1024.0)
    rows.append(("Attachment %s MiB" % mb, "peak RSS (VmHWM) sending / receiving mount (MiB)",
                 "%s / %s" % (hs.fmt(1), hr.fmt(1)), "target <= 64", ""))
    if aw.ok and gw.ok:
        r = aw.med / gw.med
        targets.append(("attach", "attachment write >= 2x gocryptfs", r >= 2,
                        "%.2fx; target 2x, distance %+.2fx" % (r, r - 2)))
    else:
        targets.append(("attach", "attachment write >= 2x gocryptfs", None, "not measured"))
    if hs.ok and hr.ok:
        peak = max(hs.med, hr.med)
        full = mb == "1024"
        targets.append(("rss", "peak RSS <= 64 MiB for a 1 GiB attachment", (peak <= 64) if full else None,
                        "%.1f MiB for %s MiB; distance %+.1f MiB%s" % (
                            peak, mb, peak - 64, "" if full else " (not 1 GiB: reduced run)")))
    else:
        targets.append(("rss", "peak RSS <= 64 MiB for a 1 GiB attachment", None, "not measured"))

    # ---- relay -----------------------------------------------------------
    rr = Fig(res, "relay.rate")
    rows.append(("Relay", "messages/s routed between 100 connected devices, 1 KiB (sent, pushed, acked)",
                 rr.fmt(1), "(no reference)", ""))
    # 1,000 devices: one SQLite node beside two nodes over one PostgreSQL
    # (bench/relay.sh); the cluster's reference is the SQLite node.
    nk = res.get("relay.k1.devices", ["?"])[0]
    ks = Fig(res, "relay.k1.sqlite.rate")
    kp = Fig(res, "relay.k1.pg.rate")
    rows.append(("Relay", "messages/s routed between %s connected devices, 1 KiB: one SQLite node" % nk,
                 ks.fmt(1), "", ""))
    rows.append(("Relay", "the same on two nodes over one PostgreSQL (every message crosses nodes)",
                 kp.fmt(1), "one SQLite node: " + ks.fmt(1), ratio(kp, ks)))
    ksh = Fig(res, "relay.k1.sqlite.hwm_kb", 1 / 1024.0)
    kah = Fig(res, "relay.k1.pg.a.hwm_kb", 1 / 1024.0)
    kbh = Fig(res, "relay.k1.pg.b.hwm_kb", 1 / 1024.0)
    rows.append(("Relay", "peak RSS per node in those runs (MiB): SQLite node; PostgreSQL nodes A, B",
                 "%s; %s, %s" % (ksh.fmt(1), kah.fmt(1), kbh.fmt(1)), "", ""))
    ih = Fig(res, "relay.idle.hwm_kb", 1 / 1024.0)
    nd = res.get("relay.idle.devices", ["?"])[0]
    rows.append(("Relay", "peak RSS (VmHWM) with %s idle connected devices (MiB)" % nd, ih.fmt(1), "", ""))
    return rows, targets


def table(rows):
    head = ("section", "figure", "sealbox", "reference (same run)", "ratio")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
    return "\n".join(out)


def main(argv):
    res = load(argv[1])
    rows, targets = build(res)
    if argv[2] == "misses":
        for tid, _, met, *_ in targets:
            if met is False:
                print(tid)
        return
    if argv[2] == "worst-seal":
        # the suite and size of the worst seal ratio, for the profiler
        print(targets[0][4] if len(targets[0]) > 4 else "pair 100")
        return
    out = argv[3]
    profdir = argv[4] if len(argv) > 4 else None
    t = table(rows)
    print(t)
    print()
    for tid, text, met, dist, *_ in targets:
        print("%-8s %-45s %s" % ({True: "MET", False: "MISSED", None: "N/A"}[met], text, dist))
    meta = {k[5:]: " ".join(v) for k, v in res.items() if k.startswith("meta.")}
    md = ["# Benchmarks", "",
          "Written by `make bench` (scripts/bench.sh, bench/): every figure beside its",
          "reference, both measured in the same run on the same machine.  Figures are",
          "the median of the runs with (min-max); a figure that could not be measured",
          "says so and why.  MB = 10^6 bytes.  Regenerate with `make bench`.", "",
          "## Run", "",
          "- date: %s" % meta.get("date", "?"),
          "- machine: %s cores, %s" % (meta.get("cores", "?"), meta.get("cpu", "?")),
          "- load average (1 min) at start / end: %s / %s%s" % (
              meta.get("load_start", "?"), meta.get("load_end", "?"),
              "" if meta.get("quiet", "no") == "yes" else
              " (other work was running on this 2-core machine: figures are pessimistic)"),
          "- run time: %s s; attachment size: %s MiB%s" % (
              meta.get("seconds", "?"), meta.get("att_mb", "?"),
              " (BENCH_QUICK=1: reduced sizes)" if meta.get("quick") == "1" else ""),
          "- build: %s" % meta.get("build", "?"), "",
          "## Table", "", t, "",
          "## Targets", "",
          "| target | status | distance |", "|---|---|---|"]
    for tid, text, met, dist, *_ in targets:
        md.append("| %s | %s | %s |" % (text, {True: "met", False: "**missed**", None: "not measured"}[met], dist))
    md += ["", "## Profiles of missed targets", ""]
    missed = [x for x in targets if x[2] is False]
    if not missed:
        md.append("No target was missed in this run.")
    for tid, text, _, dist, *_ in missed:
        md.append("### %s (%s)" % (text, dist))
        md.append("")
        p = os.path.join(profdir, "profile.%s.txt" % tid) if profdir else None
        if p and os.path.exists(p):
            md.append(open(p).read().rstrip())
        else:
            md.append("not profiled: no profile was produced for this target")
        md.append("")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
    if os.path.exists(notes):
        md += ["## How each figure is measured", "", open(notes).read().rstrip(), ""]
    with open(out, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main(sys.argv)
