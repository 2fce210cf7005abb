// End-to-end encryption of Sealdesk's chat, protocol v2 (docs/PROTOCOL.md, Part 1).
//
// sealdesk_client/protocol.py implements the same protocol name for name (snake_case there); both
// are checked against tests/vectors/protocol-v2.json. Something received that the protocol refuses
// throws ProtocolError with the spec's code; a mistake of the caller throws TypeError.
// Private keys are non-extractable WebCrypto keys where the platform has Ed25519 and X25519, and
// tweetnacl keys otherwise (`backend`, `useBackend`: JavaScript only).
import nacl from "../vendor/tweetnacl/nacl-fast.mjs";

export const BLOCK = 256;
export const MAX_PLAINTEXT = 16384;
export const MAX_BODY = 8000;
export const MAX_NAME = 255;
export const MAX_CHUNK = 4194304;
export const CHUNK_SIZE = 4194304;
const MAX_CHUNKS = 2 ** 32;
export const ROLES = Object.freeze(["customer", "agent", "supervisor"]);
export const FIELDS = Object.freeze({
  prechat: Object.freeze(["name", "email", "question", "sent_at"]),
  text: Object.freeze(["body", "sent_at"]),
  close: Object.freeze(["sent_at"]),
  leave: Object.freeze(["sent_at"]),
  barge: Object.freeze(["sent_at"]),
  note: Object.freeze(["body", "sent_at"]),
  receipt: Object.freeze(["state", "sent_at"]),
  rating_comment: Object.freeze(["body", "sent_at"]), // once the chat closed (docs/PROTOCOL.md)
  file: Object.freeze([
    "file",
    "name",
    "mime",
    "size",
    "chunk_size",
    "chunks",
    "key",
    "prefix",
    "hash",
    "sent_at",
  ]),
});

const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
const CONVERSATION = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// An upload's id is a UUID too; it goes into URLs, so nothing else may pass for one.
const FILE_ID = CONVERSATION;
const DEVICE = /^[0-9a-f]{32}$/;
const HASH = /^[0-9a-f]{128}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;
export const RECEIPTS = Object.freeze(["delivered", "read"]);
// The scope of what only staff devices read: staff keys' wraps and the messages sealed under
// them (docs/PROTOCOL.md, "Staff-only messages"), whose plaintexts are of these types alone.
export const STAFF = "staff";
export const STAFF_TYPES = Object.freeze(["note"]);

// Whether DATA names the staff scope; any other scope is refused as CODE.
function scope(data, code) {
  const isObject = data !== null && typeof data === "object" && !Array.isArray(data);
  if (!isObject || !Object.hasOwn(data, "scope")) return false;
  if (data.scope !== STAFF) refuse(code);
  return true;
}

/** Refuse something received, naming the check of docs/PROTOCOL.md that it failed. */
export class ProtocolError extends Error {
  constructor(code) {
    super(code);
    this.name = "ProtocolError";
    this.code = code;
  }
}

function refuse(code) {
  throw new ProtocolError(code);
}

// Encodings (docs/PROTOCOL.md, "Primitives").

const encoder = new TextEncoder();
// Strict UTF-8 that keeps a byte order mark, so that JSON.parse refuses it as Python's json does.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8 = (text) => encoder.encode(text);
// Browsers have base64 and hex built in (Chromium since 140), several times faster over a long
// history; node 20, which runs the tests, has not, and takes the portable spelling.
const NATIVE = typeof Uint8Array.prototype.toBase64 === "function";
const hex = NATIVE ? (bytes) => bytes.toHex() : (bytes) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
const fromHex = (text) => Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
const isBytes = (value, size) => value instanceof Uint8Array && value.length === size;

