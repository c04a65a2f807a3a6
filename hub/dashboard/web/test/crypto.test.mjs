// Checks web/src/crypto.js against the protocol's test vectors: wire/testdata/vectors.json (made by
// Go) and wire/testdata/libsodium.json (made by PyNaCl). Run by `npm test` and by the Go test
// TestCryptoVectors in package dashboard.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as c from '../src/crypto.js';

const root = new URL('../../../../', import.meta.url);
const vectors = JSON.parse(readFileSync(new URL('wire/testdata/vectors.json', root)));
const sodium = JSON.parse(readFileSync(new URL('wire/testdata/libsodium.json', root)));
const ids = Object.fromEntries(vectors.identities.map((i) => [i.name, i]));

test('identities: seed -> verify, public, agent id (PrivatenessTools derivation)', async () => {
  assert.ok(vectors.identities.length >= 5);
  for (const v of vectors.identities) {
    const id = c.identityFromSeed(c.unb64(v.seed));
    assert.equal(c.b64(id.verify), v.verify, `${v.name} verify`);
    assert.equal(c.b64(id.public), v.public, `${v.name} public`);
    assert.equal(await c.agentId(id.verify), v.agent_id, `${v.name} agent id`);
  }
  const ls = c.identityFromSeed(c.unb64(sodium.seed));
  assert.equal(c.b64(ls.verify), sodium.verify);
  assert.equal(c.b64(ls.public), sodium.public);
});

const parsers = { sms: c.parseSMS, cert: c.parseCert, lease: c.parseLease, receipt: c.parseReceipt, status: c.parseStatus };

test('canonical bytes and signatures of every message kind', () => {
  const seen = new Set();
  for (const m of vectors.messages) {
    seen.add(m.kind);
    const signer = c.unb64(ids[m.signer].verify);
    let signed;
    if (m.kind === 'signin') signed = c.signInBytes(m.origin, c.unhex(m.challenge));
    else {
      const p = parsers[m.kind](JSON.stringify(m.json));
      signed = p.signed;
      assert.equal(c.b64(p.sigBytes), m.sig, `${m.kind} sig field`);
    }
    assert.equal(c.hex(signed), m.signed_hex, `${m.kind} canonical bytes`);
    assert.ok(c.verifySig(signed, c.unb64(m.sig), signer), `${m.kind} signature verifies`);
    const bad = signed.slice(); bad[bad.length - 1] ^= 1;
    assert.ok(!c.verifySig(bad, c.unb64(m.sig), signer), `${m.kind} signature over a changed byte must fail`);
  }
  assert.deepEqual([...seen].sort(), ['cert', 'lease', 'receipt', 'signin', 'sms', 'status']);
});

test('sign-in signature is deterministic Ed25519 equal to the vector', () => {
  const m = vectors.messages.find((x) => x.kind === 'signin');
  const id = c.identityFromSeed(c.unb64(ids[m.signer].seed));
  assert.equal(c.b64(c.sign(c.signInBytes(m.origin, c.unhex(m.challenge)), id)), m.sig);
});

test('sealed boxes made by Go and by libsodium open; tampered ones do not', () => {
  for (const bx of vectors.boxes) {
    const id = c.identityFromSeed(c.unb64(ids[bx.recipient].seed));
    assert.equal(c.b64(c.sealOpen(c.unb64(bx.box), id)), bx.plaintext);
  }
  const ls = c.identityFromSeed(c.unb64(sodium.seed));
  assert.ok(sodium.boxes.length >= 3);
  for (const bx of sodium.boxes) {
    const box = c.unb64(bx.box);
    assert.equal(c.b64(c.sealOpen(box, ls)), bx.plaintext);
    const bad = box.slice(); bad[40] ^= 1;
    assert.throws(() => c.sealOpen(bad, ls), /does not open/);
  }
  const other = c.identityFromSeed(c.generateSeed());
  assert.throws(() => c.sealOpen(c.unb64(sodium.boxes[1].box), other), /does not open/);
  const mine = c.seal(c.utf8('round trip'), ls.public);
  assert.equal(c.fromUtf8(c.sealOpen(mine, ls)), 'round trip');
});

test('libsodium signatures verify', () => {
  const v = c.unb64(sodium.verify);
  for (const s of sodium.signatures) assert.ok(c.verifySig(c.unhex(s.message_hex), c.unb64(s.sig), v));
});

