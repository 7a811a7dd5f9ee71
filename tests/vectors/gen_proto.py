#!/usr/bin/python3
"""gen_proto.py - writes the relay protocol's test vectors (proto-*).

Built from the message tables of docs/PROTOCOL.md section 13 (13.1 field
notation, 13.3 frame and receiver checks, 13.4 messages) with Python's
`struct`, never from proto/proto.c, so tests/unit/test_proto_vectors.c
checks our encoder and decoder against a second reading of the spec: a
mistake both of our sides share (byte order, a list's count width, a cap)
shows up here.

    /usr/bin/python3 tests/vectors/gen_proto.py      (from the repository top)

Deterministic: every value is fixed; identities are the bytes of
tests/vectors/keys/*/identity.der (opaque to the protocol).  It rewrites
only proto-* files and the proto-* lines of INDEX, so gen.py's vectors are
untouched (and gen.py keeps these lines when it rewrites INDEX).

A vector is a header of "name: value" lines, a blank line, then the whole
frame (len, type, rid, body) in hex.  Header fields:

  kind: proto
  direction: client (client -> relay) | relay (relay -> client) | any
  message: the type's name in 13.4, type: its byte, rid: the request id
  expect: ok | length | truncated | trailing | format
  stage (negative vectors): which receiver check of 13.3 refuses it:
      frame  - check 1, from the first 4 bytes (proto_frame_size)
      type   - check 2, the type is not one this receiver accepts;
               `known: yes` when it is a valid type of the other
               direction (it decodes, the direction check refuses it)
      body   - check 3, the body does not decode (proto_decode)

Positive vectors name every body field: integers in decimal, byte strings
in hex.  A list L has `L.count` and, for a list of scalars, `L: v1,v2,..`;
a list of records has one comma-separated line per record field (`L.f`), or
(when the records hold lists themselves) `L.<i>.f` per record.  A byte
string over 8 KiB is named by `F.len` and `F.sha256` instead of its hex.
"""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")
MAX_FRAME = 1 << 20
BIG = 8192

# ---- 13.1 notation ---------------------------------------------------------


def u8(n):
    return struct.pack(">B", n)


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def u64(n):
    return struct.pack(">Q", n)


def s8(b):
    return u8(len(b)) + b


def s16(b):
    return u16(len(b)) + b


def s32(b):
    return u32(len(b)) + b


# ---- 13.4 tables -----------------------------------------------------------
#
# A field is (name, kind, arg):
#   u8 / u32 / u64      arg: None or the inclusive (lo, hi) range the table gives
#   bytes               arg: n (exactly n bytes)
#   s8 / s16 / s32      arg: max length
#   rest                arg: (lo, hi) length
#   list8 / list16      arg: ((lo, hi) count, element fields); an element of
#                       one field named None is a bare scalar

ADDR = 254
CLIENT, RELAY = "client", "relay"