function concat(...parts) {
  const joined = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function b64(bytes) {
  if (NATIVE) return bytes.toBase64();
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function unb64(value, size, code) {
  // Only the canonical spelling is accepted, so that every implementation reads the same bytes.
  if (typeof value !== "string") refuse(code);
  let bytes;
  try {
    bytes = NATIVE ? Uint8Array.fromBase64(value) : Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  } catch {
    refuse(code);
  }
  if (b64(bytes) !== value || (size !== null && bytes.length !== size)) refuse(code);
  return bytes;
}

function integer(value, minimum, code) {
  // 2**53 - 1 is the most JavaScript holds exactly; Python refuses more too.
  if (!Number.isSafeInteger(value) || value < minimum) refuse(code);
  return value;
}

function string(value, pattern, code) {
  if (typeof value !== "string" || !pattern.test(value)) refuse(code);
  return value;
}

function fields(data, names, code) {
  const isObject = data !== null && typeof data === "object" && !Array.isArray(data);
  if (!isObject || Object.keys(data).length !== names.length) refuse(code);
  if (!names.every((name) => Object.hasOwn(data, name))) refuse(code);
  return data;
}

function checkContext(tenant, conversation) {
  if (!TENANT.test(tenant) || !CONVERSATION.test(conversation)) {
    throw new TypeError("the tenant or conversation id is not one the protocol allows");
  }
}

// Primitives: WebCrypto where it has Ed25519 and X25519, else tweetnacl; the same bytes either way.

const SIGMA = utf8("expand 32-byte k");
const PKCS8 = {
  Ed25519: fromHex("302e020100300506032b657004220420"),
  X25519: fromHex("302e020100300506032b656e04220420"),
};
const random = (size) => crypto.getRandomValues(new Uint8Array(size));
let chosen = null;

async function detect() {
  try {
    await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
    return "webcrypto";
  } catch {
    return "tweetnacl";
  }
}

/** Return "webcrypto" or "tweetnacl", the keys this platform uses (detected once). */
export function backend() {
  chosen ??= detect();
  return chosen;
}

/** Use NAME ("webcrypto" or "tweetnacl") from now on, or detect again when NAME is null. */
export function useBackend(name) {
  if (name !== null && name !== "webcrypto" && name !== "tweetnacl") {
    throw new TypeError("the backend is webcrypto or tweetnacl");
  }
  chosen = name === null ? null : Promise.resolve(name);
}

async function sign(device, text) {
  const { kind, sign: key } = device.secrets;
  if (kind === "webcrypto") return new Uint8Array(await crypto.subtle.sign("Ed25519", key, text));
  return nacl.sign.detached(text, key);
}

// S must lie below the group order, as in libsodium and RFC 8032; tweetnacl does not check it, and
// would accept a second signature S + L for every message (docs/PROTOCOL.md, "Primitives").
function canonical(sig) {
  const order = nacl.lowlevel.L;
  for (let i = 31; i >= 0; i--) {
    if (sig[32 + i] !== order[i]) return sig[32 + i] < order[i];
  }
  return false;
}

// The encodings of the eight points of small order, the sign bit cleared, and of 0 and 1 written
// as p and p + 1: libsodium refuses them as a public key or as a signature's R, and so must we,
// or the signature R = identity, S = 0 would verify under the identity key for every text
// (docs/PROTOCOL.md, "Primitives"). tweetnacl and WebCrypto accept it.
const SMALL_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
].map(fromHex);

/** Return whether 32 bytes encode an Ed25519 point of small order (whatever their sign bit). */
export function isSmallOrder(point) {
  if (!isBytes(point, 32)) return false;
  const y = point.slice();
  y[31] &= 0x7f;
  return SMALL_ORDER.some((bad) => equal(bad, y));
}

// Imported verification keys, by public key: a history verifies many messages of few senders.
const verifyKeys = new Map();

async function verify(signPublic, text, sig) {
  if (!isBytes(signPublic, 32) || !isBytes(sig, 64) || !canonical(sig)) return false;
  if (isSmallOrder(signPublic) || isSmallOrder(sig.subarray(0, 32))) return false;
  if ((await backend()) === "tweetnacl") return nacl.sign.detached.verify(text, sig, signPublic);
  try {
    const id = b64(signPublic);
    if (!verifyKeys.has(id)) {
      if (verifyKeys.size > 1000) verifyKeys.clear();
      verifyKeys.set(id, crypto.subtle.importKey("raw", signPublic, "Ed25519", true, ["verify"]));
    }
    return await crypto.subtle.verify("Ed25519", await verifyKeys.get(id), sig, text);
  } catch {
    return false;
  }
}

/** Return the crypto_box key between DEVICE's box key and THEIR_PUBLIC (crypto_box_beforenm),
 * refusing a public key of small order as bad_wrap. */
export function sharedKey(device, theirPublic) {
  return boxKey(device, theirPublic);
}

async function boxKey(device, theirPublic) {
  const { kind, box } = device.secrets;
  let shared;
  if (kind === "webcrypto") {
    try {
      const key = await crypto.subtle.importKey("raw", theirPublic, "X25519", true, []);
      const bits = await crypto.subtle.deriveBits({ name: "X25519", public: key }, box, 256);
      shared = new Uint8Array(bits);
    } catch {
      refuse("bad_wrap");
    }
  } else {
    shared = nacl.scalarMult(box, theirPublic);
    // WebCrypto and libsodium refuse a low-order public key, whose shared secret is all zeros.
    if (shared.every((byte) => byte === 0)) refuse("bad_wrap");
  }
  // HSalsa20 of the X25519 secret is crypto_box_beforenm (docs/PROTOCOL.md, "Primitives").
  const key = new Uint8Array(32);
  nacl.lowlevel.crypto_core_hsalsa20(key, new Uint8Array(16), shared, SIGMA);
  return key;
}

function open(key, nonce, ct) {
  try {
    return nacl.secretbox.open(ct, nonce, key);
  } catch {
    return null;
  }
}

// Devices.

/** Return the device id of two public keys (docs/PROTOCOL.md, "Devices"). */
export function deviceId(signPublic, boxPublic) {
  if (!isBytes(signPublic, 32) || !isBytes(boxPublic, 32)) {
    throw new TypeError("public keys are 32 bytes");
  }
  return hex(nacl.hash(concat(utf8("sealdesk-device-v1"), signPublic, boxPublic))).slice(0, 32);
}

/** Return the device id as people compare it: eight groups of four upper-case hex digits. */
export function fingerprint(id) {
  if (typeof id !== "string" || !DEVICE.test(id)) {
    throw new TypeError("a device id is 32 lowercase hex digits");
  }
  return id.toUpperCase().match(/..../g).join(" ");
}

/** Return the safety number of MEMBERS: twelve groups of five digits from the hash of their
 * sorted device ids (docs/PROTOCOL.md, "Safety numbers"). */
export function safetyNumber(members) {
  const ids = members.map((member) => member.deviceId).sort();
  const digest = nacl.hash(utf8(`sealdesk-safety-v1\n${ids.join("\n")}`));
  const groups = [];
  for (let i = 0; i < 12; i++) {
    const value = ((digest[3 * i] << 16) | (digest[3 * i + 1] << 8) | digest[3 * i + 2]) % 100000;
    groups.push(String(value).padStart(5, "0"));
  }
  return groups.join(" ");
}

// Organisation keys and certificates (docs/PROTOCOL.md, "Certified devices").

// Records and certificates are frozen, so each one's hash is computed once: every message names
// its epoch record's.
const hashes = new WeakMap();
function cachedHash(signed) {
  let found = hashes.get(signed);
  if (found === undefined) {
    found = hex(nacl.hash(signed.text()));
    hashes.set(signed, found);
  }
  return found;
}

export const MAX_DISPLAY_NAME = 100;
const PERSON = /^[1-9][0-9]{0,15}$/;
const STAFF_ROLES = Object.freeze(["agent", "supervisor"]);

/** Return the id people compare for an organisation key: 32 hex digits, shown as a fingerprint. */
export function orgKeyId(publicKey) {
  if (!isBytes(publicKey, 32)) throw new TypeError("an organisation key is 32 bytes");
  return hex(nacl.hash(concat(utf8("sealdesk-org-v1"), publicKey))).slice(0, 32);
}

/** An organisation's Ed25519 key: the public half, and private CryptoKeys or tweetnacl bytes. */
export class OrgKey {
  constructor(publicKey, secrets) {
    this.publicKey = publicKey;
    this.id = orgKeyId(publicKey);
    Object.defineProperty(this, "secrets", { value: Object.freeze(secrets) });
    Object.freeze(this);
  }
}

/** Make the organisation key of SEED (32 bytes); WebCrypto's is non-extractable. */
export async function importOrgKey(seed) {
  if (!isBytes(seed, 32)) throw new TypeError("an organisation key's seed is 32 bytes");
  const pair = nacl.sign.keyPair.fromSeed(seed);
  if ((await backend()) === "tweetnacl") {
    return new OrgKey(pair.publicKey, { kind: "tweetnacl", sign: pair.secretKey });
  }
  const key = await crypto.subtle.importKey("pkcs8", concat(PKCS8.Ed25519, seed), "Ed25519", false, ["sign"]);
  return new OrgKey(pair.publicKey, { kind: "webcrypto", sign: key });
}

/** Return a fresh random seed for an organisation key (kept only in its encrypted backup). */
export function newOrgSeed() {
  return random(32);
}

function seconds(value, code) {
  return integer(value, 0, code);
}

/** A device certificate: the organisation key binds a person, their name and role, and one
 * device's keys, for a time (docs/PROTOCOL.md, "Certified devices"). */
export class Certificate {
  constructor(fields) {
    const names = ["tenant", "person", "name", "role", "deviceId", "signPublic", "boxPublic", "issued", "expires", "orgKey", "sig"];
    for (const name of names) this[name] = fields[name];
    Object.freeze(this);
  }

  /** Return the signed text; the name travels in base64, so no name can break a line. */
  text() {
    const lines = [
      "sealdesk-cert-v1",
      this.tenant,
      this.person,
      b64(utf8(this.name)),
      this.role,
      this.deviceId,
      b64(this.signPublic),
      b64(this.boxPublic),
      String(this.issued),
      String(this.expires),
      b64(this.orgKey),
    ];
    return utf8(lines.join("\n"));
  }

  /** Return hex(sha512(text)), which an epoch record's member line names. */
  hash() {
    return cachedHash(this);
  }

  /** Return the certificate as it travels. */
  toJSON() {
    return {
      tenant: this.tenant,
      person: this.person,
      name: this.name,
      role: this.role,
      device_id: this.deviceId,
      sign_public: b64(this.signPublic),
      box_public: b64(this.boxPublic),
      issued: this.issued,
      expires: this.expires,
      org_key: b64(this.orgKey),
      sig: b64(this.sig),
    };
  }

  /** Parse a certificate as it travels, refusing wrong shapes as uncertified. */
  static fromJSON(data) {
    const names = ["tenant", "person", "name", "role", "device_id", "sign_public", "box_public", "issued", "expires", "org_key", "sig"];
    const json = fields(data, names, "uncertified");
    const name = typeof json.name === "string" ? json.name : refuse("uncertified");
    const length = [...name].length;
    if (!length || length > MAX_DISPLAY_NAME || !STAFF_ROLES.includes(json.role)) refuse("uncertified");
    return new Certificate({
      tenant: string(json.tenant, TENANT, "uncertified"),
      person: string(json.person, PERSON, "uncertified"),
      name,
      role: json.role,
      deviceId: string(json.device_id, DEVICE, "uncertified"),
      signPublic: unb64(json.sign_public, 32, "uncertified"),
      boxPublic: unb64(json.box_public, 32, "uncertified"),
      issued: seconds(json.issued, "uncertified"),
      expires: seconds(json.expires, "uncertified"),
      orgKey: unb64(json.org_key, 32, "uncertified"),
      sig: unb64(json.sig, 64, "uncertified"),
    });
  }
}

/** Sign a certificate for DEVICE (public keys and id) with the organisation key ORG. */
export async function certify(org, { tenant, person, name, role, device, issued, expires }) {
  const fields = {
    tenant,
    person: String(person),
    name,
    role,
    deviceId: device.deviceId,
    signPublic: device.signPublic,
    boxPublic: device.boxPublic,
    issued,
    expires,
    orgKey: org.publicKey,
  };
  const unsigned = new Certificate({ ...fields, sig: new Uint8Array(64) });
  try {
    Certificate.fromJSON(unsigned.toJSON());
  } catch {
    throw new TypeError("receivers would refuse this certificate");
  }
  if (expires <= issued) throw new TypeError("a certificate expires after it is issued");
  return new Certificate({ ...fields, sig: await sign(org, unsigned.text()) });
}

/** A signed statement that the organisation key OLD hands over to NEW. */
export class Rotation {
  constructor(tenant, old, replacement, time, sig) {
    Object.assign(this, { tenant, old, replacement, time, sig });
    Object.freeze(this);
  }

  text() {
    return utf8(`sealdesk-org-rotate-v1\n${this.tenant}\n${b64(this.old)}\n${b64(this.replacement)}\n${this.time}`);
  }

  toJSON() {
    return { tenant: this.tenant, old: b64(this.old), new: b64(this.replacement), time: this.time, sig: b64(this.sig) };
  }

  static fromJSON(data) {
    const json = fields(data, ["tenant", "old", "new", "time", "sig"], "uncertified");
    return new Rotation(
      string(json.tenant, TENANT, "uncertified"),
      unb64(json.old, 32, "uncertified"),
      unb64(json.new, 32, "uncertified"),
      seconds(json.time, "uncertified"),
      unb64(json.sig, 64, "uncertified"),
    );
  }
}

/** Sign the hand-over from ORG (the current key) to the public key REPLACEMENT. */
export async function rotateOrgKey(org, tenant, replacement, time) {
  const unsigned = new Rotation(tenant, org.publicKey, replacement, time, new Uint8Array(64));
  return new Rotation(tenant, org.publicKey, replacement, time, await sign(org, unsigned.text()));
}

/** Return the organisation keys trusted from PINNED: it, and each key a trusted key handed over
 * to by a signed rotation, in order. A rotation that does not verify is skipped. */
export async function trustedOrgKeys(tenant, pinned, rotations) {
  const trusted = [pinned];
  for (let grew = true; grew; ) {
    grew = false;
    for (const rotation of rotations) {
      const from = trusted.some((key) => equal(key, rotation.old));
      const known = trusted.some((key) => equal(key, rotation.replacement));
      if (!from || known || rotation.tenant !== tenant) continue;
      if (await verify(rotation.old, rotation.text(), rotation.sig)) {
        trusted.push(rotation.replacement);
        grew = true;
      }
    }
  }
  return trusted;
}

/** A signed statement that a device's certificate no longer holds. */
export class Revocation {
  constructor(tenant, device, time, orgKey, sig) {
    Object.assign(this, { tenant, device, time, orgKey, sig });
    Object.freeze(this);
  }

  text() {
    return utf8(`sealdesk-revoke-v1\n${this.tenant}\n${this.device}\n${this.time}\n${b64(this.orgKey)}`);
  }

  toJSON() {
    return { tenant: this.tenant, device: this.device, time: this.time, org_key: b64(this.orgKey), sig: b64(this.sig) };
  }

  static fromJSON(data) {
    const json = fields(data, ["tenant", "device", "time", "org_key", "sig"], "uncertified");
    return new Revocation(
      string(json.tenant, TENANT, "uncertified"),
      string(json.device, DEVICE, "uncertified"),
      seconds(json.time, "uncertified"),
      unb64(json.org_key, 32, "uncertified"),
      unb64(json.sig, 64, "uncertified"),
    );
  }
}

/** Sign the revocation of DEVICE (an id) with ORG. */
export async function revokeDevice(org, tenant, device, time) {
  const unsigned = new Revocation(tenant, device, time, org.publicKey, new Uint8Array(64));
  return new Revocation(tenant, device, time, org.publicKey, await sign(org, unsigned.text()));
}

/** Return when each device was revoked by a trusted key of TENANT: a Map of id to Unix time. */
export async function revokedDevices(tenant, trusted, revocations) {
  const revoked = new Map();
  for (const revocation of revocations) {
    const signer = trusted.some((key) => equal(key, revocation.orgKey));
    if (signer && revocation.tenant === tenant && (await verify(revocation.orgKey, revocation.text(), revocation.sig))) {
      const { device, time } = revocation;
      revoked.set(device, Math.min(time, revoked.get(device) ?? time));
    }
  }
  return revoked;
}

// How far a creator's clock may run ahead of a certificate's issue time, in seconds.
const CLOCK_SKEW = 300;

/** What a device trusts to certify staff devices: the organisation keys it pinned (and those
 * they handed over to), and when devices were revoked. */
export class Trust {
  constructor(tenant, orgKeys, revoked = new Map()) {
    Object.assign(this, { tenant, orgKeys: Object.freeze([...orgKeys]), revoked });
    Object.freeze(this);
  }

  /** Refuse MEMBER of an epoch made at MADE unless it is the customer or carries a certificate
   * that held then: `revoked` for a device revoked by then, `uncertified` for anything else. */
  async check(member, made) {
    if (member.role === "customer") return;
    if ((this.revoked.get(member.deviceId) ?? Infinity) <= made) refuse("revoked");
    const cert = member.cert ?? refuse("uncertified");
    const trusted = this.orgKeys.some((key) => equal(key, cert.orgKey));
    const valid = cert.issued <= made + CLOCK_SKEW && made < cert.expires;
    if (!trusted || cert.tenant !== this.tenant || !valid) refuse("uncertified");
    if (!(await verify(cert.orgKey, cert.text(), cert.sig))) refuse("uncertified");
  }
}

/** One device of an epoch, with its role, public keys, and (for staff) its certificate. */
export class Member {
  constructor(deviceId, role, signPublic, boxPublic, cert = null) {
    Object.assign(this, { deviceId, role, signPublic, boxPublic, cert });
    Object.freeze(this);
  }

  /** Refuse a member whose role is unknown, whose id is not that of its keys, or whose signing
   * key is of small order. */
  validate() {
    if (
      !ROLES.includes(this.role) ||
      !isBytes(this.signPublic, 32) ||
      !isBytes(this.boxPublic, 32) ||
      isSmallOrder(this.signPublic) ||
      this.deviceId !== deviceId(this.signPublic, this.boxPublic)
    ) {
      refuse("bad_epoch");
    }
    // A certificate is of this device, in this role; a customer has none.
    const cert = this.cert;
    if (
      cert !== null &&
      (this.role === "customer" ||
        cert.role !== this.role ||
        cert.deviceId !== this.deviceId ||
        !equal(cert.signPublic, this.signPublic) ||
        !equal(cert.boxPublic, this.boxPublic))
    ) {
      refuse("bad_epoch");
    }
  }

  /** Return the member's line of the epoch record's signed text. */
  line() {
    const keys = `${b64(this.signPublic)} ${b64(this.boxPublic)}`;
    return `member ${this.deviceId} ${this.role} ${keys} ${this.cert?.hash() ?? "-"}`;
  }

  /** Return the member as it travels. */
  toJSON() {
    return {
      device_id: this.deviceId,
      role: this.role,
      sign_public: b64(this.signPublic),
      box_public: b64(this.boxPublic),
      cert: this.cert?.toJSON() ?? null,
    };
  }

  /** Parse a member as it travels, refusing wrong shapes as bad_epoch. */
  static fromJSON(data) {
    const names = ["device_id", "role", "sign_public", "box_public", "cert"];
    const json = fields(data, names, "bad_epoch");
    if (typeof json.role !== "string") refuse("bad_epoch");
    let cert = null;
    if (json.cert !== null) {
      try {
        cert = Certificate.fromJSON(json.cert);
      } catch {
        refuse("bad_epoch");
      }
    }
    return new Member(
      string(json.device_id, DEVICE, "bad_epoch"),
      json.role,
      unb64(json.sign_public, 32, "bad_epoch"),
      unb64(json.box_public, 32, "bad_epoch"),
      cert,
    );
  }
}

/** The keys of one device: public bytes, and private CryptoKeys or tweetnacl bytes. */
export class DeviceKeys {
  constructor(signPublic, boxPublic, secrets) {
    this.signPublic = signPublic;
    this.boxPublic = boxPublic;
    this.deviceId = deviceId(signPublic, boxPublic);
    // Not enumerable, so that logging a device does not print tweetnacl secrets.
    Object.defineProperty(this, "secrets", { value: Object.freeze(secrets) });
    Object.freeze(this);
  }

  /** Return this device as a member of an epoch in ROLE, with its certificate CERT if any. */
  member(role, cert = null) {
    if (!ROLES.includes(role)) throw new TypeError(`role must be one of ${ROLES.join(", ")}`);
    return new Member(this.deviceId, role, this.signPublic, this.boxPublic, cert);
  }
}

/** Make a device from its secrets; WebCrypto keys are extractable only when asked. */
export async function importDevice({ signSeed, boxSecret }, { extractable = false } = {}) {
  if (!isBytes(signSeed, 32) || !isBytes(boxSecret, 32)) {
    throw new TypeError("device secrets are 32 bytes each");
  }
  const signing = nacl.sign.keyPair.fromSeed(signSeed);
  const boxPublic = nacl.scalarMult.base(boxSecret);
  if ((await backend()) === "tweetnacl") {
    const secrets = { kind: "tweetnacl", sign: signing.secretKey, box: boxSecret.slice() };
    return new DeviceKeys(signing.publicKey, boxPublic, secrets);
  }
  const load = (name, secret, usages) =>
    crypto.subtle.importKey("pkcs8", concat(PKCS8[name], secret), name, extractable, usages);
  const secrets = {
    kind: "webcrypto",
    sign: await load("Ed25519", signSeed, ["sign"]),
    box: await load("X25519", boxSecret, ["deriveBits"]),
  };
  return new DeviceKeys(signing.publicKey, boxPublic, secrets);
}

/** Make a fresh device, with non-extractable private keys where WebCrypto has them. */
export async function generateDevice() {
  if ((await backend()) === "tweetnacl") {
    return importDevice({ signSeed: random(32), boxSecret: random(32) });
  }
  const subtle = crypto.subtle;
  const signing = await subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const boxing = await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
  const raw = async (key) => new Uint8Array(await subtle.exportKey("raw", key));
  const secrets = { kind: "webcrypto", sign: signing.privateKey, box: boxing.privateKey };
  return new DeviceKeys(await raw(signing.publicKey), await raw(boxing.publicKey), secrets);
}

// Epochs.

/** A signed epoch record (docs/PROTOCOL.md, "Epochs"). */
export class EpochRecord {
  constructor(tenant, conversation, epoch, prev, creator, made, members, sig) {
    Object.assign(this, { tenant, conversation, epoch, prev, creator, made, sig });
    this.members = Object.freeze([...members]);
    Object.freeze(this);
  }

  /** Return the signed text. */
  text() {
    const head = [this.tenant, this.conversation, String(this.epoch), this.prev, this.creator, String(this.made)];
    const lines = ["sealdesk-epoch-v2", ...head, ...this.members.map((m) => m.line())];
    return utf8(lines.join("\n"));
  }

  /** Return hex(sha512(text)), which the next epoch names as prev. */
  hash() {
    return cachedHash(this);
  }

  /** Return the member with id DEVICE, or null. */
  member(device) {
    return this.members.find((member) => member.deviceId === device) ?? null;
  }

  /** Return the record as it travels. */
  toJSON() {
    return {
      tenant: this.tenant,
      conversation: this.conversation,
      epoch: this.epoch,
      prev: this.prev,
      creator: this.creator,
      made: this.made,
      members: this.members.map((member) => member.toJSON()),
      sig: b64(this.sig),
    };
  }

  /** Parse a record as it travels, refusing wrong shapes as bad_epoch. */
  static fromJSON(data) {
    const names = ["tenant", "conversation", "epoch", "prev", "creator", "made", "members", "sig"];
    const json = fields(data, names, "bad_epoch");
    if (!Array.isArray(json.members)) refuse("bad_epoch");
    if (json.prev !== "-") string(json.prev, HASH, "bad_epoch");
    return new EpochRecord(
      string(json.tenant, TENANT, "bad_epoch"),
      string(json.conversation, CONVERSATION, "bad_epoch"),
      integer(json.epoch, 0, "bad_epoch"),
      json.prev,
      string(json.creator, DEVICE, "bad_epoch"),
      integer(json.made, 0, "bad_epoch"),
      json.members.map((member) => Member.fromJSON(member)),
      unb64(json.sig, 64, "bad_epoch"),
    );
  }
}

function sameRecord(a, b) {
  return equal(a.text(), b.text()) && equal(a.sig, b.sig);
}

/** Refuse, as bad_epoch, a record that may not follow PREVIOUS (docs/PROTOCOL.md, "Epochs"). */
export async function verifyEpoch(record, previous, customerDeviceId = null) {
  for (const member of record.members) member.validate();
  const ids = record.members.map((member) => member.deviceId);
  if (!ids.length || !ids.every((id, i) => i === 0 || ids[i - 1] < id)) refuse("bad_epoch");
  let signer;
  let follows;
  if (previous === null) {
    signer = record.members[0];
    follows =
      record.epoch === 0 &&
      record.prev === "-" &&
      record.members.length === 1 &&
      signer.deviceId === record.creator &&
      signer.role === "customer" &&
      (customerDeviceId === null || customerDeviceId === record.creator);
  } else {
    // The creator's key comes from the epoch the receiver already holds, not from this one.
    signer = previous.member(record.creator) ?? refuse("bad_epoch");
    // The customer is the device of epoch 0 in every epoch, the only one in that role; and
    // nobody makes an epoch that leaves themselves out (docs/PROTOCOL.md, "Epochs").
    const customers = record.members.filter((member) => member.role === "customer");
    const customer = previous.members.find((member) => member.role === "customer");
    follows =
      record.tenant === previous.tenant &&
      record.conversation === previous.conversation &&
      record.epoch === previous.epoch + 1 &&
      record.prev === previous.hash() &&
      record.made >= previous.made &&
      customers.length === 1 &&
      customers[0].deviceId === customer.deviceId &&
      record.member(record.creator) !== null;
  }
  if (!follows || !(await verify(signer.signPublic, record.text(), record.sig))) {
    refuse("bad_epoch");
  }
}

/** Sign the epoch after PREVIOUS (or epoch 0) with MEMBERS sorted by device id, made at MADE
 * (Unix seconds; now by default, and never before PREVIOUS). */
export async function makeEpoch(creator, tenant, conversation, previous, members, made = null) {
  checkContext(tenant, conversation);
  const byId = (a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);
  const epoch = previous === null ? 0 : previous.epoch + 1;
  const prev = previous === null ? "-" : previous.hash();
  made ??= Math.max(Math.floor(Date.now() / 1000), previous?.made ?? 0);
  const sorted = [...members].sort(byId);
  const parts = [tenant, conversation, epoch, prev, creator.deviceId, made, sorted];
  const unsigned = new EpochRecord(...parts, new Uint8Array(0));
  const record = new EpochRecord(...parts, await sign(creator, unsigned.text()));
  try {
    await verifyEpoch(record, previous);
  } catch {
    throw new TypeError("receivers would refuse this epoch record");
  }
  return record;
}

/** Return a fresh random epoch key. */
export function newEpochKey() {
  return random(32);
}

// Key wraps.

/** An epoch key sealed for one member (docs/PROTOCOL.md, "Key wraps"). */
export class Wrap {
  // staff: a staff key's wrap (docs/PROTOCOL.md, "Staff-only messages"): only staff hold it.
  constructor(epoch, recipient, wrapper, nonce, ct, staff = false) {
    Object.assign(this, { epoch, recipient, wrapper, nonce, ct, staff });
    Object.freeze(this);
  }

  /** Return the wrap as it travels. */
  toJSON() {
    const data = {
      epoch: this.epoch,
      recipient: this.recipient,
      wrapper: this.wrapper,
      nonce: b64(this.nonce),
      ct: b64(this.ct),
    };
    return this.staff ? { ...data, scope: STAFF } : data;
  }

  /** Parse a wrap as it travels, refusing wrong shapes as bad_wrap. */
  static fromJSON(data) {
    const staff = scope(data, "bad_wrap");
    const names = ["epoch", "recipient", "wrapper", "nonce", "ct", ...(staff ? ["scope"] : [])];
    const json = fields(data, names, "bad_wrap");
    return new Wrap(
      integer(json.epoch, 0, "bad_wrap"),
      string(json.recipient, DEVICE, "bad_wrap"),
      string(json.wrapper, DEVICE, "bad_wrap"),
      unb64(json.nonce, 24, "bad_wrap"),
      unb64(json.ct, null, "bad_wrap"),
      staff,
    );
  }
}

function wrapText(tenant, conversation, epoch, recipient, staff = false) {
  const label = staff ? "sealdesk-staff-wrap-v1" : "sealdesk-wrap-v1";
  return utf8(`${label}\n${tenant}\n${conversation}\n${epoch}\n${recipient}\n`);
}

/** Seal epoch EPOCH's KEY (its staff key when STAFF) for RECIPIENT. */
export async function wrapKey(wrapper, recipient, tenant, conversation, epoch, key, nonce = null, { staff = false } = {}) {
  checkContext(tenant, conversation);
  if (!isBytes(key, 32) || !Number.isSafeInteger(epoch) || epoch < 0) {
    throw new TypeError("an epoch key is 32 bytes of a numbered epoch");
  }
  nonce ??= random(24);
  const text = wrapText(tenant, conversation, epoch, recipient.deviceId, staff);
  const ct = nacl.secretbox(concat(text, key), nonce, await boxKey(wrapper, recipient.boxPublic));
  return new Wrap(epoch, recipient.deviceId, wrapper.deviceId, nonce, ct, staff);
}

/** Return the key a wrap carries, refusing as bad_wrap one moved or not meant for RECIPIENT. */
export async function unwrapKey(recipient, wrapper, tenant, conversation, wrap) {
  if (wrap.recipient !== recipient.deviceId || wrap.wrapper !== wrapper.deviceId) {
    refuse("bad_wrap");
  }
  const opened = open(await boxKey(recipient, wrapper.boxPublic), wrap.nonce, wrap.ct);
  const text = wrapText(tenant, conversation, wrap.epoch, wrap.recipient, wrap.staff);
  const carries = opened?.length === text.length + 32;
  if (!carries || !equal(opened.subarray(0, text.length), text)) refuse("bad_wrap");
  return opened.slice(text.length);
}

// Messages.

/** Pad DATA with 0x80 and zeros to the next multiple of 256 bytes (ISO/IEC 7816-4). */
export function pad(data) {
  const padded = new Uint8Array(data.length + 1 + ((BLOCK - ((data.length + 1) % BLOCK)) % BLOCK));
  padded.set(data);
  padded[data.length] = 0x80;
  return padded;
}

/** Return what pad was given, refusing as malformed anything pad does not produce. */
export function unpad(data) {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  if (data.length % BLOCK || end === 0 || data[end - 1] !== 0x80 || data.length - end >= BLOCK) {
    refuse("malformed");
  }
  return data.slice(0, end - 1);
}

function parsePlaintext(data, staff = false) {
  // docs/PROTOCOL.md, "Plaintext types": exactly the type's fields, each a string; staff-only
  // types under a staff key, and only there.
  if (data.length > MAX_PLAINTEXT) refuse("malformed");
  let value;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    refuse("malformed");
  }
  const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
  const kind = isObject ? value.type : undefined;
  const names = typeof kind === "string" && Object.hasOwn(FIELDS, kind) ? FIELDS[kind] : null;
  if (names === null) refuse("malformed");
  fields(value, ["type", ...names], "malformed");
  if (!names.every((name) => typeof value[name] === "string")) refuse("malformed");
  if (STAFF_TYPES.includes(kind) !== staff) refuse("malformed");
  // Characters are code points, as Python counts them, not UTF-16 units.
  if ((kind === "text" || kind === "note" || kind === "rating_comment") && [...value.body].length > MAX_BODY) refuse("malformed");
  if (kind === "file") checkFile(value);
  if (kind === "receipt" && !RECEIPTS.includes(value.state)) refuse("malformed");
  return value;
}

