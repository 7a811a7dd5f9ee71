#!/usr/bin/python3
"""gen_tlog.py - writes the transparency log's test vectors (tlog-*).

Built from docs/PROTOCOL.md section 14 and RFC 9162 section 2.1 with
Python's hashlib and the `cryptography` package, never from tlog/, so
tests/unit/test_tlog_vectors.c checks our C against a second reading of
the spec.  The tree code below is the RFC's recursive definitions written
out plainly (MTH, PATH, PROOF) and is checked against the Certificate
Transparency project's published roots for its eight test leaves.

    /usr/bin/python3 tests/vectors/gen_tlog.py      (from the repository top)

It rewrites only tlog-* files and the tlog-* lines of INDEX.  The log key
is tests/vectors/keys/log/sign.pem (made once, then kept); device keys and
identities are gen.py's.  ECDSA signatures are randomized, so signature
bytes change on every run; everything else is deterministic.

A vector is a header of "name: value" lines, a blank line, then the object
in hex (an entry, a tree head; empty for the cases that have none).
Header fields:

  kind: tlog
  case: addr | entry | tree | sth | approve | remove | link | answer
  expect: ok | truncated | trailing | length | format | signature
  addr:     address, hash
  entry:    entry.kind, entry.addr, entry.seq, entry.device, entry.time,
            entry.identity (key directory name), entry.signer, entry.sig
            (hex, or "-" when empty), leaf (the leaf hash)
  tree:     leaves.count, leaf.I (hex of leaf input I, "-" for empty),
            root.N for N = 0..count, inclusion.N.I (path for index I in the
            tree of size N: hashes joined by ",", "-" when empty) and
            consistency.M.N (1 <= M <= N)
  sth:      key (directory of the log key), log_id, size, time, root
  approve:  address, identity (key dir of the new device), signer (key dir),
            text, sig
  remove:   address, device, identity, signer, text, sig
  link:     identity, hash, code
  answer:   key, address, head (hex), entries.count, entry.I (hex),
            index.I, path.I, served.count, served.I (id:key dir), and the
            expected device.I.approver / device.I.unapproved
"""
import hashlib
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The vector file writer and key loader of gen.py, the DER reader of
# pyopen.py and the integer notation of gen_proto.py: one copy of each.
from gen import HERE, KEYS, load_or_make, write, written  # noqa: E402
from gen_proto import u8, u16, u32, u64  # noqa: E402
from pyopen import der_tlv  # noqa: E402

# ---- helpers ---------------------------------------------------------------


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def point(key):
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


class Dev:
    """A device of gen.py: its signing key, identity and H(identity)."""

    def __init__(self, name):
        d = os.path.join(KEYS, name)
        self.name = name
        with open(os.path.join(d, "sign.pem"), "rb") as f:
            self.sign = serialization.load_pem_private_key(f.read(), None)
        with open(os.path.join(d, "identity.der"), "rb") as f:
            self.identity = f.read()
        self.hash = identity_hash(self.identity)


def identity_hash(der):
    """Section 2: SHA-256 over the contents of [1] and [2]."""
    seq, _ = der_tlv(der, 0, 0x30)
    c1, off = der_tlv(seq, 0, 0x81)
    c2, _ = der_tlv(seq, off, 0x82)
    return sha256(c1, c2)


def sign(key, msg):
    """crypto_sign: ECDSA P-256 over SHA-256, DER."""
    return key.sign(msg, ec.ECDSA(hashes.SHA256()))


def put(name, header, blob=b""):
    write(name, header, blob)


def hx(b):
    return b.hex() if b else "-"


# ---- 14.2, 14.3, 14.4: address hash, entries, signed texts -----------------


def addr_hash(address):
    return sha256(b"sealbox-log address v1\x00", address.encode())


def entry(kind, address, seq, device, time, identity, signer=0, sig=b""):
    return (u8(1) + u8(kind) + addr_hash(address) + u32(seq) + u64(device) +
            u64(time) + u16(len(identity)) + identity + u64(signer) +
            u8(len(sig)) + sig)


def approve_text(address, new_hash):
    return b"sealbox-log approve v1\x00" + addr_hash(address) + new_hash


