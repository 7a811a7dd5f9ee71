#!/usr/bin/env python3
"""seeds.py - writes the starting corpus of every fuzz target into
fuzz/corpus/<target>/ (scripts/fuzz.sh seed).  Idempotent: a seed is named
after the SHA-1 of its bytes, as libFuzzer names corpus files, so rerunning
adds nothing twice.

Sources: the independent test vectors (tests/vectors: identities, sealed
payloads of both suites, vCard exports, PKCS#8 keys) and hand-built frames
of every relay message type in the layouts of proto/proto.c.  Never reads
or writes anything outside the repository.
"""
import hashlib
import os
import struct
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEC = os.path.join(TOP, "tests", "vectors")
CORPUS = os.path.join(TOP, "fuzz", "corpus")


def put(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def vector_blob(path):
    """The hex after the blank line of a tests/vectors file."""
    text = open(path).read()
    _, _, hexpart = text.partition("\n\n")
    return bytes.fromhex("".join(hexpart.split()))


def vector_field(path, key):
    for line in open(path):
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    return None


def identities_and_payloads():
    for name in sorted(os.listdir(VEC)):
        path = os.path.join(VEC, name)
        if not os.path.isfile(path) or "-" not in name:
            continue
        kind = vector_field(path, "kind")
        if kind == "identity":
            put("identity", vector_blob(path))
        elif kind == "payload":
            blob = vector_blob(path)
            suite = vector_field(path, "suite")
            put("open_pair" if suite == "pair" else "open_ec", blob)
    for who in sorted(os.listdir(os.path.join(VEC, "keys"))):
        kdir = os.path.join(VEC, "keys", who)
        if os.path.exists(os.path.join(kdir, "identity.der")):
            put("identity", open(os.path.join(kdir, "identity.der"), "rb").read())
        for pem in ("sign.pem", "encrypt.pem"):
            p = os.path.join(kdir, pem)
            if not os.path.exists(p):
                continue
            data = open(p, "rb").read()
            put("pkcs8", data)
            der = subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt",
                                  "-in", p, "-outform", "DER"],
                                 check=True, capture_output=True).stdout
            put("pkcs8", der)


def vcards():
    vdir = os.path.join(VEC, "vcf")
    for name in sorted(os.listdir(vdir)):
        put("contacts", open(os.path.join(vdir, name), "rb").read())
    put("contacts", b"BEGIN:VCARD\nVERSION:2.1\nN;CHARSET=ISO-8859-1;"
        b"ENCODING=QUOTED-PRINTABLE:M=FCller;J=F6rg\nTEL;WORK;VOICE:+49 30 1234567\n"
        b"EMAIL;INTERNET:joerg@example.de\nEND:VCARD\n")
    put("contacts", b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ann\r\n"
        b"TEL;VALUE=uri;TYPE=\"voice,cell\";PREF=1:tel:+1-555-555-0100;ext=5\r\n"
        b"item1.EMAIL:ann@example.com\r\nEND:VCARD\r\n")


def names():
    for s in ["bob@example.com", "Bob@Example.COM", " mailto:Bob@Example.com ",
              "+1 (555) 123-4567", "tel:+15551234567;phone-context=x",
              "Bob Smith", "Carol", "bob smith, carol@example.org",
              "+15551234567,bob@example.com", "..", ".hidden", "a/b",
              "caf\u00e9 \u202enoitacol.txt", "report\x00.pdf",
              "x" * 300 + ".pdf", "\xff\xfe bad utf8", "\u200f",
              ".. / Evil, Inc"]:
        put("names", s.encode("utf-8", "surrogateescape"))
    put("names", b"\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80 overlong+surrogate")


def wire():
    # byte 0: number of ops; then ops; then the buffer.
    put("wire", bytes([4, 0x09, 0x06, 0x07, 0x08]) + bytes.fromhex("30060402abcd0100") +
        b"\x03abc" + b"\x00\x02hi" + b"\x00\x00\x00\x01z")
    put("wire", bytes([2, 0x0a, 0x0c]) + bytes.fromhex("308180") + bytes(0x80))
    put("wire", bytes([3, 0x01, 0x02, 0x03]) + bytes(range(16)))
    put("wire", bytes([1, 0x09]) + bytes.fromhex("04820100") + bytes(256))
    put("wire", bytes([1, 0x09]) + bytes.fromhex("048200ff") + bytes(255))
    ident = open(os.path.join(VEC, "keys", "alice", "identity.der"), "rb").read()
    put("wire", bytes([3, 0x09, 0x09, 0x09]) + ident)


def frame(ftype, rid, body):
    return struct.pack(">IBI", 5 + len(body), ftype, rid) + body


def s8(b):
    return struct.pack(">B", len(b)) + b


def s16(b):
    return struct.pack(">H", len(b)) + b


def s32(b):
    return struct.pack(">I", len(b)) + b