/** A signed, encrypted message as it travels (docs/PROTOCOL.md, "Messages"). */
export class Envelope {
  // staff: sealed under the epoch's staff key, for staff devices only.
  constructor(epoch, sender, seq, after, nonce, ct, sig, staff = false) {
    Object.assign(this, { epoch, sender, seq, after, nonce, ct, sig, staff });
    Object.freeze(this);
  }

  /** Return the envelope as it travels. */
  toJSON() {
    const data = {
      epoch: this.epoch,
      sender: this.sender,
      seq: this.seq,
      after: this.after,
      nonce: b64(this.nonce),
      ct: b64(this.ct),
      sig: b64(this.sig),
    };
    return this.staff ? { ...data, scope: STAFF } : data;
  }

  /** Parse an envelope as it travels, refusing wrong shapes as malformed. */
  static fromJSON(data) {
    const staff = scope(data, "malformed");
    const names = ["epoch", "sender", "seq", "after", "nonce", "ct", "sig", ...(staff ? ["scope"] : [])];
    const json = fields(data, names, "malformed");
    const envelope = new Envelope(
      integer(json.epoch, 0, "malformed"),
      string(json.sender, DEVICE, "malformed"),
      integer(json.seq, 1, "malformed"),
      string(json.after, HASH, "malformed"),
      unb64(json.nonce, 24, "malformed"),
      unb64(json.ct, null, "malformed"),
      unb64(json.sig, 64, "malformed"),
      staff,
    );
    // The canonical base64 it came in (unb64 checked it): the signed text names it again.
    encodings.set(envelope, { nonce: json.nonce, ct: json.ct });
    return envelope;
  }
}