def remove_text(address, device, removed_hash):
    return (b"sealbox-log remove v1\x00" + addr_hash(address) + u64(device) +
            removed_hash)


ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def link_code(h):
    v = int.from_bytes(sha256(b"sealbox-link v1\x00", h)[:10], "big")
    syms = [ALPHABET[(v >> (75 - 5 * i)) & 31] for i in range(16)]
    s = "".join(syms)
    return "-".join(s[i:i + 4] for i in range(0, 16, 4))


# ---- RFC 9162 2.1 ----------------------------------------------------------


def leaf_hash(d):
    return sha256(b"\x00", d)


def node(l, r):
    return sha256(b"\x01", l, r)


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d):
    if len(d) == 0:
        return sha256()
    if len(d) == 1:
        return leaf_hash(d[0])
    k = split(len(d))
    return node(mth(d[:k]), mth(d[k:]))


def path(m, d):
    if len(d) == 1:
        return []
    k = split(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = split(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def proof(m, d):
    if m == 0 or m == len(d):
        return []
    return subproof(m, d, True)


def joined(hs):
    return ",".join(h.hex() for h in hs) or "-"


# ---- 14.5: tree heads ------------------------------------------------------


def sth_text(log_id, size, time, root):
    return b"sealbox-log tree head v1\x00" + log_id + u64(size) + u64(time) + root


def sth(key, size, time, root, sig=None):
    log_id = sha256(point(key))
    if sig is None:
        sig = sign(key, sth_text(log_id, size, time, root))
    return u8(1) + u64(size) + u64(time) + root + u8(len(sig)) + sig


# ---- the vectors -----------------------------------------------------------

# The Certificate Transparency project's eight test leaves and the root of
# the whole tree it publishes for them (certificate-transparency-go,
# merkletree tests): a check of this file's MTH against a third reading.
CT_LEAVES = [bytes.fromhex(x) for x in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
CT_ROOT8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def tree_vector(name, comment, leaves):
    hdr = [("comment", comment), ("kind", "tlog"), ("case", "tree"),
           ("expect", "ok"), ("leaves.count", len(leaves))]
    hdr += [("leaf.%d" % i, hx(d)) for i, d in enumerate(leaves)]
    hdr += [("root.%d" % n, mth(leaves[:n]).hex()) for n in range(len(leaves) + 1)]
    for n in range(1, len(leaves) + 1):
        for i in range(n):
            hdr.append(("inclusion.%d.%d" % (n, i), joined(path(i, leaves[:n]))))
    for n in range(1, len(leaves) + 1):
        for m in range(1, n + 1):
            hdr.append(("consistency.%d.%d" % (m, n), joined(proof(m, leaves[:n]))))
    put(name, hdr)


def entry_vector(name, comment, kind, address, seq, device, time, dev, signer=0,
                 sig=b""):
    e = entry(kind, address, seq, device, time, dev.identity, signer, sig)
    put(name, [("comment", comment), ("kind", "tlog"), ("case", "entry"),
                 ("expect", "ok"), ("entry.kind", kind),
                 ("entry.addr", addr_hash(address).hex()), ("entry.seq", seq),
                 ("entry.device", device), ("entry.time", time),
                 ("entry.identity", dev.name), ("entry.signer", signer),
                 ("entry.sig", hx(sig)), ("leaf", leaf_hash(e).hex())], e)
    return e


def bad(name, case, comment, expect, blob):
    put(name, [("comment", comment), ("kind", "tlog"), ("case", case),
                 ("expect", expect)], blob)


def main():
    logkey = load_or_make(os.path.join(KEYS, "log", "sign.pem"),
                          lambda: ec.generate_private_key(ec.SECP256R1()))
    alice, erin, carol, bob = (Dev(n) for n in ("alice", "erin", "carol", "bob"))
    A, B = "alice@example.com", "bob@example.com"
    T = 1796000000

    assert mth(CT_LEAVES).hex() == CT_ROOT8

    for name, address in (("tlog-addr-alice", A), ("tlog-addr-phone", "+15551234567")):
        put(name, [("comment", "A(address), 14.2"), ("kind", "tlog"),
                     ("case", "addr"), ("expect", "ok"), ("address", address),
                     ("hash", addr_hash(address).hex())])

    # Entries: alice's account as it grows, bob's beside it.
    approve_sig = sign(alice.sign, approve_text(A, erin.hash))
    remove_sig = sign(alice.sign, remove_text(A, 3, carol.hash))
    es = []
    es.append(entry_vector("tlog-entry-add-first", "alice's first device, by invitation",
                           1, A, 0, 1, T, alice))
    es.append(entry_vector("tlog-entry-add-bob", "bob's first device", 1, B, 0, 2, T + 1,
                           bob))
    es.append(entry_vector("tlog-entry-add-approved",
                           "alice's second device (erin's keys), countersigned by device 1",
                           1, A, 1, 4, T + 2, erin, 1, approve_sig))
    es.append(entry_vector("tlog-entry-add-unapproved",
                           "a third device for alice that nobody approved", 1, A, 2, 3,
                           T + 3, carol))
    es.append(entry_vector("tlog-entry-remove-signed",
                           "device 3 removed, the removal signed by device 1", 3, A, 3, 3,
                           T + 4, carol, 1, remove_sig))
    es.append(entry_vector("tlog-entry-change", "bob's device 2 given other keys (operator)",
                           2, B, 1, 2, T + 5, carol))
    es.append(entry_vector("tlog-entry-remove-operator", "bob's device 2 removed by the relay",
                           3, B, 2, 2, T + 6, carol))

    ok = es[0]
    bad("tlog-entry-empty", "entry", "no bytes", "truncated", b"")
    bad("tlog-entry-truncated", "entry", "the first entry less its last byte", "truncated",
        ok[:-1])
    bad("tlog-entry-trailing", "entry", "the first entry plus one byte", "trailing",
        ok + b"\x00")
    bad("tlog-entry-version", "entry", "version 2", "format", b"\x02" + ok[1:])
    bad("tlog-entry-kind", "entry", "kind 4", "format", ok[:1] + b"\x04" + ok[2:])
    bad("tlog-entry-kind-zero", "entry", "kind 0", "format", ok[:1] + b"\x00" + ok[2:])
    bad("tlog-entry-device-zero", "entry", "device 0", "format",
        entry(1, A, 0, 0, T, alice.identity))
    bad("tlog-entry-signer-no-sig", "entry", "a signer without a signature", "format",
        entry(1, A, 1, 4, T, erin.identity, 1, b""))
    bad("tlog-entry-sig-no-signer", "entry", "a signature without a signer", "format",
        entry(1, A, 1, 4, T, erin.identity, 0, approve_sig))
    bad("tlog-entry-change-signed", "entry", "a change with a signer", "format",
        entry(2, A, 1, 1, T, erin.identity, 1, approve_sig))
    bad("tlog-entry-identity-empty", "entry", "an empty identity", "length",
        entry(1, A, 0, 1, T, b""))
    bad("tlog-entry-identity-long", "entry", "an identity of 1025 bytes", "length",
        entry(1, A, 0, 1, T, b"\x30" * 1025))
    bad("tlog-entry-sig-long", "entry", "a signature of 81 bytes", "length",
        entry(1, A, 1, 4, T, erin.identity, 1, b"\x30" * 81))

    tree_vector("tlog-tree-ct", "Certificate Transparency's eight test leaves", CT_LEAVES)
    tree_vector("tlog-tree-entries", "the seven entries above, in order", es)
    tree_vector("tlog-tree-21", "21 leaves u32be(i), every size, index and pair",
                [u32(i) for i in range(21)])

    # Tree heads.
    log_id = sha256(point(logkey))
    root7 = mth(es)
    good = sth(logkey, 7, T + 10, root7)

    def sth_vec(name, comment, expect, blob, size=7, time=T + 10, root=root7):
        put(name, [("comment", comment), ("kind", "tlog"), ("case", "sth"),
                     ("expect", expect), ("key", "log"), ("log_id", log_id.hex()),
                     ("size", size), ("time", time), ("root", root.hex())], blob)

    sth_vec("tlog-sth", "the head of the seven entries", "ok", good)
    sth_vec("tlog-sth-empty", "the empty tree's head", "ok",
            sth(logkey, 0, T, sha256()), size=0, time=T, root=sha256())
    flipped = bytearray(good)
    flipped[20] ^= 0x01
    sth_vec("tlog-sth-root-flip", "one bit of the root flipped after signing", "signature",
            bytes(flipped))
    sth_vec("tlog-sth-other-key", "signed by alice's device key, not the log key",
            "signature", sth(alice.sign, 7, T + 10, root7))
    sth_vec("tlog-sth-other-log", "signed by the log key for another log id", "signature",
            u8(1) + u64(7) + u64(T + 10) + root7 +
            (lambda s: u8(len(s)) + s)(sign(logkey, sth_text(b"\x00" * 32, 7, T + 10,
                                                              root7))))
    sth_vec("tlog-sth-truncated", "the head less its last byte", "truncated", good[:-1])
    sth_vec("tlog-sth-trailing", "the head plus one byte", "trailing", good + b"\x00")
    sth_vec("tlog-sth-version", "version 2", "format", b"\x02" + good[1:])
    sth_vec("tlog-sth-sig-empty", "a signature of length 0", "length",
            good[:49] + b"\x00")
    sth_vec("tlog-sth-sig-long", "a signature of length 81", "length",
            good[:49] + b"\x51" + b"\x30" * 81)
    sth_vec("tlog-sth-size-big", "size 2^62 + 1, validly signed", "format",
            sth(logkey, (1 << 62) + 1, T, root7), size=(1 << 62) + 1, time=T)
    sth_vec("tlog-sth-empty-root", "size 0 with a root other than SHA-256(), signed",
            "format", sth(logkey, 0, T, root7), size=0, time=T)

    # What devices sign.
    t = approve_text(A, erin.hash)
    put("tlog-approve", [("comment", "device 1 (alice's keys) approves erin's keys"),
                           ("kind", "tlog"), ("case", "approve"), ("expect", "ok"),
                           ("address", A), ("identity", "erin"), ("signer", "alice"),
                           ("text", t.hex()), ("sig", approve_sig.hex())])
    t = remove_text(A, 3, carol.hash)
    put("tlog-remove", [("comment", "device 1 (alice's keys) removes device 3"),
                          ("kind", "tlog"), ("case", "remove"), ("expect", "ok"),
                          ("address", A), ("device", 3), ("identity", "carol"),
                          ("signer", "alice"), ("text", t.hex()),
                          ("sig", remove_sig.hex())])
    for d in (alice, erin, bob):
        put("tlog-link-" + d.name, [("comment", "the link code of %s's identity" % d.name),
                                      ("kind", "tlog"), ("case", "link"),
                                      ("expect", "ok"), ("identity", d.name),
                                      ("hash", d.hash.hex()), ("code", link_code(d.hash))])

    # One whole answer: alice's address in the tree of the seven entries.
    mine = [i for i in range(len(es)) if es[i][2:34] == addr_hash(A)]
    hdr = [("comment", "LOOKUP_LOG for alice: devices 1 and 4 (4 approved by 1)"),
           ("kind", "tlog"), ("case", "answer"), ("expect", "ok"), ("key", "log"),
           ("address", A), ("head", good.hex()), ("entries.count", len(mine))]
    for j, i in enumerate(mine):
        hdr += [("entry.%d" % j, es[i].hex()), ("index.%d" % j, i),
                ("path.%d" % j, joined(path(i, es)))]
    hdr += [("served.count", 2), ("served.0", "1:alice"), ("served.1", "4:erin"),
            ("device.0.approver", 0), ("device.0.unapproved", 0),
            ("device.1.approver", 1), ("device.1.unapproved", 0)]
    put("tlog-answer", hdr)

    index = os.path.join(HERE, "INDEX")
    with open(index) as f:
        keep = [l for l in f.read().split() if not l.startswith("tlog-")]
    for f in os.listdir(HERE):
        if f.startswith("tlog-") and f not in written:
            os.remove(os.path.join(HERE, f))
    with open(index, "w") as f:
        f.write("\n".join(sorted(keep + written)) + "\n")
    print("wrote %d tlog vectors" % len(written), file=sys.stderr)


if __name__ == "__main__":
    main()
