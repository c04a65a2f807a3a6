// crypto.js: the NESS SMS wire protocol (docs/PROTOCOL.md) in the browser. Keys, sealed boxes,
// canonical signed bytes and their verification, sign-in bytes and key files, exactly as package
// wire does it in Go. It never trusts a "verified" flag from the hub: every message is checked here
// from the exact signed JSON the API returns.
//
// tweetnacl gives Ed25519 (sign/verify, keys from a seed), X25519 and XSalsa20-Poly1305 (nacl.box
// with a precomputed nonce); blakejs gives BLAKE2b for the sealed box nonce. Together they are
// libsodium's crypto_box_seal_open, without WebAssembly (which a strict CSP would have to allow).
import nacl from 'tweetnacl';
import { blake2b } from 'blakejs';

export const KEY_SIZE = 32;
export const SIG_SIZE = 64;
export const SEAL_OVERHEAD = 48;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export const DOMAIN = {
  sms: 'NESS-SMS/v1/sms\0',
  cert: 'NESS-SMS/v1/cert\0',
  lease: 'NESS-SMS/v1/lease\0',
  receipt: 'NESS-SMS/v1/receipt\0',
  status: 'NESS-SMS/v1/status\0',
  signin: 'NESS-SMS/v1/signin\0',
  msgid: 'NESS-SMS/v1/msgid\0',
};

/** ProtocolError names the field that is wrong, like wire.FieldError. */
export class ProtocolError extends Error {
  constructor(kind, field, msg) {
    super(`${kind}: field ${field}: ${msg}`);
    this.kind = kind;
    this.field = field;
  }
}

// ---- encodings ----

/** b64 encodes bytes as padded standard base64. */
export function b64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** unb64 decodes standard or URL base64, padded or not; mixing alphabets or whitespace is an error. */
export function unb64(s, field = 'base64', kind = 'value') {
  if (typeof s !== 'string') throw new ProtocolError(kind, field, 'want a base64 string');
  const std = /[+/]/.test(s), url = /[-_]/.test(s);
  if (std && url) throw new ProtocolError(kind, field, 'mixes the standard and URL base64 alphabets');
  let t = s.replace(/-/g, '+').replace(/_/g, '/');
  const m = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(t);
  if (!m || (m[2] && (t.length % 4) !== 0)) throw new ProtocolError(kind, field, 'bad base64');
  t = m[1];
  if (t.length % 4 === 1) throw new ProtocolError(kind, field, 'bad base64 length');
  while (t.length % 4) t += '=';
  let bin;
  try { bin = atob(t); } catch { throw new ProtocolError(kind, field, 'bad base64'); }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function hex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function unhex(s, field = 'hex', kind = 'value', size = -1) {
  if (typeof s !== 'string' || !/^([0-9a-f]{2})*$/.test(s) || (size >= 0 && s.length !== size * 2)) {
    throw new ProtocolError(kind, field, size >= 0 ? `want ${size * 2} lowercase hex digits` : 'bad hex');
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

export function utf8(s) { return enc.encode(s); }
export function fromUtf8(b) { return dec.decode(b); }

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Canon builds canonical bytes: a domain prefix, then fields big-endian (PROTOCOL.md). */
class Canon {
  constructor(domain) { this.parts = [utf8(domain)]; }
  raw(b) { this.parts.push(b); return this; }
  u8(v) { this.parts.push(Uint8Array.of(v)); return this; }
  u32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v); return this.raw(b); }
  i32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v); return this.raw(b); }
  u64(v) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v)); return this.raw(b); }
  i64(v) { const b = new Uint8Array(8); new DataView(b.buffer).setBigInt64(0, BigInt(v)); return this.raw(b); }
  bool(v) { return this.u8(v ? 1 : 0); }
  bytes(b) { this.u32(b.length); return this.raw(b); }
  str(s) { return this.bytes(utf8(s)); }
  done() { return concat(this.parts); }
}

// ---- keys ----

/** identityFromSeed derives the NESS identity of a 32-byte seed: Ed25519 key pair from the seed
 * and, following PrivatenessTools, the X25519 key pair with the seed itself as secret. */
