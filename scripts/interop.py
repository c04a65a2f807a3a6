#!/usr/bin/python3
"""Independent check of the NESS SMS wire protocol with libsodium (Debian's python3-nacl).

Nothing here imports Go code: canonical bytes are rebuilt from docs/PROTOCOL.md, so a mismatch
means the Go side and the document disagree.

  interop.py check-vectors wire/testdata/vectors.json   keys, message id, canonical bytes,
                                                        signatures and boxes of the Go vectors
  interop.py generate OUT.json                          libsodium-sealed boxes, libsodium
                                                        signatures and a Python-built signed SMS
  interop.py seal   --pub-b64 PUB  --in F --out F.enc   crypto_box_seal
  interop.py open   --seed-b64 S   --in F.enc --out F   crypto_box_seal_open
  interop.py sign   --seed-b64 S   --in F --out F.sig   crypto_sign_detached
  interop.py verify --pub-b64 PUB  --in F --sig F.sig   exit 0 only if valid
  interop.py keyfile-seed FILE                          print the b64 seed of a ness key file

Exit status: 0 on success, 1 on any mismatch or failure, 2 on bad usage.
"""
import argparse
import base64
import hashlib
import json
import struct
import sys

try:
    import nacl.bindings
    import nacl.exceptions
    import nacl.public
    import nacl.signing
except ImportError:
    sys.exit("interop.py: PyNaCl is missing; run scripts/setup (Debian package python3-nacl)")

DOMAIN = {k: ("NESS-SMS/v1/%s\x00" % k).encode() for k in
          ("sms", "cert", "lease", "receipt", "status", "signin", "msgid")}


def b64d(s):
    """Decode base64 in the standard or URL alphabet, padded or not."""
    s = s.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(s + "=" * (-len(s) % 4), validate=True)


def b64e(b):
    return base64.b64encode(b).decode()


def u8(v):
    return struct.pack(">B", v)


def u32(v):
    return struct.pack(">I", v)


def i32(v):
    return struct.pack(">i", v)


def u64(v):
    return struct.pack(">Q", v)


def i64(v):
    return struct.pack(">q", v)


