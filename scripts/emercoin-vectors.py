#!/usr/bin/python3
"""Emercoin signed-message test vectors from an independent implementation.

Uses Debian's python3-ecdsa (run with /usr/bin/python3; `scripts/setup packages` installs it) and
hashlib, plus BIP173 bech32 and base58check written here from the specifications, so nothing in
hub/emercoin is used to make the vectors the Go code is tested against.

    /usr/bin/python3 scripts/emercoin-vectors.py > hub/emercoin/testdata/signmessage.json

Facts used (reference/emercoin.md §5): magic "EmerCoin Signed Message:\\n"; hash =
SHA256d(varint(25) || magic || varint(len msg) || msg); 65-byte compact signature, header
27 + recid + 4 if compressed, base64; main-net P2PKH version 33, bech32 HRP "em".
"""
import base64
import hashlib
import json
import sys

import ecdsa
from ecdsa.util import sigencode_strings_canonize

MAGIC = b"EmerCoin Signed Message:\n"
BITCOIN_MAGIC = b"Bitcoin Signed Message:\n"
P2PKH = 33
HRP = "em"


def varint(n):
    if n < 253:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def msg_hash(msg, magic=MAGIC):
    return sha256d(varint(len(magic)) + magic + varint(len(msg)) + msg)


def hash160(b):
    r = hashlib.new("ripemd160")
    r.update(hashlib.sha256(b).digest())
    return r.digest()


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58check(payload):
    b = payload + sha256d(payload)[:4]
    n = int.from_bytes(b, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    pad = len(b) - len(b.lstrip(b"\0"))
    return "1" * pad + out


CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def hrp_expand(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def convertbits(data, frombits, tobits):
    acc, bits, ret, maxv = 0, 0, [], (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if bits:
        ret.append((acc << (tobits - bits)) & maxv)
    return ret


def segwit_addr(hrp, witver, prog):
    data = [witver] + convertbits(prog, 8, 5)
    pm = polymod(hrp_expand(hrp) + data + [0] * 6) ^ 1
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in data + chk)


def pub_bytes(vk, compressed):
    return vk.to_string("compressed") if compressed else vk.to_string("uncompressed")


def sign(sk, msg, compressed, magic=MAGIC):
    digest = msg_hash(msg, magic)
    r, s = sk.sign_digest_deterministic(digest, hashfunc=hashlib.sha256, sigencode=sigencode_strings_canonize)
    rs = r + s
    want = pub_bytes(sk.get_verifying_key(), compressed)
    for recid in range(4):
        try:
            cands = ecdsa.VerifyingKey.from_public_key_recovery_with_digest(
                rs, digest, ecdsa.SECP256k1, hashfunc=hashlib.sha256, sigdecode=ecdsa.util.sigdecode_string)
        except Exception:
            continue
        # python-ecdsa returns candidates in recid order (k = 0..); find ours.
        for i, vk in enumerate(cands):
            if pub_bytes(vk, compressed) == want:
                header = 27 + i + (4 if compressed else 0)
                return base64.b64encode(bytes([header]) + rs).decode()
        break
    raise SystemExit("no recovery id found")


def main():
    vectors = []
    messages = [b"", b"hello", b"ness-sms sign-in https://hub.example:8443 challenge 3q2+7w==",
                "Привет, NESS ✓".encode(), b"x" * 300]
    for i in range(6):
        secret = int.from_bytes(hashlib.sha256(b"ness-sms emercoin vector %d" % i).digest(), "big") % ecdsa.SECP256k1.order
        sk = ecdsa.SigningKey.from_secret_exponent(secret, curve=ecdsa.SECP256k1)
        compressed = i != 5  # one uncompressed key: header 27..30 and a different hash160
        pub = pub_bytes(sk.get_verifying_key(), compressed)
        h = hash160(pub)
        msg = messages[i % len(messages)]
        v = {
            "priv": "%064x" % secret,
            "compressed": compressed,
            "pubkey": pub.hex(),
            "p2pkh": b58check(bytes([P2PKH]) + h),
            "p2wpkh": segwit_addr(HRP, 0, h) if compressed else "",
            "message": msg.decode(),
            "hash": msg_hash(msg).hex(),
            "signature": sign(sk, msg, compressed),
            "bitcoin_magic_signature": sign(sk, msg, compressed, BITCOIN_MAGIC),
        }
        vectors.append(v)
    json.dump({"source": "scripts/emercoin-vectors.py, python3-ecdsa " + ecdsa.__version__,
               "vectors": vectors}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