export function identityFromSeed(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== KEY_SIZE) throw new ProtocolError('key', 'private', 'want 32 bytes');
  const sign = nacl.sign.keyPair.fromSeed(seed);
  const box = nacl.box.keyPair.fromSecretKey(seed);
  return { seed: seed.slice(), signSecret: sign.secretKey, verify: sign.publicKey, public: box.publicKey };
}

export function generateSeed() { return nacl.randomBytes(KEY_SIZE); }

/** agentId is the lowercase hex of the first 16 bytes of SHA-256(Ed25519 key). */
export async function agentId(verify) {
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', verify));
  return hex(h.subarray(0, 16));
}

/** parseKey decodes a 32-byte base64 key, refusing all-zero keys. */
export function parseKey(s, field, kind = 'key') {
  const b = unb64(s, field, kind);
  if (b.length !== KEY_SIZE) throw new ProtocolError(kind, field, `want 32 bytes, got ${b.length}`);
  if (b.every((x) => x === 0)) throw new ProtocolError(kind, field, 'all-zero key');
  return b;
}

/** parsePrivate takes the 32-byte seed or libsodium's 64-byte seed||verify form. */
export function parsePrivate(s, field = 'private', kind = 'key') {
  const b = unb64(s, field, kind);
  if (b.length === 64) {
    const id = identityFromSeed(b.subarray(0, 32));
    if (!equalBytes(id.verify, b.subarray(32))) throw new ProtocolError(kind, field, 'second half does not match the seed\'s verify key');
    return id;
  }
  if (b.length !== KEY_SIZE) throw new ProtocolError(kind, field, `want 32 bytes, got ${b.length}`);
  return identityFromSeed(b);
}

// ---- sealed boxes (crypto_box_seal) ----

function sealNonce(epk, recipientPublic) {
  return blake2b(concat([epk, recipientPublic]), undefined, 24);
}

/** sealOpen opens a libsodium sealed box addressed to identity.public. */
export function sealOpen(box, identity) {
  if (box.length < SEAL_OVERHEAD) throw new ProtocolError('sealed box', 'body', 'shorter than 48 bytes');
  const epk = box.subarray(0, 32);
  const out = nacl.box.open(box.subarray(32), sealNonce(epk, identity.public), epk, identity.seed);
  if (!out) throw new ProtocolError('sealed box', 'body', 'does not open with this key');
  return out;
}

/** seal makes a libsodium sealed box to recipientPublic (tests, and checking our own keys). */
export function seal(plaintext, recipientPublic) {
  const e = nacl.box.keyPair();
  const c = nacl.box(plaintext, sealNonce(e.publicKey, recipientPublic), recipientPublic, e.secretKey);
  return concat([e.publicKey, c]);
}

export function sign(bytes, identity) { return nacl.sign.detached(bytes, identity.signSecret); }
export function verifySig(bytes, sig, verify) {
  return sig.length === SIG_SIZE && verify.length === KEY_SIZE && nacl.sign.detached.verify(bytes, sig, verify);
}

// ---- sign-in ----

/** signInBytes = "NESS-SMS/v1/signin\0" || str origin || bytes challenge (wire.SignInBytes). */
export function signInBytes(origin, challenge) {
  return new Canon(DOMAIN.signin).str(origin).bytes(challenge).done();
}

// ---- strict JSON objects ----

function fields(kind, obj, spec) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ProtocolError(kind, '(object)', 'want a JSON object');
  for (const k of Object.keys(obj)) if (!(k in spec)) throw new ProtocolError(kind, k, 'unknown field');
  const out = {};
  for (const [k, t] of Object.entries(spec)) {
    const optional = t.endsWith('?');
    const type = optional ? t.slice(0, -1) : t;
    const v = obj[k];
    if (v === undefined) {
      if (!optional) throw new ProtocolError(kind, k, 'missing');
      out[k] = type === 'str' ? '' : undefined;
      continue;
    }
    switch (type) {
      case 'int': if (!Number.isSafeInteger(v) || v < 0) throw new ProtocolError(kind, k, 'want a non-negative integer'); break;
      case 'sint': if (!Number.isSafeInteger(v)) throw new ProtocolError(kind, k, 'want an integer'); break;
      case 'str': if (typeof v !== 'string') throw new ProtocolError(kind, k, 'want a string'); break;
      case 'bool': if (typeof v !== 'boolean') throw new ProtocolError(kind, k, 'want true or false'); break;
      case 'array': if (!Array.isArray(v)) throw new ProtocolError(kind, k, 'want an array'); break;
      default: throw new Error('bad spec');
    }
    out[k] = v;
  }
  if (out.v !== undefined && out.v !== 1) throw new ProtocolError(kind, 'v', `unsupported version ${out.v}`);
  return out;
}

