#!/usr/bin/python3
"""gen.py - writes sealbox's test vectors from an independent implementation.

Everything here is built from the Python `cryptography` package (Debian's
python3-cryptography) and docs/PROTOCOL.md, never from sealbox's C code, so
tests/unit/test_crypto_vectors.c checks the C implementation against a
second reading of the spec.

    /usr/bin/python3 tests/vectors/gen.py       (from the repository top)

Keys live in tests/vectors/keys/NAME/{sign,encrypt}.pem (PKCS#8 PEM, the
codec's own layout) and are generated only when missing, so re-running
keeps them.  RSA-OAEP and ECDSA are randomized: re-running rewrites pair
payloads and signatures with different bytes that still verify; K, C and
(suite ec, fixed ephemeral key) the whole body are deterministic.

The relay protocol's vectors (proto-*) come from gen_proto.py; this
script leaves them and their INDEX lines alone.

A vector file is a text header of "name: value" lines, one blank line, then
the object as hex (whitespace ignored).  `expect` names exactly one outcome:
ok, truncated, trailing, length, format, signature, unwrap, tag, key_type,
key_invalid.
"""
import hashlib
import hmac
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")
EC_INFO = b"sealbox-ecies-v1"
V_PAIR, V_EC = 0x02, 0x03

# ---- keys ------------------------------------------------------------------

# name -> (suite, RSA bits or None)
DEVICES = {
    "alice": ("ec", None),      # usual sender
    "carol": ("pair", 1280),    # the other sender
    "bob": ("pair", 1280),      # recipients
    "dave": ("pair", 2048),
    "frank": ("pair", 4096),
    "erin": ("ec", None),
}


def pem_private(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_or_make(path, make):
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(pem_private(make()))
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


class Device:
    def __init__(self, name, suite, bits):
        d = os.path.join(KEYS, name)
        self.name = name
        self.suite = suite
        self.sign = load_or_make(os.path.join(d, "sign.pem"),
                                 lambda: ec.generate_private_key(ec.SECP256R1()))
        if suite == "ec":
            mk = lambda: ec.generate_private_key(ec.SECP256R1())
        else:
            mk = lambda: rsa.generate_private_key(65537, bits)
        self.enc = load_or_make(os.path.join(d, "encrypt.pem"), mk)
        self.c1, self.c2, self.identity = identity(self.sign.public_key(),
                                                   self.enc.public_key())
        self.hash = hashlib.sha256(self.c1 + self.c2).digest()
        with open(os.path.join(d, "identity.der"), "wb") as f:
            f.write(self.identity)


# ---- encodings -------------------------------------------------------------

def u16(n):
    return struct.pack(">H", n)


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def der_int(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")  # keeps a sign octet
    return tlv(0x02, b)


def point(pub):
    return pub.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)


def enc_key_bytes(pub):
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return point(pub)
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.PKCS1)


def identity_from_fields(kb1, kb2):
    c1 = u16(len(kb1)) + kb1
    c2 = u16(len(kb2)) + kb2
    return c1, c2, tlv(0x30, tlv(0x81, c1) + tlv(0x82, c2))


def identity(sign_pub, enc_pub):
    return identity_from_fields(point(sign_pub), enc_key_bytes(enc_pub))


# ---- the payload, as docs/PROTOCOL.md specifies it -------------------------

def msg_key(seed, m, hs, hr):
    tag = hmac.new(seed, m + b"\x02" + hs + hr, hashlib.sha256).digest()[:5]
    return seed + tag


def ctr(key, iv, data):
    e = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return e.update(data) + e.finalize()


CTR_IV = b"\x00" * 15 + b"\x01"
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)


def wrap_pair(rcpt, kc):
    return rcpt.enc.public_key().encrypt(kc, OAEP)


def ec_wrap_key(priv, peer_pub, hs, hr, eph_point):
    z = priv.exchange(ec.ECDH(), peer_pub)
    return HKDF(hashes.SHA256(), 32, hs + hr, EC_INFO + eph_point).derive(z)


def wrap_ec(sender, rcpt, kc, eph):
    ep = point(eph.public_key())
    key = ec_wrap_key(eph, rcpt.enc.public_key(), sender.hash, rcpt.hash, ep)
    return ep + AESGCM(key).encrypt(b"\x00" * 12, kc, None)


def body_of(sender, rcpt, k, c, eph, wrapped_len=None):
    n0 = min(100, len(c)) if wrapped_len is None else wrapped_len
    kc = k + c[:n0]
    w = wrap_ec(sender, rcpt, kc, eph) if rcpt.suite == "ec" else wrap_pair(rcpt, kc)
    return w + c[n0:]