const encodings = new WeakMap();
// What a receiver started verifying early (ConversationState.prepare): envelope -> promise.
const prepared = new WeakMap();

// The text ENVELOPE's sender signed in the epoch of RECORD, as a receiver rebuilds it.
function signedTextOf(tenant, conversation, record, envelope) {
  const { sender, seq, after, staff } = envelope;
  const known = encodings.get(envelope) ?? { nonce: b64(envelope.nonce), ct: b64(envelope.ct) };
  return signedText(tenant, conversation, record, sender, seq, after, known.nonce, known.ct, staff);
}

// The message text, its nonce and ciphertext in base64 already.
function signedText(tenant, conversation, record, sender, seq, after, nonce, ct, staff = false) {
  const label = staff ? "sealdesk-staff-msg-v2" : "sealdesk-msg-v2";
  const head = `${label}\n${tenant}\n${conversation}\n${record.epoch}\n${record.hash()}\n`;
  return utf8(`${head}${sender}\n${seq}\n${after}\n${nonce}\n${ct}`);
}

/** Return the text a message's sender signs: it names the epoch record by its hash, the
 * transcript the sender had accepted when it wrote (AFTER), and whether only staff read it. */
export function messageText(tenant, conversation, record, sender, seq, after, nonce, ct, staff = false) {
  return signedText(tenant, conversation, record, sender, seq, after, b64(nonce), b64(ct), staff);
}