TYPES = {
    0x01: ("REGISTER", CLIENT, [
        ("address", "s8", ADDR), ("code", "s8", 64), ("suite", "u8", (1, 2)),
        ("identity", "s16", 2048), ("name", "s8", 64), ("sig", "s8", 80)]),
    0x02: ("AUTH", CLIENT, [("device_id", "u64", None), ("sig", "s8", 80)]),
    0x03: ("LOOKUP", CLIENT, [
        ("address", "list8", ((1, 32), [(None, "s8", ADDR)]))]),
    0x04: ("REMOVE", CLIENT, [("device_id", "u64", None)]),
    0x05: ("SEND", CLIENT, [
        ("msgid", "bytes", 16),
        ("address", "list8", ((1, 32), [(None, "s8", ADDR)])),
        ("item", "list16", ((0, 48), [("device_id", "u64", None),
                                      ("payload", "s32", 65536)]))]),
    0x06: ("ACK", CLIENT, [("item_id", "u64", None)]),
    0x07: ("STATUS", CLIENT, [("msgid", "bytes", 16)]),
    0x08: ("BLOB_PUT", CLIENT, [("size", "u64", None)]),
    0x09: ("BLOB_DATA", "both", [("chunk", "rest", (1, 65536))]),
    0x0A: ("BLOB_GET", CLIENT, [("uri", "s8", 80)]),
    0x0B: ("PING", CLIENT, []),
    0x13: ("BLOB_DELETE", CLIENT, [("uri", "s8", 80)]),
    0x80: ("HELLO", RELAY, [("version", "u8", (1, 1)), ("challenge", "bytes", 32)]),
    0x81: ("OK", RELAY, [("value", "u64", None)]),
    0x82: ("ERROR", RELAY, [("code", "u32", (1, 1000)), ("text", "s8", 200)]),
    0x83: ("LOOKUP_RESULT", RELAY, [
        ("entry", "list8", ((0, 32), [
            ("address", "s8", ADDR),
            ("device", "list8", ((0, 32), [("id", "u64", None),
                                           ("name", "s8", 64),
                                           ("identity", "s16", 2048)]))]))]),
    0x84: ("STALE", RELAY, [
        ("missing", "list16", ((0, 1024), [(None, "u64", None)])),
        ("extra", "list16", ((0, 1024), [(None, "u64", None)]))]),
    0x85: ("PUSH", RELAY, [
        ("item_id", "u64", None), ("msgid", "bytes", 16), ("sender", "s8", ADDR),
        ("sender_device", "u64", None), ("timestamp", "u64", None),
        ("payload", "s32", 65536)]),
    0x86: ("STATUS_RESULT", RELAY, [
        ("entry", "list16", ((0, 48), [("device_id", "u64", None),
                                       ("state", "u8", (1, 4))]))]),
    0x87: ("BLOB_URI", RELAY, [("uri", "s8", 80)]),
    0x8C: ("PIN_NEXT", RELAY, [("fingerprint", "bytes", 32)]),
    # Section 14.7: the transparency log.
    0x0C: ("LOOKUP_LOG", CLIENT, [("known", "u64", None), ("address", "s8", ADDR)]),
    0x0D: ("LOG_PROVE", CLIENT, [("first", "u64", None), ("second", "u64", None)]),
    0x0E: ("LOG_KEY", CLIENT, []),
    0x0F: ("LINK_OFFER", CLIENT, [
        ("address", "s8", ADDR), ("suite", "u8", (1, 2)), ("identity", "s16", 2048),
        ("name", "s8", 64), ("sig", "s8", 80)]),
    0x10: ("LINK_LIST", CLIENT, []),
    0x11: ("LINK_APPROVE", CLIENT, [("identity", "s16", 2048), ("sig", "s8", 80)]),
    0x12: ("REMOVE_SIGNED", CLIENT, [("device_id", "u64", None), ("sig", "s8", 80)]),
    0x88: ("LOOKUP_LOG_RESULT", RELAY, [
        ("head", "s8", 128),
        ("consistency", "list8", ((0, 64), [(None, "bytes", 32)])),
        ("device", "list8", ((0, 32), [("id", "u64", None), ("name", "s8", 64),
                                       ("identity", "s16", 2048)])),
        ("proven", "list16", ((0, 256), [
            ("index", "u64", None), ("entry", "s16", 1169),
            ("path", "list8", ((0, 64), [(None, "bytes", 32)]))]))]),
    0x89: ("LOG_PROOF", RELAY, [("proof", "list8", ((0, 64), [(None, "bytes", 32)]))]),
    0x8A: ("LOG_KEY_RESULT", RELAY, [("key", "bytes", 65)]),
    0x8B: ("LINK_OFFERS", RELAY, [
        ("offer", "list8", ((0, 8), [("suite", "u8", (1, 2)), ("identity", "s16", 2048),
                                     ("name", "s8", 64), ("time", "u64", None)]))]),
}
BY_NAME = {v[0]: t for t, v in TYPES.items()}


def enc_field(kind, arg, v):
    """One field's bytes.  Deliberately no cap checks: negative vectors
    are made by encoding values the tables forbid."""
    if kind in ("u8", "u32", "u64"):
        return {"u8": u8, "u32": u32, "u64": u64}[kind](v)
    if kind == "bytes":
        return v
    if kind in ("s8", "s16", "s32"):
        return {"s8": s8, "s16": s16, "s32": s32}[kind](v)
    if kind == "rest":
        return v
    count, elem = arg
    out = (u8 if kind == "list8" else u16)(len(v))
    for e in v:
        out += enc_fields(elem, e if elem[0][0] is not None else {None: e})
    return out


def enc_fields(fields, vals):
    return b"".join(enc_field(k, a, vals[n]) for n, k, a in fields)


def in_caps(fields, vals):
    """True if vals obey every cap of the table (positive vectors must)."""
    for n, k, a in fields:
        v = vals[n]
        if k in ("u8", "u32", "u64") and a is not None and not a[0] <= v <= a[1]:
            return False
        if k == "bytes" and len(v) != a:
            return False
        if k in ("s8", "s16", "s32") and len(v) > a:
            return False
        if k == "rest" and not a[0] <= len(v) <= a[1]:
            return False
        if k in ("list8", "list16"):
            (lo, hi), elem = a
            if not lo <= len(v) <= hi:
                return False
            for e in v:
                if not in_caps(elem, e if elem[0][0] is not None else {None: e}):
                    return False
    return True


def frame(t, rid, body, length=None):
    """13.3: u32 len (everything after itself), u8 type, u32 rid, body."""
    return u32(5 + len(body) if length is None else length) + u8(t) + u32(rid) + body


# ---- naming the fields in the header ---------------------------------------


def fmt(kind, v):
    return str(v) if kind in ("u8", "u32", "u64") else v.hex()


def name_bytes(key, v):
    if len(v) > BIG:
        return [(key + ".len", str(len(v))),
                (key + ".sha256", hashlib.sha256(v).hexdigest())]
    return [(key, v.hex())]


def has_list(fields):
    return any(k.startswith("list") for _, k, _ in fields)