def frame(signer, version, body, sig=None):
    if sig is None:
        sig = signer.sign.sign(body, ec.ECDSA(hashes.SHA1()))
    return bytes([version]) + u16(len(body)) + body + bytes([len(sig)]) + sig


def version_of(rcpt):
    return V_EC if rcpt.suite == "ec" else V_PAIR


# ---- writing ---------------------------------------------------------------

written = []


def write(name, header, blob):
    if name in written:
        raise SystemExit("gen.py: vector name %s used twice" % name)
    lines = ["%s: %s" % (k, v) for k, v in header]
    h = blob.hex()
    lines.append("")
    lines += [h[i:i + 64] for i in range(0, len(h), 64)] or [""]
    with open(os.path.join(HERE, name), "w") as f:
        f.write("\n".join(lines) + "\n")
    written.append(name)


def payload_vector(name, comment, sender, rcpt, expect, payload, m=None,
                   seed=None, k=None, c=None, eph=None, body=None):
    hdr = [("comment", comment), ("kind", "payload"), ("suite", rcpt.suite),
           ("sender", sender.name), ("recipient", rcpt.name), ("expect", expect)]
    if m is not None:
        hdr.append(("message", m.hex()))
    if seed is not None:
        hdr += [("seed", seed.hex()), ("K", k.hex()), ("C", c.hex())]
    if eph is not None:
        hdr.append(("eph", eph))
    if body is not None:
        hdr.append(("body", body.hex()))
    hdr.append(("payload-sha256", hashlib.sha256(payload).hexdigest()))
    write("payload-" + name, hdr, payload)