/** Pad, seal and sign PLAINTEXT as SENDER's message number SEQ in the epoch of RECORD, written
 * having accepted the transcript whose head is AFTER; with STAFF, KEY is the epoch's staff key
 * and PLAINTEXT a staff-only type. */
export async function encryptMessage(
  sender,
  tenant,
  conversation,
  record,
  key,
  seq,
  plaintext,
  { after, nonce = null, staff = false },
) {
  checkContext(tenant, conversation);
  const numbered = record instanceof EpochRecord && Number.isSafeInteger(seq) && seq >= 1;
  if (!isBytes(key, 32) || !numbered || typeof after !== "string" || !HASH.test(after)) {
    throw new TypeError("a message needs a 32-byte key, an epoch record, a seq from 1 and a transcript hash");
  }
  const data = utf8(JSON.stringify(plaintext) ?? "");
  try {
    parsePlaintext(data, staff);
  } catch {
    throw new TypeError("receivers would refuse this plaintext as malformed");
  }
  nonce ??= random(24);
  const ct = nacl.secretbox(pad(data), nonce, key);
  const text = messageText(tenant, conversation, record, sender.deviceId, seq, after, nonce, ct, staff);
  return new Envelope(record.epoch, sender.deviceId, seq, after, nonce, ct, await sign(sender, text), staff);
}

