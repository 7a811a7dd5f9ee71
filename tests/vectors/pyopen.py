#!/usr/bin/python3
"""pyopen.py - opens a sealbox payload with the independent implementation.

    pyopen.py ENCRYPT_PEM RECIPIENT_IDENTITY SENDER_IDENTITY PAYLOAD

Writes the plaintext to stdout and exits 0, or prints one line naming the
failed check and exits 1.  Built on gen.py's reading of docs/PROTOCOL.md and
Python's `cryptography`, never on sealbox's C code, so
tests/integration/codec_cli.sh can check that what `sealbox seal` writes is
the specified format, for both suites.
"""
import hashlib
import hmac
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

from cryptography.exceptions import InvalidSignature, InvalidTag  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402


def der_tlv(buf, off, tag):
    if buf[off] != tag:
        raise ValueError("tag")
    n = buf[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(buf[off:off + k], "big")
        off += k
    return buf[off:off + n], off + n


def identity(der):
    seq, end = der_tlv(der, 0, 0x30)
    if end != len(der):
        raise ValueError("trailing")
    c1, off = der_tlv(seq, 0, 0x81)
    c2, off = der_tlv(seq, off, 0x82)
    k1 = c1[2:]
    k2 = c2[2:]
    sign = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), k1)
    if len(k2) == 65 and k2[0] == 4:
        enc, suite = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), k2), "ec"
    else:
        enc, suite = serialization.load_der_public_key(
            gen.tlv(0x30, gen.tlv(0x30, bytes.fromhex("06092a864886f70d0101010500")) +
                    gen.tlv(0x03, b"\x00" + k2))), "pair"
    return {"sign": sign, "enc": enc, "suite": suite,
            "hash": hashlib.sha256(c1 + c2).digest()}


def fail(why):
    print("pyopen: " + why, file=sys.stderr)
    sys.exit(1)


def main():
    key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
    r = identity(open(sys.argv[2], "rb").read())
    s = identity(open(sys.argv[3], "rb").read())
    p = open(sys.argv[4], "rb").read()
    if p[0] != (gen.V_EC if r["suite"] == "ec" else gen.V_PAIR):
        fail("version")
    blen = int.from_bytes(p[1:3], "big")
    body = p[3:3 + blen]
    slen = p[3 + blen]
    sig = p[4 + blen:]
    if len(body) != blen or len(sig) != slen:
        fail("lengths")
    try:
        s["sign"].verify(sig, body, ec.ECDSA(hashes.SHA1()))
    except InvalidSignature:
        fail("signature")
    if r["suite"] == "pair":
        k = key.key_size // 8
        kc = key.decrypt(body[:k], gen.OAEP)
        rest = body[k:]
    else:
        n0 = min(100, blen - 97)
        eph = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), body[:65])
        wk = gen.ec_wrap_key(key, eph, s["hash"], r["hash"], body[:65])
        try:
            kc = AESGCM(wk).decrypt(b"\x00" * 12, body[65:97 + n0], None)
        except InvalidTag:
            fail("unwrap")
        rest = body[97 + n0:]
    K, c = kc[:16], kc[16:] + rest
    m = gen.ctr(K, gen.CTR_IV, c)
    tag = hmac.new(K[:11], m + b"\x02" + s["hash"] + r["hash"], hashlib.sha256).digest()[:5]
    if not hmac.compare_digest(tag, K[11:]):
        fail("tag")
    sys.stdout.buffer.write(m)


if __name__ == "__main__":
    main()