def main():
    dev = {n: Device(n, s, b) for n, (s, b) in DEVICES.items()}
    eph = load_or_make(os.path.join(KEYS, "eph", "encrypt.pem"),
                       lambda: ec.generate_private_key(ec.SECP256R1()))
    alice, carol, bob, dave, erin = (dev[n] for n in
                                     ("alice", "carol", "bob", "dave", "erin"))

    def seed_for(i):
        return bytes((i * 16 + j) & 0xff for j in range(11))

    def msg(n):
        return bytes((i * 7 + 3) & 0xff for i in range(n))

    # Honest payloads, both suites, around the 100-byte wrap boundary.
    good = [
        ("pair-1280-empty", alice, bob, b""),
        ("pair-1280-short", alice, bob, b"hello, bob"),
        ("pair-2048-100", carol, dave, msg(100)),
        ("pair-2048-101", alice, dave, msg(101)),
        ("pair-4096-300", alice, dev["frank"], msg(300)),
        ("ec-empty", alice, erin, b""),
        ("ec-short", carol, erin, b"hello, erin"),
        ("ec-100", alice, erin, msg(100)),
        ("ec-101", alice, erin, msg(101)),
        ("ec-1000", alice, erin, msg(1000)),
    ]
    for i, (name, s, r, m) in enumerate(good):
        seed = seed_for(i)
        k = msg_key(seed, m, s.hash, r.hash)
        c = ctr(k, CTR_IV, m)
        body = body_of(s, r, k, c, eph)
        comment = "%s seals %d bytes to %s (suite %s)" % (s.name, len(m), r.name, r.suite)
        payload_vector(name, comment, s, r, "ok", frame(s, version_of(r), body),
                       m=m, seed=seed, k=k, c=c,
                       eph="eph" if r.suite == "ec" else None,
                       body=body if r.suite == "ec" else None)

    # One failure each.
    m = b"attack at dawn, bring snacks" * 5          # 140 bytes: body > wrap
    for r in (bob, erin):
        seed = seed_for(9)
        k = msg_key(seed, m, alice.hash, r.hash)
        c = ctr(k, CTR_IV, m)
        honest = frame(alice, version_of(r), body_of(alice, r, k, c, eph))
        sfx = r.suite
        bad_k = k[:15] + bytes([k[15] ^ 1])
        payload_vector(sfx + "-bad-tag", "tag bit flipped before encryption; validly signed",
                       alice, r, "tag",
                       frame(alice, version_of(r),
                             body_of(alice, r, bad_k, ctr(bad_k, CTR_IV, m), eph)), m=m)
        payload_vector(sfx + "-wrong-sender", "signed by carol, presented as from alice",
                       alice, r, "signature",
                       frame(carol, version_of(r), body_of(alice, r, k, c, eph)), m=m)
        payload_vector(sfx + "-truncated", "honest payload without its last byte",
                       alice, r, "truncated", honest[:-1], m=m)
        payload_vector(sfx + "-trailing", "honest payload plus one zero byte",
                       alice, r, "trailing", honest + b"\x00", m=m)
        payload_vector(sfx + "-bad-version", "version byte of the other suite",
                       alice, r, "format",
                       bytes([V_PAIR if r.suite == "ec" else V_EC]) + honest[1:], m=m)
        payload_vector(sfx + "-sig-length-zero", "empty signature field",
                       alice, r, "length",
                       frame(alice, version_of(r), body_of(alice, r, k, c, eph), sig=b""), m=m)
        flipped = bytearray(honest)
        flipped[3 + 20] ^= 0x40
        payload_vector(sfx + "-body-flip", "one body bit flipped after signing",
                       alice, r, "signature", bytes(flipped), m=m)
        payload_vector(sfx + "-wrong-recipient", "sealed for another device",
                       alice, r, "unwrap",
                       frame(alice, version_of(r),
                             body_of(alice, carol if r.suite == "pair" else alice,
                                     k, c, eph)), m=m)
        payload_vector(sfx + "-zero-bytes", "zero bytes", alice, r, "truncated", b"")
        # pair: the unwrapped length contradicts |body|; ec derives the
        # wrap's extent from |body|, so the AEAD sees the wrong bytes.
        payload_vector(sfx + "-short-wrap", "K || C0 wraps only 50 bytes of C "
                       "although the body continues; validly signed",
                       alice, r, "length" if r.suite == "pair" else "unwrap",
                       frame(alice, version_of(r), body_of(alice, r, k, c, eph, 50)), m=m)

    # Suite-specific unwrap failures, validly signed.
    seed = seed_for(10)
    m = msg(60)
    k = msg_key(seed, m, alice.hash, bob.hash)
    c = ctr(k, CTR_IV, m)
    sha256_oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                               algorithm=hashes.SHA256(), label=None)
    body = bob.enc.public_key().encrypt(k + c, sha256_oaep)
    payload_vector("pair-oaep-sha256", "key block is OAEP-SHA256, not SHA-1",
                   alice, bob, "unwrap", frame(alice, V_PAIR, body), m=m)
    payload_vector("pair-short-body", "body shorter than the 160-byte RSA block",
                   alice, bob, "length", frame(alice, V_PAIR, body[:100]), m=m)

    k = msg_key(seed, m, alice.hash, erin.hash)
    c = ctr(k, CTR_IV, m)
    body = bytearray(body_of(alice, erin, k, c, eph))
    off_curve = bytearray(body)
    off_curve[64] ^= 0x01                      # last byte of eph Y
    payload_vector("ec-eph-off-curve", "ephemeral point off the curve",
                   alice, erin, "unwrap", frame(alice, V_EC, bytes(off_curve)), m=m)
    gcm_flip = bytearray(body)
    gcm_flip[-1] ^= 0x01                       # last byte of the GCM tag
    payload_vector("ec-gcm-tag-flip", "AEAD tag flipped, re-signed",
                   alice, erin, "unwrap", frame(alice, V_EC, bytes(gcm_flip)), m=m)
    wrong_salt = bytearray(point(eph.public_key()))
    key = ec_wrap_key(eph, erin.enc.public_key(), carol.hash, erin.hash, bytes(wrong_salt))
    body = bytes(wrong_salt) + AESGCM(key).encrypt(b"\x00" * 12, k + c, None)
    payload_vector("ec-hkdf-other-sender", "HKDF salted with H(carol), sent as alice",
                   alice, erin, "unwrap", frame(alice, V_EC, body), m=m)

    identity_vectors(dev)
    attach_vectors()
    # gen_proto.py's proto-* and gen_tlog.py's tlog-* vectors share INDEX: keep their lines.
    index = os.path.join(HERE, "INDEX")
    keep = []
    if os.path.exists(index):
        with open(index) as f:
            keep = [l for l in f.read().split() if l.startswith(("proto-", "tlog-"))]
    with open(index, "w") as f:
        f.write("\n".join(sorted(written + keep)) + "\n")
    print("wrote %d vectors" % len(written), file=sys.stderr)