def flatten(prefix, fields, vals):
    out = []
    for n, k, a in fields:
        key = prefix + n
        v = vals[n]
        if k in ("list8", "list16"):
            elem = a[1]
            out.append((key + ".count", str(len(v))))
            if elem[0][0] is None:
                out.append((key, ",".join(fmt(elem[0][1], e) for e in v)))
            elif has_list(elem):
                for i, e in enumerate(v):
                    out += flatten("%s.%d." % (key, i), elem, e)
            else:
                for en, ek, _ in elem:
                    out.append(("%s.%s" % (key, en), ",".join(fmt(ek, e[en]) for e in v)))
        elif k in ("u8", "u32", "u64"):
            out.append((key, str(v)))
        else:
            out += name_bytes(key, v)
    return out


# ---- writing ---------------------------------------------------------------

written = []
positives = []


def write(name, header, blob):
    name = "proto-" + name
    if name in written:
        raise SystemExit("gen_proto.py: vector name %s used twice" % name)
    lines = ["%s: %s" % (k, v) for k, v in header]
    h = blob.hex()
    lines.append("")
    lines += [h[i:i + 64] for i in range(0, len(h), 64)] or [""]
    with open(os.path.join(HERE, name), "w") as f:
        f.write("\n".join(lines) + "\n")
    written.append(name)


def side(t):
    d = TYPES[t][1]
    return CLIENT if d == "both" else d


def good(name, comment, msg, rid, vals, direction=None):
    t = BY_NAME[msg]
    fields = TYPES[t][2]
    if not in_caps(fields, vals):
        raise SystemExit("gen_proto.py: %s breaks a cap of 13.4" % name)
    d = direction or side(t)
    hdr = [("comment", comment), ("kind", "proto"), ("direction", d),
           ("expect", "ok"), ("message", msg), ("type", "0x%02x" % t),
           ("rid", str(rid))]
    hdr += flatten("", fields, vals)
    write(name, hdr, frame(t, rid, enc_fields(fields, vals)))
    positives.append(name)


def bad(name, comment, direction, expect, stage, blob, t=None, known=None):
    hdr = [("comment", comment), ("kind", "proto"), ("direction", direction),
           ("expect", expect), ("stage", stage)]
    if t is not None:
        hdr.append(("type", "0x%02x" % t))
    if known is not None:
        hdr.append(("known", known))
    write(name, hdr, blob)


def bad_msg(name, comment, msg, rid, vals, expect, cut=0, extra=b""):
    """A body that check 3 refuses: vals break a cap, or the body loses its
    last `cut` bytes / gains `extra` (len stays consistent with the body)."""
    t = BY_NAME[msg]
    body = enc_fields(TYPES[t][2], vals)
    body = body[:len(body) - cut] + extra
    bad(name, comment, side(t), expect, "body", frame(t, rid, body), t=t)


# ---- values ----------------------------------------------------------------


def pat(n, k=0):
    """n non-trivial bytes, different per k."""
    return bytes((i * 131 + k * 29 + 7) & 0xff for i in range(n))


def identity(dev):
    with open(os.path.join(KEYS, dev, "identity.der"), "rb") as f:
        return f.read()


def long_address():
    """A valid e-mail address of exactly 254 bytes."""
    local = b"l" * 64
    dom = b"a" * 63 + b"." + b"b" * 63 + b"." + b"c" * 57 + b".org"
    a = local + b"@" + dom
    assert len(a) == ADDR
    return a


ALICE = b"alice@example.org"
BOB = b"bob.smith@mail.example.co.uk"
PHONE = b"+4915112345678"
MSGID = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
URI = b"sbblob:" + hashlib.sha256(b"sealbox blob").hexdigest().encode()
TOP = (1 << 64) - 1


def register_vals(**kw):
    v = {"address": ALICE, "code": b"7XK2-9QFM-PL3R", "suite": 2,
         "identity": identity("alice"), "name": b"alice's laptop", "sig": pat(71, 1)}
    v.update(kw)
    return v


def send_vals(**kw):
    v = {"msgid": MSGID, "address": [BOB, PHONE],
         "item": [{"device_id": 5, "payload": pat(300, 2)},
                  {"device_id": (1 << 40) + 1, "payload": pat(1, 3)},
                  {"device_id": TOP, "payload": pat(77, 4)}]}
    v.update(kw)
    return v


def lookup_result_vals(**kw):
    v = {"entry": [
        {"address": ALICE, "device": [
            {"id": 1, "name": b"laptop", "identity": identity("alice")},
            {"id": (1 << 33) + 2, "name": b"phone", "identity": identity("bob")}]},
        {"address": b"nobody@example.org", "device": []},
        {"address": PHONE, "device": [
            {"id": 77, "name": b"tablet", "identity": identity("erin")}]}]}
    v.update(kw)
    return v


def push_vals(**kw):
    v = {"item_id": (1 << 40) + 3, "msgid": MSGID, "sender": ALICE,
         "sender_device": (1 << 32) + 9, "timestamp": 1764031013,
         "payload": pat(500, 5)}
    v.update(kw)
    return v


def status_vals(n=4, state=None):
    return {"entry": [{"device_id": (i << 36) + i,
                       "state": (i % 4) + 1 if state is None else state}
                      for i in range(n)]}


def stale_vals(nm=3, ne=2):
    miss = [3, (1 << 32) + 1, TOP] + [(1 << 48) + i for i in range(max(0, nm - 3))]
    return {"missing": miss[:nm], "extra": [8 + (i << 20) for i in range(ne)]}