function parseJSON(kind, bytesOrText) {
  const text = typeof bytesOrText === 'string' ? bytesOrText : fromUtf8(bytesOrText);
  try { return JSON.parse(text); } catch (e) { throw new ProtocolError(kind, '(json)', `bad JSON: ${e.message}`); }
}

const AGENT_ID = /^[0-9a-f]{32}$/;
function agentIdBytes(kind, field, s) {
  if (!AGENT_ID.test(s)) throw new ProtocolError(kind, field, 'want 32 lowercase hex digits');
  return unhex(s, field, kind, 16);
}
function sigOf(kind, s) {
  const b = unb64(s, 'sig', kind);
  if (b.length !== SIG_SIZE) throw new ProtocolError(kind, 'sig', 'want 64 bytes');
  return b;
}

/** parseSMS decodes the SMS message JSON and returns its fields, canonical bytes and signature. */
export function parseSMS(data) {
  const k = 'sms';
  const j = fields(k, parseJSON(k, data), { v: 'int', id: 'str', agent: 'str', slot: 'int', iccid: 'str', received_ms: 'int',
    lease_seq: 'int', recipient: 'str', body: 'str', sig: 'str' });
  if (j.slot > 256) throw new ProtocolError(k, 'slot', 'at most 256');
  const id = unhex(j.id, 'id', k, 32);
  const agent = agentIdBytes(k, 'agent', j.agent);
  const recipient = parseKey(j.recipient, 'recipient', k);
  const body = unb64(j.body, 'body', k);
  if (body.length < SEAL_OVERHEAD || body.length > 128 << 10) throw new ProtocolError(k, 'body', 'want 48 B … 128 KiB');
  const signed = new Canon(DOMAIN.sms).u8(j.v).raw(id).raw(agent).u32(j.slot).str(j.iccid).i64(j.received_ms)
    .u64(j.lease_seq).raw(recipient).bytes(body).done();
  return { ...j, recipientKey: recipient, bodyBytes: body, signed, sigBytes: sigOf(k, j.sig) };
}

/** parseCert decodes an agent certificate JSON. */
export function parseCert(data) {
  const k = 'certificate';
  const j = fields(k, parseJSON(k, data), { v: 'int', agent: 'str', agent_key: 'str', provider_verify: 'str', provider_public: 'str',
    worm: 'str?', not_before_ms: 'sint', not_after_ms: 'sint', sig: 'str' });
  const agent = agentIdBytes(k, 'agent', j.agent);
  const agentKey = parseKey(j.agent_key, 'agent_key', k);
  const pv = parseKey(j.provider_verify, 'provider_verify', k);
  const pp = parseKey(j.provider_public, 'provider_public', k);
  if (j.not_after_ms <= j.not_before_ms) throw new ProtocolError(k, 'not_after_ms', 'must be after not_before_ms');
  const signed = new Canon(DOMAIN.cert).u8(j.v).raw(agent).raw(agentKey).raw(pv).raw(pp).str(j.worm)
    .i64(j.not_before_ms).i64(j.not_after_ms).done();
  return { ...j, agentKey, providerVerify: pv, providerPublic: pp, signed, sigBytes: sigOf(k, j.sig) };
}

export function parseLease(data) {
  const k = 'lease';
  const j = fields(k, parseJSON(k, data), { v: 'int', iccid: 'str', agent: 'str', renter: 'str', phone: 'str', valid_from_ms: 'sint',
    valid_until_ms: 'sint', seq: 'int', hub: 'str', sig: 'str' });
  const hubKey = parseKey(j.hub, 'hub', k);
  const signed = new Canon(DOMAIN.lease).u8(j.v).str(j.iccid).raw(agentIdBytes(k, 'agent', j.agent)).raw(parseKey(j.renter, 'renter', k))
    .str(j.phone).i64(j.valid_from_ms).i64(j.valid_until_ms).u64(j.seq).raw(hubKey).done();
  return { ...j, hubKey, signed, sigBytes: sigOf(k, j.sig) };
}