/** Return whether the envelope is signed by SIGN_PUBLIC in the epoch of RECORD. */
export async function verifyEnvelopeSignature(tenant, conversation, record, envelope, signPublic) {
  if (record.epoch !== envelope.epoch) return false;
  return verify(signPublic, signedTextOf(tenant, conversation, record, envelope), envelope.sig);
}

/** The transcript: a hash chain over the epoch records and messages one device accepted, in the
 * order it accepted them (docs/PROTOCOL.md, "Transcript"). */
export class Transcript {
  #at = new Map();
  #head;

  constructor(tenant, conversation) {
    checkContext(tenant, conversation);
    this.#head = hex(nacl.hash(utf8(`sealdesk-transcript-v2\n${tenant}\n${conversation}`)));
    this.#at.set(this.#head, 0);
  }

  /** The hash of everything accepted so far. */
  get head() {
    return this.#head;
  }

  /** The number of entries accepted so far. */
  get length() {
    return this.#at.size - 1;
  }

  /** Return after how many entries the head was HASH, or null if it never was. */
  position(hash) {
    return this.#at.get(hash) ?? null;
  }

  /** Add an entry of KIND ("epoch" or "message") naming the hash of what was accepted. */
  add(kind, hash) {
    this.#head = hex(nacl.hash(utf8(`${this.#head}\n${kind}\n${hash}`)));
    this.#at.set(this.#head, this.#at.size);
    return this.#head;
  }
}

/** Return the transcript hash of a device that accepted RECORDS and nothing else. */
export function headAfter(tenant, conversation, records) {
  const transcript = new Transcript(tenant, conversation);
  for (const record of records) transcript.add("epoch", record.hash());
  return transcript.head;
}

/** What one device holds of one conversation: epochs, keys, each sender's last seq, and the
 * transcript of what it accepted. */
export class ConversationState {
  #epochs = [];
  #entered = []; // transcript position after each epoch record
  #keys = new Map();
  #staffKeys = new Map();
  #lastSeq = new Map();
  #lastAfter = new Map();
  #sent = 0;
  #queue = Promise.resolve();

  constructor(tenant, conversation, me, customerDeviceId, trust = null) {
    checkContext(tenant, conversation);
    Object.assign(this, { tenant, conversation, me, customerDeviceId, trust });
    this.transcript = new Transcript(tenant, conversation);
  }

  // One change at a time, in call order: every check sees the state the previous call left.
  #serial(step) {
    const run = this.#queue.then(step);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Return the number of the latest accepted epoch, or null before epoch 0. */
  get latestEpoch() {
    return this.#epochs.length ? this.#epochs.length - 1 : null;
  }

  /** Return the hash of the transcript so far: what a message written now says it follows. */
  get after() {
    return this.transcript.head;
  }