test('verifyMessage: the vector SMS under the vector certificate opens for the renter', async () => {
  const sms = vectors.messages.find((x) => x.kind === 'sms').json;
  const cert = vectors.messages.find((x) => x.kind === 'cert').json;
  const renter = c.identityFromSeed(c.unb64(ids.renter.seed));
  const r = await c.verifyMessage(JSON.stringify(sms), JSON.stringify(cert), renter);
  assert.equal(r.plaintext.sender, '+447700900123');
  assert.match(r.plaintext.text, /482913/);
  // Every check must be able to fail.
  const cases = [
    ['sms', { ...sms, slot: sms.slot + 1 }, cert, renter, /agent signature/],
    ['sms', { ...sms, sig: cert.sig }, cert, renter, /agent signature/],
    ['cert', sms, { ...cert, not_after_ms: cert.not_after_ms + 1 }, renter, /provider signature/],
    ['cert', sms, { ...cert, not_before_ms: sms.received_ms + 1, sig: cert.sig }, renter, /provider signature/],
    ['recipient', sms, cert, c.identityFromSeed(c.unb64(ids.provider.seed)), /sealed to another key/],
    ['unknown field', { ...sms, verified: true }, cert, renter, /unknown field/],
  ];
  for (const [name, s, ce, who, want] of cases) {
    await assert.rejects(c.verifyMessage(JSON.stringify(s), JSON.stringify(ce), who), want, name);
  }
});

test('libsodium-made SMS verifies and opens', async () => {
  const ls = c.identityFromSeed(c.unb64(sodium.seed));
  for (const s of sodium.sms) {
    const p = c.parseSMS(JSON.stringify(s));
    assert.equal(p.sig, s.sig);
    const pt = c.sealOpen(p.bodyBytes, ls);
    assert.ok(c.parsePlaintext(pt).v === 1);
  }
});

test('base64 rules: both alphabets, padding optional, no mixing, no whitespace', () => {
  const seed = ids.privateness.seed;
  const url = seed.replace(/\+/g, '-').replace(/\//g, '_');
  assert.deepEqual(c.unb64(url.replace(/=+$/, '')), c.unb64(seed));
  assert.throws(() => c.unb64('ab+_'), /mixes/);
  assert.throws(() => c.unb64('ab cd'), /bad base64/);
  assert.throws(() => c.parseKey('AAAA', 'verify'), /32 bytes/);
  assert.throws(() => c.parseKey(c.b64(new Uint8Array(32)), 'verify'), /all-zero/);
});

test('key files: ness-key round trip, PrivatenessTools user, users and node files', async () => {
  const p = ids.privateness;
  const id = c.identityFromSeed(c.unb64(p.seed));
  const kf = await c.keyFileJSON(id, 'me', 'renter', new Date('2026-05-01T12:00:00Z'));
  const o = JSON.parse(kf);
  assert.equal(o.format, 'ness-key'); assert.equal(o.created, '2026-05-01T12:00:00Z'); assert.equal(o.agent_id, p.agent_id);
  assert.equal(c.b64((await c.parseKeyFile(kf)).identity.verify), p.verify);
  const fd = (f) => ({ vendor: 'Privateness', type: 'key', for: f });
  const user = { filedata: fd('user'), username: 'alice', private: p.seed, public: p.public, verify: p.verify };
  const users = { filedata: fd('user'), current: 'bob', users: { bob: { username: 'bob', private: p.seed, public: p.public, verify: p.verify } } };
  const node = { filedata: fd('node'), url: 'https://node.example', keys: { private: p.seed, public: p.public, verify: p.verify } };
  for (const [doc, name, source] of [[user, 'alice', 'privateness-user'], [users, 'bob', 'privateness-users'], [node, 'https://node.example', 'privateness-node']]) {
    const r = await c.parseKeyFile(JSON.stringify(doc));
    assert.equal(c.b64(r.identity.public), p.public, source);
    assert.equal(r.name, name); assert.equal(r.source, source);
  }
  await assert.rejects(c.parseKeyFile(JSON.stringify({ ...user, public: ids.agent.public })), /does not match/);
  await assert.rejects(c.parseKeyFile(JSON.stringify({ ...o, agent_id: ids.agent.agent_id })), /agent_id/);
  await assert.rejects(c.parseKeyFile(JSON.stringify({ ...o, extra: 1 })), /unknown field/);
  await assert.rejects(c.parseKeyFile(JSON.stringify({ ...o, version: 2 })), /unsupported version/);
  const full = new Uint8Array(64); full.set(id.seed); full.set(id.verify, 32);
  assert.equal(c.b64(c.parsePrivate(c.b64(full)).public), p.public);
});