export function parseReceipt(data) {
  const k = 'receipt';
  const j = fields(k, parseJSON(k, data), { v: 'int', id: 'str', agent: 'str', received_ms: 'sint', duplicate: 'bool', hub: 'str', sig: 'str' });
  const hubKey = parseKey(j.hub, 'hub', k);
  const signed = new Canon(DOMAIN.receipt).u8(j.v).raw(unhex(j.id, 'id', k, 32)).raw(agentIdBytes(k, 'agent', j.agent))
    .i64(j.received_ms).bool(j.duplicate).raw(hubKey).done();
  return { ...j, hubKey, signed, sigBytes: sigOf(k, j.sig) };
}

/** parseStatus decodes an agent status JSON (all slots, or one). */
export function parseStatus(data) {
  const k = 'status';
  const j = fields(k, parseJSON(k, data), { v: 'int', agent: 'str', time_ms: 'sint', online: 'bool', slots: 'array', sig: 'str' });
  if (j.slots.length > 256) throw new ProtocolError(k, 'slots', 'at most 256');
  const c = new Canon(DOMAIN.status).u8(j.v).raw(agentIdBytes(k, 'agent', j.agent)).i64(j.time_ms).bool(j.online).u32(j.slots.length);
  const slots = j.slots.map((s, i) => {
    const x = fields(`${k} slots[${i}]`, s, { slot: 'int', state: 'str', since_ms: 'sint', signal_dbm: 'sint', registration: 'str',
      operator: 'str', iccid: 'str', imsi_hash: 'str', last_sms_ms: 'sint', received: 'int', published: 'int', errors: 'int',
      resets: 'int', outbox: 'int' });
    c.u32(x.slot).str(x.state).i64(x.since_ms).i32(x.signal_dbm).str(x.registration).str(x.operator).str(x.iccid)
      .str(x.imsi_hash).i64(x.last_sms_ms).u64(x.received).u64(x.published).u64(x.errors).u64(x.resets).u32(x.outbox);
    return x;
  });
  return { ...j, slots, signed: c.done(), sigBytes: sigOf(k, j.sig) };
}

/** parsePlaintext decodes the sealed plaintext JSON of an SMS. */
export function parsePlaintext(data) {
  const k = 'plaintext';
  const j = fields(k, parseJSON(k, data), { v: 'int', sender: 'str', text: 'str', data: 'str?', smsc_time: 'str', parts: 'int',
    parts_expected: 'int', flags: 'array', encoding: 'str' });
  for (const f of j.flags) if (!['incomplete', '8bit', 'flash', 'no_lease'].includes(f)) throw new ProtocolError(k, 'flags', `unknown flag ${String(f)}`);
  if (!['gsm7', 'ucs2', '8bit'].includes(j.encoding)) throw new ProtocolError(k, 'encoding', 'want gsm7, ucs2 or 8bit');
  return j;
}

/**
 * verifyMessage checks an SMS the hub served, trusting the hub with nothing: the certificate's
 * provider signature and validity at the message's receive time, that the certificate is for the
 * agent that signed (agent id = SHA-256 of its key), the agent's signature over the canonical bytes,
 * that it is sealed to this identity; then it opens the body. Throws ProtocolError on any failure.
 */