  /** Return the accepted epoch record EPOCH, refusing any other as unknown_epoch. */
  recordOf(epoch) {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch >= this.#epochs.length) {
      refuse("unknown_epoch");
    }
    return this.#epochs[epoch];
  }

  /** Return the members of an accepted epoch, refusing any other as unknown_epoch. */
  membersOf(epoch) {
    return this.recordOf(epoch).members;
  }

  /** Return the key of an epoch, or null while no wrap of it has opened. */
  keyOf(epoch) {
    return this.#keys.get(epoch) ?? null;
  }

  /** Return the staff key of an epoch, or null while no staff wrap of it has opened. */
  staffKeyOf(epoch) {
    return this.#staffKeys.get(epoch) ?? null;
  }

  /** Whether this device is staff (not the conversation's customer). */
  get isStaff() {
    return this.me.deviceId !== this.customerDeviceId;
  }

  /** Accept the next epoch record (or one already held, again), refusing it as bad_epoch. */
  acceptEpoch(record) {
    return this.#serial(async () => {
      const held = this.#epochs[record.epoch];
      if (Number.isInteger(record.epoch) && held && sameRecord(held, record)) return;
      if (record.tenant !== this.tenant || record.conversation !== this.conversation) {
        refuse("bad_epoch");
      }
      await verifyEpoch(record, this.#epochs.at(-1) ?? null, this.customerDeviceId);
      // With a trusted organisation key, every staff member is certified by it.
      for (const member of this.trust ? record.members : []) await this.trust.check(member, record.made);
      this.#epochs.push(record);
      this.transcript.add("epoch", record.hash());
      this.#entered.push(this.transcript.length);
    });
  }

  /** Open a wrap for this device and hold its key, refusing it as bad_wrap. */
  acceptWrap(wrap) {
    return this.#serial(async () => {
      const record = this.#epochs[wrap.epoch];
      if (!Number.isInteger(wrap.epoch) || !record) refuse("bad_wrap");
      // The wrapper is a member of the wrapped epoch, or of the latest one for a history share;
      // a staff key's wrapper is staff there, and only staff take one.
      const latest = this.#epochs.at(-1);
      const wrapper =
        record.member(wrap.wrapper) ?? latest.member(wrap.wrapper) ?? refuse("bad_wrap");
      if (wrap.staff && (wrapper.role === "customer" || !this.isStaff)) refuse("bad_wrap");
      const key = await unwrapKey(this.me, wrapper, this.tenant, this.conversation, wrap);
      // A second, different key for an epoch would make members read different messages.
      const keys = wrap.staff ? this.#staffKeys : this.#keys;
      const held = keys.get(wrap.epoch);
      if (held && !equal(held, key)) refuse("bad_wrap");
      keys.set(wrap.epoch, held ?? key);
    });
  }

  /** Return the seq of DEVICE's latest accepted message, 0 before any. */
  lastSeqOf(device) {
    return this.#lastSeq.get(device) ?? 0;
  }

  /** Return the seq of this device's next message, one more than any it sent before. */
  nextSeq() {
    this.#sent = Math.max(this.#sent, this.#lastSeq.get(this.me.deviceId) ?? 0) + 1;
    return this.#sent;
  }

  /** Accept a message into the transcript after the checks of docs/PROTOCOL.md that need no
   * key, in order; the key may come later (open). */
  witness(envelope) {
    return this.#serial(() => this.#witness(envelope));
  }

  /** Return a witnessed message's plaintext, refusing it as unknown_epoch while its key is
   * missing, as staff_only for the customer's device given a staff-only message, or as undecryptable or malformed. */
  open(envelope) {
    return this.#serial(async () => this.#open(envelope));
  }

  /** Witness a message, then open it: every check of docs/PROTOCOL.md, in order. */
  receive(envelope) {
    return this.#serial(async () => {
      await this.#witness(envelope);
      return this.#open(envelope);
    });
  }

  async #witness(envelope) {
    const record = this.recordOf(envelope.epoch);
    // A sender removed from the latest epoch may no longer post, in any epoch.
    const sender = record.member(envelope.sender) ?? refuse("not_a_member");
    if (!this.#epochs.at(-1).member(envelope.sender)) refuse("not_a_member");
    if (envelope.staff && sender.role === "customer") refuse("not_staff");
    const early = prepared.get(envelope);
    const check = early?.record === record ? early : this.#check(envelope, record, sender);
    const { text, signed } = await check.result;
    if (!signed) refuse("bad_signature");
    const last = this.#lastSeq.get(envelope.sender) ?? 0;
    if (envelope.seq <= last) refuse("replayed");
    if (envelope.seq !== last + 1) refuse("out_of_order");
    // The transcript the sender had seen is one this device had too, no older than the one its
    // previous message named, and holds the message's epoch record; the newest epoch it holds
    // is the message's own.
    const seen = this.transcript.position(envelope.after);
    const before = this.#lastAfter.get(envelope.sender) ?? 0;
    if (seen === null || seen < before || seen < this.#entered[envelope.epoch]) {
      refuse("bad_transcript");
    }
    if (seen >= (this.#entered[envelope.epoch + 1] ?? Infinity)) refuse("stale_epoch");
    // Only an accepted message moves the counters, so a gap stays visible.
    const digest = hex(await sha512(text));
    this.#lastSeq.set(envelope.sender, envelope.seq);
    this.#lastAfter.set(envelope.sender, seen);
    this.transcript.add("message", digest);
  }

  // Start rebuilding and verifying a message's signed text, with the sender's key from RECORD.
  #check(envelope, record, sender) {
    const text = signedTextOf(this.tenant, this.conversation, record, envelope);
    const result = verify(sender.signPublic, text, envelope.sig).then((signed) => ({ text, signed }));
    return { record, result };
  }

  /** Start checking the signatures of ENVELOPES (a synced batch) at once, where their epoch is
   * accepted already; witness then awaits each one's result in order. Nothing is accepted here. */
  prepare(envelopes) {
    for (const envelope of envelopes) {
      const record = this.#epochs[envelope.epoch];
      const sender = record?.member(envelope.sender);
      if (sender && !prepared.has(envelope)) prepared.set(envelope, this.#check(envelope, record, sender));
    }
  }

  #open(envelope) {
    if (envelope.staff && !this.isStaff) refuse("staff_only");
    const keys = envelope.staff ? this.#staffKeys : this.#keys;
    const key = keys.get(envelope.epoch) ?? refuse("unknown_epoch");
    const padded = open(key, envelope.nonce, envelope.ct) ?? refuse("undecryptable");
    return parsePlaintext(unpad(padded), envelope.staff);
  }
}

// Files.

function decimal(value, minimum, maximum) {
  // One spelling of each number: ASCII digits without leading zeros (docs/PROTOCOL.md, "Files").
  if (!DECIMAL.test(value) || Number(value) < minimum || Number(value) > maximum) {
    refuse("malformed");
  }
  return Number(value);
}

function count(size, chunkSize) {
  // Exact below 2**53: the quotient's rounding error is less than 1 / chunkSize.
  return Math.max(1, Math.ceil(size / chunkSize));
}

function checkFile(plaintext) {
  // docs/PROTOCOL.md, "Files": names of at most 255 code points, numbers that agree, keys.
  const size = decimal(plaintext.size, 0, Number.MAX_SAFE_INTEGER);
  const chunkSize = decimal(plaintext.chunk_size, 1, MAX_CHUNK);
  const chunks = decimal(plaintext.chunks, 1, MAX_CHUNKS);
  if (
    [...plaintext.name].length > MAX_NAME ||
    [...plaintext.mime].length > MAX_NAME ||
    chunks !== count(size, chunkSize) ||
    !HASH.test(plaintext.hash) ||
    !isFileId(plaintext.file)
  ) {
    refuse("malformed");
  }
  unb64(plaintext.key, 32, "malformed");
  unb64(plaintext.prefix, 16, "malformed");
  return { size, chunkSize, chunks };
}

/** Return whether VALUE is an upload's id: a UUID in lower-case hex, never a path. */
export function isFileId(value) {
  return typeof value === "string" && FILE_ID.test(value);
}

/** Return the nonce of chunk INDEX: prefix, then index and last as 32-bit big-endian. */
export function fileNonce(prefix, index, last) {
  if (!isBytes(prefix, 16) || !Number.isInteger(index) || index < 0 || index >= MAX_CHUNKS) {
    throw new TypeError("a file nonce needs a 16-byte prefix and an index below 2**32");
  }
  const nonce = new Uint8Array(24);
  const view = new DataView(nonce.buffer);
  nonce.set(prefix);
  view.setUint32(16, index);
  view.setUint32(20, last ? 1 : 0);
  return nonce;
}

/** Return max(1, ceil(SIZE / CHUNK_SIZE)), the number of chunks and parts of a file. */
export function chunkCount(size, chunkSize) {
  const numbers = Number.isSafeInteger(size) && Number.isSafeInteger(chunkSize);
  if (!numbers || size < 0 || chunkSize < 1 || chunkSize > MAX_CHUNK) {
    throw new TypeError(`a file has 0 to 2**53 - 1 bytes in chunks of 1 to ${MAX_CHUNK}`);
  }
  const chunks = count(size, chunkSize);
  if (chunks > MAX_CHUNKS) throw new TypeError("a file has at most 2**32 chunks");
  return chunks;
}

/** Return the length of part INDEX: its chunk's plaintext bytes and the 16-byte tag. */
export function partLength(size, chunkSize, index) {
  const chunks = chunkCount(size, chunkSize);
  if (!Number.isInteger(index) || index < 0 || index >= chunks) {
    throw new TypeError(`the parts of this file are numbered 0 to ${chunks - 1}`);
  }
  const last = index === chunks - 1;
  return (last ? size - (chunks - 1) * chunkSize : chunkSize) + 16;
}

// SHA-512 fed a piece at a time (FIPS 180-4), for the file hash over the parts' digests: neither
// WebCrypto nor tweetnacl hashes incrementally, and keeping every digest would grow with the file.
// Its constants are the first 64 bits of the fractional parts of the square roots (initial state)
// and cube roots (round constants) of the first primes (FIPS 180-4, sections 4.2.3 and 5.3.5).
const MASK = 2n ** 64n - 1n;
const PRIMES = [];
for (let n = 2; PRIMES.length < 80; n++) if (PRIMES.every((prime) => n % prime)) PRIMES.push(n);
const rotate = (word, bits) => ((word >> bits) | (word << (64n - bits))) & MASK;