def hashes(n, k=0):
    return [hashlib.sha256(b"node %d %d" % (k, i)).digest() for i in range(n)]


def lookup_log_vals(**kw):
    v = {"head": pat(121, 20), "consistency": hashes(3),
         "device": [{"id": 1, "name": b"", "identity": identity("alice")},
                    {"id": 4, "name": b"", "identity": identity("erin")}],
         "proven": [{"index": 0, "entry": pat(206, 21), "path": hashes(3, 1)},
                    {"index": 2, "entry": pat(277, 22), "path": hashes(3, 2)},
                    {"index": (1 << 40) + 5, "entry": pat(65, 23), "path": []}]}
    v.update(kw)
    return v


def link_offers_vals(n=2):
    return {"offer": [{"suite": 1 + i % 2, "identity": pat(141 + i, 30 + i),
                       "name": b"phone %d" % i, "time": 1796000000 + i}
                      for i in range(n)]}


def addresses(n):
    base = [ALICE, PHONE, long_address()]
    return (base + [b"user%d@example.net" % i for i in range(n)])[:n]


# ---- the vectors -----------------------------------------------------------


def positive():
    rid = 0x8badf00d   # top bit set: a signed-int slip shows
    good("c-register", "REGISTER of an ec device (alice's real identity)",
         "REGISTER", rid, register_vals())
    good("c-register-max", "REGISTER, every string at its cap, suite pair",
         "REGISTER", 1, register_vals(address=long_address(), code=pat(64, 6),
                                      suite=1, identity=pat(2048, 7),
                                      name=pat(64, 8), sig=pat(80, 9)))
    good("c-auth", "AUTH, device id above 2^32", "AUTH", 2,
         {"device_id": 0x0123456789abcdef, "sig": pat(72, 10)})
    good("c-lookup", "LOOKUP of three addresses", "LOOKUP", 3,
         {"address": [ALICE, PHONE, BOB]})
    good("c-lookup-max", "LOOKUP of 32 addresses, one of 254 bytes", "LOOKUP", 4,
         {"address": addresses(32)})
    good("c-remove", "REMOVE", "REMOVE", 5, {"device_id": (1 << 32) + 7})
    good("c-send", "SEND to two addresses, three items", "SEND", rid, send_vals())
    good("c-send-max", "SEND to 32 addresses with 48 items", "SEND", 6,
         send_vals(address=addresses(32),
                   item=[{"device_id": (i << 40) + i, "payload": pat(i, i)}
                         for i in range(48)]))
    good("c-send-no-items", "SEND with zero items (the relay answers STALE)",
         "SEND", 7, send_vals(address=[BOB], item=[]))
    good("c-ack", "ACK, item id with the top bit set", "ACK", 8,
         {"item_id": (1 << 63) + 5})
    good("c-status", "STATUS", "STATUS", 9, {"msgid": MSGID})
    good("c-blob-put", "BLOB_PUT of 5 GiB", "BLOB_PUT", 10, {"size": 5 << 30})
    good("c-blob-data", "BLOB_DATA of 1000 bytes", "BLOB_DATA", 11,
         {"chunk": pat(1000, 11)})
    good("c-blob-data-max", "BLOB_DATA of 65536 bytes", "BLOB_DATA", 11,
         {"chunk": pat(65536, 12)})
    good("c-blob-get", "BLOB_GET", "BLOB_GET", 12, {"uri": URI})
    good("c-ping", "PING", "PING", 0xffffffff, {})
    good("c-blob-put-0", "BLOB_PUT of size 0: asks for the blob cap (13.6)",
         "BLOB_PUT", 13, {"size": 0})
    good("c-blob-delete", "BLOB_DELETE", "BLOB_DELETE", 14, {"uri": URI})

    good("r-hello", "HELLO, rid 0", "HELLO", 0,
         {"version": 1, "challenge": pat(32, 13)})
    good("r-ok", "OK with a value above 2^63", "OK", rid, {"value": 0xfedcba9876543210})
    good("r-error", "ERROR NO_SPACE", "ERROR", 14,
         {"code": 53, "text": b"relay out of disk space"})
    good("r-error-max", "ERROR code 1000, text of 200 bytes", "ERROR", 15,
         {"code": 1000, "text": pat(200, 14)})
    good("r-lookup-result", "LOOKUP_RESULT: 2 devices, none, 1 device",
         "LOOKUP_RESULT", 16, lookup_result_vals())
    good("r-lookup-result-max", "LOOKUP_RESULT: 32 addresses of 32 devices",
         "LOOKUP_RESULT", 17,
         {"entry": [{"address": a, "device": [
             {"id": (j << 8) + i, "name": b"d%d" % j, "identity": pat(i % 3, j)}
             for j in range(32)]} for i, a in enumerate(addresses(32))]})
    good("r-lookup-result-empty", "LOOKUP_RESULT with no entries",
         "LOOKUP_RESULT", 18, {"entry": []})
    good("r-stale", "STALE: 3 missing, 2 extra", "STALE", 19, stale_vals())
    good("r-stale-max", "STALE: 1024 missing, 1024 extra", "STALE", 20,
         stale_vals(1024, 1024))
    good("r-push", "PUSH, rid 0", "PUSH", 0, push_vals())
    good("r-push-max", "PUSH: 254-byte sender, 65536-byte payload", "PUSH", 0,
         push_vals(sender=long_address(), payload=pat(65536, 15), timestamp=TOP))
    good("r-status-result", "STATUS_RESULT, one entry per state", "STATUS_RESULT",
         21, status_vals())
    good("r-status-result-max", "STATUS_RESULT with 48 entries", "STATUS_RESULT",
         22, status_vals(48))
    good("r-blob-uri", "BLOB_URI", "BLOB_URI", 23, {"uri": URI})
    good("r-blob-data", "BLOB_DATA of one byte, relay to client", "BLOB_DATA",
         24, {"chunk": b"\x5a"}, direction=RELAY)
    good("r-pin-next", "PIN_NEXT: the next certificate's SHA-256 (13.10)", "PIN_NEXT",
         0, {"fingerprint": pat(32, 9)})

    # Section 14.7.
    good("c-lookup-log", "LOOKUP_LOG of alice, 5 entries known", "LOOKUP_LOG", 30,
         {"known": 5, "address": ALICE})
    good("c-log-prove", "LOG_PROVE between sizes 3 and 2^40", "LOG_PROVE", 31,
         {"first": 3, "second": 1 << 40})
    good("c-log-key", "LOG_KEY", "LOG_KEY", 32, {})
    good("c-link-offer", "LINK_OFFER of an ec device", "LINK_OFFER", 33,
         {"address": ALICE, "suite": 2, "identity": identity("erin"),
          "name": b"alice's phone", "sig": pat(71, 24)})
    good("c-link-list", "LINK_LIST", "LINK_LIST", 34, {})
    good("c-link-approve", "LINK_APPROVE of erin's keys", "LINK_APPROVE", 35,
         {"identity": identity("erin"), "sig": pat(72, 25)})
    good("c-remove-signed", "REMOVE_SIGNED", "REMOVE_SIGNED", 36,
         {"device_id": (1 << 32) + 7, "sig": pat(70, 26)})
    good("r-lookup-log-result", "LOOKUP_LOG_RESULT: 2 devices, 3 entries",
         "LOOKUP_LOG_RESULT", 37, lookup_log_vals())
    good("r-lookup-log-result-empty", "LOOKUP_LOG_RESULT of an unknown address",
         "LOOKUP_LOG_RESULT", 38, lookup_log_vals(consistency=[], device=[], proven=[]))
    good("r-lookup-log-result-max", "LOOKUP_LOG_RESULT at every cap but the entry count",
         "LOOKUP_LOG_RESULT", 39,
         lookup_log_vals(head=pat(128, 27), consistency=hashes(64, 3),
                         device=[{"id": i + 1, "name": pat(64, i), "identity": pat(600, i)}
                                 for i in range(32)],
                         proven=[{"index": i, "entry": pat(1169, i), "path": hashes(64, i)}
                                 for i in range(40)]))
    good("r-log-proof", "LOG_PROOF of 5 hashes", "LOG_PROOF", 40, {"proof": hashes(5, 4)})
    good("r-log-proof-empty", "LOG_PROOF, empty", "LOG_PROOF", 41, {"proof": []})
    good("r-log-key-result", "LOG_KEY_RESULT", "LOG_KEY_RESULT", 42,
         {"key": b"\x04" + pat(64, 28)})
    good("r-link-offers", "LINK_OFFERS: two", "LINK_OFFERS", 43, link_offers_vals())
    good("r-link-offers-max", "LINK_OFFERS: eight", "LINK_OFFERS", 44, link_offers_vals(8))