export async function verifyMessage(signedJSON, certJSON, identity) {
  const m = parseSMS(signedJSON);
  const c = parseCert(certJSON);
  if (!verifySig(c.signed, c.sigBytes, c.providerVerify)) throw new ProtocolError('certificate', 'sig', 'provider signature does not verify');
  if (await agentId(c.agentKey) !== c.agent) throw new ProtocolError('certificate', 'agent', 'is not the agent id of agent_key');
  if (c.agent !== m.agent) throw new ProtocolError('sms', 'agent', `signed by agent ${m.agent}, certificate is for ${c.agent}`);
  if (m.received_ms < c.not_before_ms || m.received_ms >= c.not_after_ms) throw new ProtocolError('certificate', 'not_after_ms', 'not valid when the message was received');
  if (!verifySig(m.signed, m.sigBytes, c.agentKey)) throw new ProtocolError('sms', 'sig', 'agent signature does not verify');
  if (!equalBytes(m.recipientKey, identity.public)) throw new ProtocolError('sms', 'recipient', 'sealed to another key');
  const plaintext = parsePlaintext(sealOpen(m.bodyBytes, identity));
  return { sms: m, cert: c, plaintext };
}

// ---- key files ----

/** keyFileJSON is the ness-key export of an identity (PROTOCOL.md "Key files"). */
export async function keyFileJSON(identity, name, kind = 'renter', created = new Date()) {
  const o = { format: 'ness-key', version: 1, kind, name, private: b64(identity.seed), verify: b64(identity.verify),
    public: b64(identity.public), agent_id: await agentId(identity.verify), created: created.toISOString().replace(/\.\d{3}Z$/, 'Z') };
  if (!name) delete o.name;
  return JSON.stringify(o, null, 2) + '\n';
}

function keysFrom(kind, prefix, priv, verify, pub) {
  if (!priv) throw new ProtocolError(kind, prefix + 'private', 'missing: the dashboard imports keys that can sign in');
  const id = parsePrivate(priv, prefix + 'private', kind);
  if (verify && !equalBytes(parseKey(verify, prefix + 'verify', kind), id.verify)) throw new ProtocolError(kind, prefix + 'verify', `does not match the key derived from ${prefix}private`);
  if (pub && !equalBytes(parseKey(pub, prefix + 'public', kind), id.public)) throw new ProtocolError(kind, prefix + 'public', `does not match the key derived from ${prefix}private`);
  return id;
}

/** parseKeyFile reads a ness-key file or a PrivatenessTools user, users or node key file and
 * returns { identity, name, source }. Files without a private key are refused (nothing to sign in with). */
export async function parseKeyFile(text) {
  if (text.length > 1 << 20) throw new ProtocolError('key file', '(size)', 'larger than 1 MiB');
  const o = parseJSON('key file', text);
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new ProtocolError('key file', '(object)', 'want a JSON object');
  if (o.filedata !== undefined && o.format === undefined) {
    const k = 'privateness key file';
    const fd = o.filedata || {};
    if (fd.vendor !== 'Privateness' || fd.type !== 'key') throw new ProtocolError(k, 'filedata', 'want vendor Privateness, type key');
    if (fd.for === 'user' && o.users) {
      const u = o.users[o.current];
      if (!u) throw new ProtocolError(k, 'current', `user ${JSON.stringify(o.current)} is not in users`);
      return { identity: keysFrom(k, `users.${o.current}.`, u.private, u.verify, u.public), name: String(o.current), source: 'privateness-users' };
    }
    if (fd.for === 'user') return { identity: keysFrom(k, '', o.private, o.verify, o.public), name: String(o.username || ''), source: 'privateness-user' };
    if (fd.for === 'node') {
      const ks = o.keys || {};
      return { identity: keysFrom(k, 'keys.', ks.private, ks.verify, ks.public), name: String(o.url || ''), source: 'privateness-node' };
    }
    throw new ProtocolError(k, 'filedata.for', 'only user and node key files hold identities');
  }
  const k = 'key file';
  const j = fields(k, o, { format: 'str', version: 'int', kind: 'str?', name: 'str?', private: 'str?', verify: 'str?', public: 'str?',
    agent_id: 'str?', created: 'str?' });
  if (j.format !== 'ness-key') throw new ProtocolError(k, 'format', 'want "ness-key"');
  if (j.version !== 1) throw new ProtocolError(k, 'version', `unsupported version ${j.version}`);
  const identity = keysFrom(k, '', j.private, j.verify, j.public);
  if (j.agent_id && j.agent_id !== await agentId(identity.verify)) throw new ProtocolError(k, 'agent_id', 'does not match the verify key');
  return { identity, name: j.name, source: 'ness-key' };
}