function root(value, k) {
  // The integer K-th root of VALUE, by Newton's method from above.
  let x = 1n << BigInt(Math.ceil(value.toString(2).length / Number(k)));
  for (;;) {
    const next = ((k - 1n) * x + value / x ** (k - 1n)) / k;
    if (next >= x) return x;
    x = next;
  }
}

const ROUNDS = PRIMES.map((prime) => root(BigInt(prime) << 192n, 3n) & MASK);
const INITIAL = PRIMES.slice(0, 8).map((prime) => root(BigInt(prime) << 128n, 2n) & MASK);

class Sha512 {
  #state = [...INITIAL];
  #block = new Uint8Array(128);
  #length = 0;

  update(data) {
    for (const byte of data) {
      this.#block[this.#length++ % 128] = byte;
      if (this.#length % 128 === 0) this.#compress();
    }
  }

  digest() {
    const bits = new DataView(new ArrayBuffer(16));
    bits.setBigUint64(8, BigInt(this.#length) * 8n);
    this.update([0x80]);
    while (this.#length % 128 !== 112) this.update([0]);
    this.update(new Uint8Array(bits.buffer));
    const digest = new DataView(new ArrayBuffer(64));
    this.#state.forEach((word, i) => digest.setBigUint64(8 * i, word));
    return new Uint8Array(digest.buffer);
  }

  #compress() {
    const block = new DataView(this.#block.buffer);
    const w = [];
    for (let i = 0; i < 80; i++) {
      if (i < 16) {
        w.push(block.getBigUint64(8 * i));
        continue;
      }
      const [a, b] = [w[i - 15], w[i - 2]];
      const s0 = rotate(a, 1n) ^ rotate(a, 8n) ^ (a >> 7n);
      const s1 = rotate(b, 19n) ^ rotate(b, 61n) ^ (b >> 6n);
      w.push((w[i - 16] + s0 + w[i - 7] + s1) & MASK);
    }
    const s = [...this.#state];
    for (let i = 0; i < 80; i++) {
      const [a, b, c, d, e, f, g, h] = s;
      const choice = (e & f) ^ (~e & g);
      const t1 = h + (rotate(e, 14n) ^ rotate(e, 18n) ^ rotate(e, 41n)) + choice + ROUNDS[i] + w[i];
      const t2 = (rotate(a, 28n) ^ rotate(a, 34n) ^ rotate(a, 39n)) + ((a & b) ^ (a & c) ^ (b & c));
      s.pop();
      s.unshift((t1 + t2) & MASK);
      s[4] = (d + t1) & MASK;
    }
    this.#state = this.#state.map((word, i) => (word + s[i]) & MASK);
  }
}

// WebCrypto's SHA-512 wherever it exists (also in browsers that lack Ed25519 or X25519): it is
// eight times faster than tweetnacl's, which held the fallback's file encryption to 40 MB/s.
async function sha512(data) {
  if (!globalThis.crypto?.subtle?.digest) return nacl.hash(data);
  return new Uint8Array(await crypto.subtle.digest("SHA-512", data));
}

// The file hash, fed each part's digest in call order even when parts are made at once.
class FileHash {
  #sha = new Sha512();
  #queue = Promise.resolve();
  #hex = null;

  add(part) {
    const digest = sha512(part);
    this.#queue = this.#queue.then(async () => this.#sha.update(await digest));
    return this.#queue;
  }

  async hex() {
    await this.#queue;
    this.#hex ??= hex(this.#sha.digest());
    return this.#hex;
  }
}

/** Seal a file chunk by chunk under a fresh file key (docs/PROTOCOL.md, "Files"). */
export class FileEncryptor {
  #made = 0;
  #hash = new FileHash();

  constructor(size, chunkSize = CHUNK_SIZE, key = null, prefix = null) {
    this.chunks = chunkCount(size, chunkSize);
    this.key = key ?? random(32);
    this.prefix = prefix ?? random(16);
    if (!isBytes(this.key, 32) || !isBytes(this.prefix, 16)) {
      throw new TypeError("a file key is 32 bytes and a prefix 16");
    }
    Object.assign(this, { size, chunkSize });
  }

  /** Return part INDEX sealed from chunk INDEX; parts are made in order, each once. */
  async encrypt(index, data) {
    if (index !== this.#made || index >= this.chunks) {
      throw new TypeError(`the next part is ${this.#made} of ${this.chunks}`);
    }
    const length = partLength(this.size, this.chunkSize, index) - 16;
    if (!(data instanceof Uint8Array) || data.length !== length) {
      throw new TypeError(`chunk ${index} is not the length size and chunkSize give`);
    }
    this.#made++;
    const nonce = fileNonce(this.prefix, index, index === this.chunks - 1);
    const part = nacl.secretbox(data, nonce, this.key);
    await this.#hash.add(part);
    return part;
  }

  /** Return the hash over every part's digest, once all parts are made. */
  async hash() {
    if (this.#made !== this.chunks) {
      throw new TypeError(`${this.#made} of ${this.chunks} parts are made`);
    }
    return this.#hash.hex();
  }

  /** Return the `file` plaintext of the upload FILE_ID, without sent_at. */
  async announcement(fileId, name, mime) {
    const strings = [fileId, name, mime].every((value) => typeof value === "string");
    if (!strings || [...name].length > MAX_NAME || [...mime].length > MAX_NAME) {
      throw new TypeError(`the name and type of a file are strings of at most ${MAX_NAME} characters`);
    }
    if (!isFileId(fileId)) throw new TypeError("an upload's id is a UUID");
    return {
      type: "file",
      file: fileId,
      name,
      mime,
      size: String(this.size),
      chunk_size: String(this.chunkSize),
      chunks: String(this.chunks),
      key: b64(this.key),
      prefix: b64(this.prefix),
      hash: await this.hash(),
    };
  }
}

/** Open a file's parts in order and check them against its `file` message. */
export class FileDecryptor {
  #opened = 0;
  #hash = new FileHash();
  #expected;

  constructor(announcement) {
    // The plaintext as received, or as FileEncryptor's announcement returns it (no sent_at).
    const isObject = announcement !== null && typeof announcement === "object";
    const names = FIELDS.file.filter(
      (name) => name !== "sent_at" || (isObject && Object.hasOwn(announcement, "sent_at")),
    );
    const json = fields(announcement, ["type", ...names], "malformed");
    if (json.type !== "file" || !names.every((name) => typeof json[name] === "string")) {
      refuse("malformed");
    }
    Object.assign(this, checkFile(json));
    this.key = unb64(json.key, 32, "malformed");
    this.prefix = unb64(json.prefix, 16, "malformed");
    this.#expected = json.hash;
  }

  /** Return chunk INDEX, refusing as bad_file a part out of order, mis-sized or altered. */
  async decrypt(index, part) {
    if (!(part instanceof Uint8Array)) throw new TypeError("a part is a Uint8Array");
    // A refused part changes nothing. The file is offered only once finish accepts it.
    if (
      index !== this.#opened ||
      index >= this.chunks ||
      part.length !== partLength(this.size, this.chunkSize, index)
    ) {
      refuse("bad_file");
    }
    const nonce = fileNonce(this.prefix, index, index === this.chunks - 1);
    const chunk = open(this.key, nonce, part) ?? refuse("bad_file");
    this.#opened++;
    await this.#hash.add(part);
    return chunk;
  }

  /** Refuse the file as bad_file unless every part opened and the hash matches. */
  async finish() {
    if (this.#opened !== this.chunks || (await this.#hash.hex()) !== this.#expected) {
      refuse("bad_file");
    }
  }
}