def var(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def identity(seed):
    sk = nacl.signing.SigningKey(seed)
    box = nacl.public.PrivateKey(seed)  # PrivatenessTools: the seed is also the X25519 secret
    return sk, bytes(sk.verify_key), bytes(box.public_key), box


def agent_id(verify):
    return hashlib.sha256(verify).digest()[:16].hex()


def message_id(agent, iccid, parts):
    h = hashlib.sha256()
    h.update(DOMAIN["msgid"] + bytes.fromhex(agent) + var(iccid))
    for p in parts:
        h.update(u32(len(p)) + p)
    return h.hexdigest()


def canonical(kind, m):
    """Canonical signed bytes of a message's JSON transport form (docs/PROTOCOL.md)."""
    if kind == "sms":
        return (DOMAIN["sms"] + u8(m["v"]) + bytes.fromhex(m["id"]) + bytes.fromhex(m["agent"]) +
                u32(m["slot"]) + var(m["iccid"]) + i64(m["received_ms"]) + u64(m["lease_seq"]) +
                b64d(m["recipient"]) + var(b64d(m["body"])))
    if kind == "cert":
        return (DOMAIN["cert"] + u8(m["v"]) + bytes.fromhex(m["agent"]) + b64d(m["agent_key"]) +
                b64d(m["provider_verify"]) + b64d(m["provider_public"]) + var(m.get("worm", "")) +
                i64(m["not_before_ms"]) + i64(m["not_after_ms"]))
    if kind == "lease":
        return (DOMAIN["lease"] + u8(m["v"]) + var(m["iccid"]) + bytes.fromhex(m["agent"]) +
                b64d(m["renter"]) + var(m["phone"]) + i64(m["valid_from_ms"]) +
                i64(m["valid_until_ms"]) + u64(m["seq"]) + b64d(m["hub"]))
    if kind == "receipt":
        return (DOMAIN["receipt"] + u8(m["v"]) + bytes.fromhex(m["id"]) + bytes.fromhex(m["agent"]) +
                i64(m["received_ms"]) + u8(1 if m["duplicate"] else 0) + b64d(m["hub"]))
    if kind == "status":
        out = (DOMAIN["status"] + u8(m["v"]) + bytes.fromhex(m["agent"]) + i64(m["time_ms"]) +
               u8(1 if m["online"] else 0) + u32(len(m["slots"])))
        for s in m["slots"]:
            out += (u32(s["slot"]) + var(s["state"]) + i64(s["since_ms"]) + i32(s["signal_dbm"]) +
                    var(s["registration"]) + var(s["operator"]) + var(s["iccid"]) +
                    var(s["imsi_hash"]) + i64(s["last_sms_ms"]) + u64(s["received"]) +
                    u64(s["published"]) + u64(s["errors"]) + u64(s["resets"]) + u32(s["outbox"]))
        return out
    raise ValueError("unknown kind %r" % kind)


def signin_bytes(origin, challenge):
    return DOMAIN["signin"] + var(origin) + var(challenge)


def verify_sig(verify, msg, sig):
    try:
        nacl.signing.VerifyKey(verify).verify(msg, sig)
        return True
    except nacl.exceptions.BadSignatureError:
        return False


class Checker:
    def __init__(self):
        self.failures = 0
        self.checks = 0

    def ok(self, cond, what):
        self.checks += 1
        if not cond:
            self.failures += 1
            print("MISMATCH: " + what, file=sys.stderr)


def check_vectors(path):
    with open(path) as f:
        v = json.load(f)
    c = Checker()
    ids = {}
    for vi in v["identities"]:
        sk, verify, public, box = identity(b64d(vi["seed"]))
        c.ok(b64e(verify) == vi["verify"], "identity %s: verify key" % vi["name"])
        c.ok(b64e(public) == vi["public"], "identity %s: X25519 public key" % vi["name"])
        c.ok(agent_id(verify) == vi["agent_id"], "identity %s: agent id" % vi["name"])
        ids[vi["name"]] = (sk, verify, public, box)
    mi = v["message_id"]
    c.ok(message_id(mi["agent_id"], mi["iccid"], [bytes.fromhex(p) for p in mi["parts_hex"]]) == mi["id"],
         "message id")
    for m in v["messages"]:
        sk, verify = ids[m["signer"]][0], ids[m["signer"]][1]
        if m["kind"] == "signin":
            signed = signin_bytes(m["origin"], bytes.fromhex(m["challenge"]))
        else:
            signed = canonical(m["kind"], m["json"])
        c.ok(signed.hex() == m["signed_hex"], "%s: canonical bytes rebuilt from JSON differ" % m["kind"])
        sig = b64d(m["sig"])
        c.ok(verify_sig(verify, bytes.fromhex(m["signed_hex"]), sig), "%s: signature does not verify" % m["kind"])
        c.ok(bytes(sk.sign(signed).signature) == sig, "%s: libsodium signature differs" % m["kind"])
        if m["kind"] == "sms":
            c.ok(m["json"]["id"] == mi["id"], "sms: id is not the message id vector")
    for b in v["boxes"]:
        box = ids[b["recipient"]][3]
        try:
            plain = nacl.public.SealedBox(box).decrypt(b64d(b["box"]))
            c.ok(plain == b64d(b["plaintext"]), "box to %s: wrong plaintext" % b["recipient"])
        except nacl.exceptions.CryptoError:
            c.ok(False, "box to %s does not open" % b["recipient"])
    print("interop.py: %d checks of %s, %d mismatches" % (c.checks, path, c.failures))
    return 1 if c.failures else 0


def generate(out):
    """Vectors made by libsodium for the Go side (wire TestLibsodiumVectors)."""
    seed = bytes(range(0x20, 0x40))
    sk, verify, public, _ = identity(seed)
    pk = nacl.public.PublicKey(public)
    texts = [b"", b"hello from libsodium", "Ünïcödé ✓ 🚀".encode(), bytes(range(256))]
    boxes = [{"box": b64e(nacl.public.SealedBox(pk).encrypt(t)), "plaintext": b64e(t)} for t in texts]
    msgs = [b"raw bytes signed by libsodium", b"", bytes(range(200))]
    sigs = [{"message_hex": m.hex(), "sig": b64e(sk.sign(m).signature)} for m in msgs]
    # A whole SMS built and signed here, sealed to the same identity (its own provider key).
    agent = agent_id(verify)
    iccid = "8944501234567890123"
    parts = [bytes.fromhex("0791447728000000f0"), bytes.fromhex("0791447701")]
    plaintext = json.dumps({"v": 1, "sender": "+447700900123", "text": "built by PyNaCl",
                            "smsc_time": "2026-05-01T13:30:10+01:00", "parts": 2,
                            "parts_expected": 2, "flags": ["no_lease"], "encoding": "gsm7"},
                           separators=(",", ":")).encode()
    sms = {"v": 1, "id": message_id(agent, iccid, parts), "agent": agent, "slot": 5, "iccid": iccid,
           "received_ms": 1777638615123, "lease_seq": 0, "recipient": b64e(public),
           "body": b64e(nacl.public.SealedBox(pk).encrypt(plaintext))}
    sms["sig"] = b64e(sk.sign(canonical("sms", sms)).signature)
    doc = {"comment": "made by scripts/interop.py generate with PyNaCl %s (libsodium); boxes are "
                      "random, so each run differs" % nacl.__version__,
           "seed": b64e(seed), "verify": b64e(verify), "public": b64e(public),
           "boxes": boxes, "signatures": sigs, "sms": [sms]}
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    return 0


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check-vectors").add_argument("file")
    sub.add_parser("generate").add_argument("out")
    sub.add_parser("keyfile-seed").add_argument("file")
    for name, keyflag, extra in (("seal", "--pub-b64", "--out"), ("open", "--seed-b64", "--out"),
                                 ("sign", "--seed-b64", "--out"), ("verify", "--pub-b64", "--sig")):
        sp = sub.add_parser(name)
        sp.add_argument(keyflag, required=True)
        sp.add_argument("--in", dest="inp", required=True)
        sp.add_argument(extra, required=True)
    a = p.parse_args(argv)
    if a.cmd == "check-vectors":
        return check_vectors(a.file)
    if a.cmd == "generate":
        return generate(a.out)
    if a.cmd == "keyfile-seed":
        with open(a.file) as f:
            print(json.load(f)["private"])
        return 0
    if a.cmd == "seal":
        write(a.out, nacl.public.SealedBox(nacl.public.PublicKey(b64d(a.pub_b64))).encrypt(read(a.inp)))
        return 0
    if a.cmd == "open":
        try:
            write(a.out, nacl.public.SealedBox(nacl.public.PrivateKey(b64d(a.seed_b64))).decrypt(read(a.inp)))
        except nacl.exceptions.CryptoError:
            print("interop.py open: sealed box does not open", file=sys.stderr)
            return 1
        return 0
    if a.cmd == "sign":
        write(a.out, nacl.signing.SigningKey(b64d(a.seed_b64)).sign(read(a.inp)).signature)
        return 0
    if a.cmd == "verify":
        if verify_sig(b64d(a.pub_b64), read(a.inp), read(a.sig)):
            return 0
        print("interop.py verify: signature does NOT verify", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