def negative():
    # Check 1: the length field alone.
    bad("frame-len-0", "len 0", "any", "length", "frame", u32(0))
    bad("frame-len-4", "len 4: less than type + rid", "any", "length", "frame",
        u32(4) + b"\x0b\x00\x00\x00")
    bad("frame-len-over", "len 1 MiB + 1 (only the header present)", "any",
        "length", "frame", frame(0x09, 1, b"", length=MAX_FRAME + 1))
    bad("frame-len-max32", "len 2^32 - 1", "any", "length", "frame",
        frame(0x09, 1, b"", length=0xffffffff))

    # Check 2: types the receiver does not accept.
    for t in (0x00, 0x14, 0x7f, 0xa0, 0xff):
        bad("c-type-%02x" % t, "type 0x%02x, empty body, to the relay" % t,
            CLIENT, "format", "type", frame(t, 1, b""), t=t, known="no")
        bad("r-type-%02x" % t, "type 0x%02x, empty body, to a client" % t,
            RELAY, "format", "type", frame(t, 1, b""), t=t, known="no")
    bad("c-type-hello", "a well-formed HELLO sent to the relay", CLIENT, "format",
        "type", frame(0x80, 0, u8(1) + pat(32)), t=0x80, known="yes")
    bad("c-type-ok", "a well-formed OK sent to the relay", CLIENT, "format",
        "type", frame(0x81, 3, u64(0)), t=0x81, known="yes")
    bad("c-type-push", "a well-formed PUSH sent to the relay", CLIENT, "format",
        "type", frame(0x85, 0, enc_fields(TYPES[0x85][2], push_vals())), t=0x85,
        known="yes")
    bad("c-type-pin-next", "a well-formed PIN_NEXT sent to the relay", CLIENT, "format",
        "type", frame(0x8c, 0, pat(32)), t=0x8c, known="yes")
    bad("r-type-ping", "a PING sent to a client", RELAY, "format", "type",
        frame(0x0b, 3, b""), t=0x0b, known="yes")
    bad("r-type-blob-delete", "a BLOB_DELETE sent to a client", RELAY, "format",
        "type", frame(0x13, 3, s8(URI)), t=0x13, known="yes")
    bad("r-type-auth", "a well-formed AUTH sent to a client", RELAY, "format",
        "type", frame(0x02, 3, u64(1) + s8(pat(70))), t=0x02, known="yes")
    bad("r-type-register", "a well-formed REGISTER sent to a client", RELAY,
        "format", "type",
        frame(0x01, 3, enc_fields(TYPES[0x01][2], register_vals())),
        t=0x01, known="yes")

    # Check 3: strings over their caps (the bytes are all there).
    over = [
        ("c-register-address-255", "REGISTER", register_vals(address=b"a" * 255)),
        ("c-register-code-65", "REGISTER", register_vals(code=pat(65))),
        ("c-register-identity-2049", "REGISTER", register_vals(identity=pat(2049))),
        ("c-register-name-65", "REGISTER", register_vals(name=pat(65))),
        ("c-register-sig-81", "REGISTER", register_vals(sig=pat(81))),
        ("c-auth-sig-81", "AUTH", {"device_id": 1, "sig": pat(81)}),
        ("c-lookup-address-255", "LOOKUP", {"address": [ALICE, b"a" * 255]}),
        ("c-send-address-255", "SEND", send_vals(address=[b"b" * 255])),
        ("c-send-payload-65537", "SEND",
         send_vals(item=[{"device_id": 1, "payload": pat(65537)}])),
        ("c-blob-get-uri-81", "BLOB_GET", {"uri": pat(81)}),
        ("c-blob-delete-uri-81", "BLOB_DELETE", {"uri": pat(81)}),
        ("r-error-text-201", "ERROR", {"code": 5, "text": pat(201)}),
        ("r-lookup-result-address-255", "LOOKUP_RESULT",
         lookup_result_vals(entry=[{"address": b"c" * 255, "device": []}])),
        ("r-lookup-result-name-65", "LOOKUP_RESULT",
         lookup_result_vals(entry=[{"address": ALICE, "device": [
             {"id": 1, "name": pat(65), "identity": b"x"}]}])),
        ("r-lookup-result-identity-2049", "LOOKUP_RESULT",
         lookup_result_vals(entry=[{"address": ALICE, "device": [
             {"id": 1, "name": b"n", "identity": pat(2049)}]}])),
        ("r-push-sender-255", "PUSH", push_vals(sender=b"d" * 255)),
        ("r-push-payload-65537", "PUSH", push_vals(payload=pat(65537))),
        ("r-blob-uri-81", "BLOB_URI", {"uri": pat(81)}),
        ("c-lookup-log-address-255", "LOOKUP_LOG", {"known": 0, "address": b"e" * 255}),
        ("c-link-offer-identity-2049", "LINK_OFFER",
         {"address": ALICE, "suite": 2, "identity": pat(2049), "name": b"n",
          "sig": pat(70)}),
        ("c-link-approve-sig-81", "LINK_APPROVE", {"identity": pat(141), "sig": pat(81)}),
        ("c-remove-signed-sig-81", "REMOVE_SIGNED", {"device_id": 1, "sig": pat(81)}),
        ("r-lookup-log-result-head-129", "LOOKUP_LOG_RESULT",
         lookup_log_vals(head=pat(129))),
        ("r-lookup-log-result-entry-1170", "LOOKUP_LOG_RESULT",
         lookup_log_vals(proven=[{"index": 0, "entry": pat(1170), "path": []}])),
    ]
    for name, msg, vals in over:
        bad_msg(name, "%s with a string one byte over its cap" % msg, msg, 1,
                vals, "length")

    # Check 3: lists over (or under) their counts.
    counts = [
        ("c-lookup-33", "LOOKUP of 33 addresses", "LOOKUP",
         {"address": addresses(33)}),
        ("c-lookup-0", "LOOKUP of no address (1..32)", "LOOKUP", {"address": []}),
        ("c-send-addresses-33", "SEND to 33 addresses", "SEND",
         send_vals(address=addresses(33))),
        ("c-send-addresses-0", "SEND to no address (1..32)", "SEND",
         send_vals(address=[])),
        ("c-send-items-49", "SEND with 49 items", "SEND",
         send_vals(item=[{"device_id": i, "payload": b"p"} for i in range(49)])),
        ("r-lookup-result-entries-33", "LOOKUP_RESULT with 33 entries",
         "LOOKUP_RESULT",
         {"entry": [{"address": a, "device": []} for a in addresses(33)]}),
        ("r-lookup-result-devices-33", "LOOKUP_RESULT: one address, 33 devices",
         "LOOKUP_RESULT",
         {"entry": [{"address": ALICE, "device": [
             {"id": i, "name": b"n", "identity": b"i"} for i in range(33)]}]}),
        ("r-stale-missing-1025", "STALE with 1025 missing", "STALE",
         stale_vals(1025, 0)),
        ("r-stale-extra-1025", "STALE with 1025 extra", "STALE",
         stale_vals(0, 1025)),
        ("r-status-result-49", "STATUS_RESULT with 49 entries", "STATUS_RESULT",
         status_vals(49)),
        ("r-lookup-log-result-consistency-65", "LOOKUP_LOG_RESULT, a proof of 65",
         "LOOKUP_LOG_RESULT", lookup_log_vals(consistency=hashes(65))),
        ("r-lookup-log-result-devices-33", "LOOKUP_LOG_RESULT with 33 devices",
         "LOOKUP_LOG_RESULT",
         lookup_log_vals(device=[{"id": i, "name": b"", "identity": b"i"}
                                 for i in range(33)])),
        ("r-lookup-log-result-entries-257", "LOOKUP_LOG_RESULT with 257 entries",
         "LOOKUP_LOG_RESULT",
         lookup_log_vals(proven=[{"index": i, "entry": b"e", "path": []}
                                 for i in range(257)])),
        ("r-lookup-log-result-path-65", "LOOKUP_LOG_RESULT, a path of 65",
         "LOOKUP_LOG_RESULT",
         lookup_log_vals(proven=[{"index": 1, "entry": b"e", "path": hashes(65)}])),
        ("r-log-proof-65", "LOG_PROOF of 65 hashes", "LOG_PROOF", {"proof": hashes(65)}),
        ("r-link-offers-9", "LINK_OFFERS with 9 offers", "LINK_OFFERS",
         link_offers_vals(9)),
    ]
    for name, comment, msg, vals in counts:
        bad_msg(name, comment, msg, 1, vals, "length")

    # Check 3: values out of range.
    enums = [
        ("c-register-suite-0", "REGISTER suite 0", "REGISTER", register_vals(suite=0)),
        ("c-register-suite-3", "REGISTER suite 3", "REGISTER", register_vals(suite=3)),
        ("r-status-result-state-0", "STATUS_RESULT state 0", "STATUS_RESULT",
         status_vals(3, 0)),
        ("r-status-result-state-5", "STATUS_RESULT state 5", "STATUS_RESULT",
         status_vals(3, 5)),
        ("r-error-code-0", "ERROR code 0 (SB_OK is no error)", "ERROR",
         {"code": 0, "text": b"ok?"}),
        ("r-error-code-1001", "ERROR code 1001", "ERROR",
         {"code": 1001, "text": b"?"}),
        ("r-error-code-top", "ERROR code 2^32 - 1 (-1 as a signed int)", "ERROR",
         {"code": 0xffffffff, "text": b""}),
        ("r-hello-version-2", "HELLO version 2", "HELLO",
         {"version": 2, "challenge": pat(32)}),
        ("r-hello-version-0", "HELLO version 0", "HELLO",
         {"version": 0, "challenge": pat(32)}),
        ("c-link-offer-suite-3", "LINK_OFFER suite 3", "LINK_OFFER",
         {"address": ALICE, "suite": 3, "identity": b"i", "name": b"n", "sig": b"s"}),
        ("r-link-offers-suite-0", "LINK_OFFERS with an offer of suite 0", "LINK_OFFERS",
         {"offer": [{"suite": 0, "identity": b"i", "name": b"n", "time": 1}]}),
    ]
    for name, comment, msg, vals in enums:
        bad_msg(name, comment, msg, 1, vals, "format")

    # Check 3: BLOB_DATA's chunk is 1..65536 bytes.
    bad_msg("c-blob-data-0", "BLOB_DATA without a byte", "BLOB_DATA", 1,
            {"chunk": b""}, "length")
    bad("r-blob-data-0", "BLOB_DATA without a byte, to a client", RELAY, "length",
        "body", frame(0x09, 1, b""), t=0x09)
    bad_msg("c-blob-data-65537", "BLOB_DATA of 65537 bytes", "BLOB_DATA", 1,
            {"chunk": pat(65537)}, "length")

    # Check 3: one byte short.
    short = [
        ("c-register-short", "REGISTER", register_vals()),
        ("c-auth-short", "AUTH", {"device_id": 1, "sig": pat(72)}),
        ("c-lookup-short", "LOOKUP", {"address": [ALICE, PHONE]}),
        ("c-remove-short", "REMOVE", {"device_id": 1}),
        ("c-send-short", "SEND", send_vals()),
        ("c-ack-short", "ACK", {"item_id": 1}),
        ("c-status-short", "STATUS", {"msgid": MSGID}),
        ("c-blob-put-short", "BLOB_PUT", {"size": 1}),
        ("c-blob-get-short", "BLOB_GET", {"uri": URI}),
        ("c-blob-delete-short", "BLOB_DELETE", {"uri": URI}),
        ("r-hello-short", "HELLO", {"version": 1, "challenge": pat(32)}),
        ("r-ok-short", "OK", {"value": 1}),
        ("r-error-short", "ERROR", {"code": 3, "text": b"bad"}),
        ("r-lookup-result-short", "LOOKUP_RESULT", lookup_result_vals()),
        ("r-stale-short", "STALE", stale_vals()),
        ("r-push-short", "PUSH", push_vals()),
        ("r-status-result-short", "STATUS_RESULT", status_vals()),
        ("r-blob-uri-short", "BLOB_URI", {"uri": URI}),
        ("r-pin-next-short", "PIN_NEXT", {"fingerprint": pat(32)}),
        ("c-lookup-log-short", "LOOKUP_LOG", {"known": 1, "address": ALICE}),
        ("c-log-prove-short", "LOG_PROVE", {"first": 1, "second": 2}),
        ("c-link-offer-short", "LINK_OFFER",
         {"address": ALICE, "suite": 2, "identity": b"i", "name": b"n", "sig": b"s"}),
        ("c-link-approve-short", "LINK_APPROVE", {"identity": b"i", "sig": b"s"}),
        ("c-remove-signed-short", "REMOVE_SIGNED", {"device_id": 1, "sig": b"s"}),
        ("r-lookup-log-result-short", "LOOKUP_LOG_RESULT", lookup_log_vals()),
        ("r-log-proof-short", "LOG_PROOF", {"proof": hashes(2)}),
        ("r-log-key-result-short", "LOG_KEY_RESULT", {"key": pat(65)}),
        ("r-link-offers-short", "LINK_OFFERS", link_offers_vals()),
    ]
    for name, msg, vals in short:
        bad_msg(name, "%s body one byte short" % msg, msg, 1, vals, "truncated", cut=1)
    # A count promising more than the body holds.
    bad("c-lookup-count-over", "LOOKUP count 3, two addresses follow", CLIENT,
        "truncated", "body",
        frame(0x03, 1, u8(3) + s8(ALICE) + s8(PHONE)), t=0x03)
    bad("r-stale-empty", "STALE with an empty body (no counts)", RELAY, "truncated",
        "body", frame(0x84, 1, b""), t=0x84)

    # Check 3: a length or count is held against its cap as soon as it is
    # read, before the bytes it announces: over the cap is LENGTH even in a
    # frame that ends early.
    bad("c-auth-sig-200-cut", "AUTH sig announcing 200 bytes, 10 follow", CLIENT,
        "length", "body", frame(0x02, 1, u64(1) + u8(200) + pat(10)), t=0x02)
    bad("r-stale-1025-cut", "STALE count 1025, no id follows", RELAY, "length",
        "body", frame(0x84, 1, u16(1025)), t=0x84)
    bad("r-push-payload-cut", "PUSH payload announcing 2^32 - 1 bytes, 3 follow",
        RELAY, "length", "body",
        frame(0x85, 0, enc_fields(TYPES[0x85][2], push_vals())[:-504] +
              u32(0xffffffff) + b"abc"), t=0x85)

    # Check 3: one byte left over.
    trail = [
        ("c-register-trailing", "REGISTER", register_vals()),
        ("c-auth-trailing", "AUTH", {"device_id": 1, "sig": pat(72)}),
        ("c-send-trailing", "SEND", send_vals()),
        ("c-ack-trailing", "ACK", {"item_id": 1}),
        ("c-blob-put-trailing", "BLOB_PUT", {"size": 1}),
        ("c-ping-trailing", "PING", {}),
        ("r-hello-trailing", "HELLO", {"version": 1, "challenge": pat(32)}),
        ("r-ok-trailing", "OK", {"value": 0}),
        ("r-lookup-result-trailing", "LOOKUP_RESULT", lookup_result_vals()),
        ("r-stale-trailing", "STALE", stale_vals()),
        ("r-push-trailing", "PUSH", push_vals()),
        ("r-status-result-trailing", "STATUS_RESULT", status_vals()),
        ("r-pin-next-trailing", "PIN_NEXT", {"fingerprint": pat(32)}),
        ("c-log-key-trailing", "LOG_KEY", {}),
        ("c-link-list-trailing", "LINK_LIST", {}),
        ("c-log-prove-trailing", "LOG_PROVE", {"first": 1, "second": 2}),
        ("r-lookup-log-result-trailing", "LOOKUP_LOG_RESULT", lookup_log_vals()),
        ("r-log-key-result-trailing", "LOG_KEY_RESULT", {"key": pat(65)}),
        ("r-log-proof-trailing", "LOG_PROOF", {"proof": hashes(1)}),
    ]
    for name, msg, vals in trail:
        bad_msg(name, "%s plus one byte" % msg, msg, 1, vals, "trailing",
                extra=b"\x00")


def main():
    positive()
    negative()
    index = os.path.join(HERE, "INDEX")
    with open(index) as f:
        keep = [l for l in f.read().split() if not l.startswith("proto-")]
    for f in os.listdir(HERE):
        if f.startswith("proto-") and f not in written:
            os.remove(os.path.join(HERE, f))
    with open(index, "w") as f:
        f.write("\n".join(sorted(keep + written)) + "\n")
    print("wrote %d proto vectors (%d ok)" % (len(written), len(positives)),
          file=sys.stderr)



if __name__ == "__main__":
    main()