def identity_vectors(dev):
    for d in dev.values():
        write("identity-" + d.name,
              [("comment", "identity of %s (suite %s)" % (d.name, d.suite)),
               ("kind", "identity"), ("keys", d.name), ("suite", d.suite),
               ("expect", "ok"), ("hash", d.hash.hex())], d.identity)

    alice, bob = dev["alice"], dev["bob"]
    sp = point(alice.sign.public_key())
    rsa_pub = bob.enc.public_key().public_numbers()

    def bad(name, comment, expect, der):
        write("identity-" + name, [("comment", comment), ("kind", "identity"),
                                   ("expect", expect)], der)

    bad("truncated", "bob's identity without its last byte", "truncated", bob.identity[:-1])
    bad("trailing", "bob's identity plus one byte", "trailing", bob.identity + b"\x00")
    bad("outer-tag", "SET instead of SEQUENCE", "format", b"\x31" + alice.identity[1:])
    c1, c2, _ = identity(alice.sign.public_key(), alice.enc.public_key())
    bad("swapped-fields", "[2] before [1]", "format", tlv(0x30, tlv(0x82, c2) + tlv(0x81, c1)))
    bad("long-form-length", "[1] length 69 in long form (not minimal DER)", "format",
        tlv(0x30, b"\x81\x81\x43" + c1 + tlv(0x82, c2)))
    bad("inner-length", "[1] contents claim 64 key bytes, 65 follow", "trailing",
        tlv(0x30, tlv(0x81, u16(64) + sp) + tlv(0x82, c2)))
    off = bytearray(sp)
    off[64] ^= 0x01
    bad("sign-off-curve", "signing point not on P-256", "key_invalid",
        identity_from_fields(bytes(off), point(alice.enc.public_key()))[2])
    bad("enc-off-curve", "ec encryption point not on P-256", "key_invalid",
        identity_from_fields(sp, bytes(off))[2])
    comp = alice.sign.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.CompressedPoint)
    bad("sign-compressed", "compressed signing point", "key_type",
        identity_from_fields(comp, point(alice.enc.public_key()))[2])
    small = rsa.generate_private_key(65537, 1024).public_key()
    bad("rsa-1024", "RSA modulus below 1280 bits", "key_type",
        identity_from_fields(sp, enc_key_bytes(small))[2])
    big_n = (1 << 4096) + 1
    bad("rsa-4097", "RSA modulus above 4096 bits", "key_type",
        identity_from_fields(sp, tlv(0x30, der_int(big_n) + der_int(65537)))[2])
    bad("rsa-even", "even RSA modulus", "key_invalid",
        identity_from_fields(sp, tlv(0x30, der_int(rsa_pub.n + 1) + der_int(65537)))[2])
    n_bytes = rsa_pub.n.to_bytes((rsa_pub.n.bit_length() + 7) // 8, "big")
    bad("rsa-negative", "RSA modulus without its sign octet (negative)", "format",
        identity_from_fields(sp, tlv(0x30, tlv(0x02, n_bytes) + der_int(65537)))[2])
    bad("rsa-trailing", "RSAPublicKey followed by a byte", "trailing",
        identity_from_fields(sp, enc_key_bytes(bob.enc.public_key()) + b"\x00")[2])
    bad("enc-unknown", "encryption key neither a point nor RSAPublicKey", "key_type",
        identity_from_fields(sp, b"\x05" + bytes(64))[2])
    bad("empty", "zero bytes", "truncated", b"")


def attach_vectors():
    key = bytes(range(32))
    iv_for = lambda block: block.to_bytes(16, "big")
    cases = [("attach-aligned", 0, 100), ("attach-unaligned", 37, 70),
             ("attach-high-offset", (1 << 40) + 5, 50),
             ("attach-top-of-u64", (1 << 64) - 40, 40)]
    for name, offset, n in cases:
        pt = bytes((i * 13 + 1) & 0xff for i in range(n))
        # Encrypt the enclosing whole blocks from the block's own counter,
        # then cut out [offset, offset+n): an independent route to the
        # per-offset rule.
        first = offset // 16
        skip = offset % 16
        stream = ctr(key, iv_for(first), b"\x00" * (skip + n))[skip:]
        ct = bytes(a ^ b for a, b in zip(pt, stream))
        write(name, [("comment", "AES-256-CTR at byte offset %d" % offset),
                     ("kind", "attach"), ("key", key.hex()), ("offset", str(offset)),
                     ("plaintext", pt.hex()), ("sha1", hashlib.sha1(ct).hexdigest()),
                     ("sha256", hashlib.sha256(ct).hexdigest()), ("expect", "ok")], ct)


if __name__ == "__main__":
    main()