def proto():
    ident = open(os.path.join(VEC, "keys", "alice", "identity.der"), "rb").read()
    ident_pair = open(os.path.join(VEC, "keys", "bob", "identity.der"), "rb").read()
    payload = vector_blob(os.path.join(VEC, "payload-ec-100"))
    sig = bytes.fromhex("3045022100") + bytes(32) + bytes.fromhex("0220") + bytes(32)
    msgid = bytes(range(16))
    c2r = [
        frame(0x01, 1, s8(b"alice@example.com") + s8(b"ABCD-EFGH") + b"\x02" +
              s16(ident) + s8(b"laptop") + s8(sig)),
        frame(0x02, 2, struct.pack(">Q", 7) + s8(sig)),
        frame(0x03, 3, b"\x02" + s8(b"bob@example.com") + s8(b"+15551234567")),
        frame(0x04, 4, struct.pack(">Q", 9)),
        frame(0x05, 5, msgid + b"\x01" + s8(b"bob@example.com") + struct.pack(">H", 2) +
              struct.pack(">Q", 1) + s32(payload) + struct.pack(">Q", 2) + s32(payload)),
        frame(0x06, 6, struct.pack(">Q", 42)),
        frame(0x07, 7, msgid),
        frame(0x08, 8, struct.pack(">Q", 100000)),
        frame(0x09, 8, b"blob bytes" * 10),
        frame(0x0A, 9, s8(b"sbx:" + b"a" * 43)),
        frame(0x0B, 10, b""),
    ]
    r2c = [
        frame(0x80, 0, b"\x01" + bytes(range(32))),
        frame(0x81, 1, struct.pack(">Q", 12345)),
        frame(0x82, 2, struct.pack(">I", 46) + s8(b"stale device set")),
        frame(0x83, 3, b"\x02" + s8(b"bob@example.com") + b"\x02" +
              struct.pack(">Q", 1) + s8(b"phone") + s16(ident_pair) +
              struct.pack(">Q", 2) + s8(b"laptop") + s16(ident) +
              s8(b"+15551234567") + b"\x00"),
        frame(0x84, 4, struct.pack(">H", 1) + struct.pack(">Q", 3) +
              struct.pack(">H", 2) + struct.pack(">Q", 4) + struct.pack(">Q", 5)),
        frame(0x85, 0, struct.pack(">Q", 77) + msgid + s8(b"alice@example.com") +
              struct.pack(">Q", 1) + struct.pack(">Q", 1700000000) + s32(payload)),
        frame(0x86, 5, struct.pack(">H", 4) + b"".join(
            struct.pack(">QB", i, i) for i in range(1, 5))),
        frame(0x87, 6, s8(b"sbx:" + b"b" * 43)),
        frame(0x09, 7, b"chunk" * 20),
        frame(0x8C, 0, bytes(range(32, 64))),
    ]
    for f in c2r:
        put("proto_c2r", f)
    for f in r2c:
        put("proto_r2c", f)
    # Streams: several frames back to back, and one cut mid-frame.
    put("proto_c2r", b"".join(c2r))
    put("proto_r2c", b"".join(r2c))
    put("proto_c2r", c2r[4][:-7])
    put("proto_r2c", r2c[5][:-7])


def mail():
    """Maildir view names (one canonical, near misses) and contents of
    each class (fuzz_mail.c)."""
    for s in [b"1700000000.0102030405060708090a0b0c0d0e0f10_0000000000000007.sealbox:2,S",
              b"0.00000000000000000000000000000000_0000000000000000.sealbox:2,S",
              b"01.0102030405060708090a0b0c0d0e0f10_0000000000000007.sealbox:2,S",
              b"1.0102030405060708090A0B0C0D0E0F10_0000000000000007.sealbox:2,S",
              b"hello\nworld\n", b"dos\r\nline\r\n", b"x" * 1200,
              b"\x89PNG\r\n\x1a\n\x00\x00", "Gr\u00fc\u00dfe =?x?=".encode()]:
        put("mail", s)


def tlog():
    """tlog-* entries and heads, and one genuine proof of each kind for the
    harness's fixed tree (leaves u32 0..10 in host order, as it builds)."""
    for name in sorted(os.listdir(VEC)):
        if name.startswith("tlog-entry-"):
            put("tlog", b"\x00" + vector_blob(os.path.join(VEC, name)))
        elif name.startswith("tlog-sth"):
            put("tlog", b"\x01" + vector_blob(os.path.join(VEC, name)))
    put("tlog", b"\x02" + struct.pack(">QQ", 3, 11) + bytes(32 * 4))
    put("tlog", b"\x02" + struct.pack(">QQ", 5, 11) + bytes(32 * 3))
    # The log's frames (PROTOCOL 14.7), from the independent proto vectors.
    for name in ("c-lookup-log", "c-log-prove", "c-log-key", "c-link-offer", "c-link-list",
                 "c-link-approve", "c-remove-signed"):
        put("proto_c2r", vector_blob(os.path.join(VEC, "proto-" + name)))
    for name in ("r-lookup-log-result", "r-lookup-log-result-empty", "r-log-proof",
                 "r-log-key-result", "r-link-offers"):
        put("proto_r2c", vector_blob(os.path.join(VEC, "proto-" + name)))


def main():
    identities_and_payloads()
    vcards()
    names()
    wire()
    proto()
    tlog()
    mail()
    for t in sorted(os.listdir(CORPUS)):
        print(t, len(os.listdir(os.path.join(CORPUS, t))))


if __name__ == "__main__":
    sys.exit(main())
