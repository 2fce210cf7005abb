// The organisation key in a tenant admin's browser: made here, kept in IndexedDB (a
// non-extractable WebCrypto key where the browser has Ed25519), and backed up to a file encrypted
// under a passphrase (docs/PROTOCOL.md, "Organisation key backup"). The server never sees the
// private key, the seed or the passphrase.
//
// The backup's key comes from the passphrase through PBKDF2-HMAC-SHA-256 with 600,000 iterations
// (OWASP's 2023 figure), the strongest key derivation WebCrypto offers: a memory-hard one
// (Argon2id) would need WebAssembly, which the pages' Content-Security-Policy does not allow.
import nacl from "../vendor/tweetnacl/nacl-fast.mjs";

import { DeviceKeys, OrgKey, generateDevice, importOrgKey, newOrgSeed, orgKeyId, sharedKey } from "./protocol.js";
import { openStore } from "./store.js";

export const BACKUP_FORMAT = "sealdesk-org-key-backup-v1";
export const ITERATIONS = 600_000;
export const MIN_PASSPHRASE = 12;

const encoder = new TextEncoder();
const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

async function backupKey(passphrase, salt, iterations) {
  const material = await crypto.subtle.importKey("raw", encoder.encode(passphrase), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, material, 256);
  return new Uint8Array(bits);
}

// The backup's box also seals what it is a backup of, so that a file cannot be passed off as
// another tenant's or another key's.
function label(tenant, publicKey) {
  return encoder.encode(`${BACKUP_FORMAT}\n${tenant}\n${b64(publicKey)}\n`);
}

/** Return the backup (a JSON-able object) of the organisation key of SEED, under PASSPHRASE. */
export async function sealBackup(tenant, seed, passphrase, { iterations = ITERATIONS } = {}) {
  if ([...passphrase].length < MIN_PASSPHRASE) {
    throw new TypeError(`a passphrase has at least ${MIN_PASSPHRASE} characters`);
  }
  const publicKey = nacl.sign.keyPair.fromSeed(seed).publicKey;
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const nonce = crypto.getRandomValues(new Uint8Array(24));
  const key = await backupKey(passphrase, salt, iterations);
  const sealed = nacl.secretbox(new Uint8Array([...label(tenant, publicKey), ...seed]), nonce, key);
  return {
    format: BACKUP_FORMAT,
    tenant,
    public_key: b64(publicKey),
    fingerprint: orgKeyId(publicKey),
    kdf: { name: "PBKDF2-HMAC-SHA-256", iterations, salt: b64(salt) },
    nonce: b64(nonce),
    ct: b64(sealed),
  };
}

/** Return the seed a backup holds, or throw an Error that says, in words, why not. */
export async function openBackup(backup, passphrase) {
  const shaped =
    backup?.format === BACKUP_FORMAT &&
    typeof backup.tenant === "string" &&
    backup.kdf?.name === "PBKDF2-HMAC-SHA-256" &&
    Number.isSafeInteger(backup.kdf.iterations) &&
    backup.kdf.iterations >= 100_000;
  if (!shaped) throw new Error("This file is not a Sealdesk organisation key backup.");
  let publicKey;
  let opened;
  try {
    publicKey = unb64(backup.public_key);
    const key = await backupKey(passphrase, unb64(backup.kdf.salt), backup.kdf.iterations);
    opened = nacl.secretbox.open(unb64(backup.ct), unb64(backup.nonce), key);
  } catch {
    throw new Error("This file is not a Sealdesk organisation key backup.");
  }
  const expected = label(backup.tenant, publicKey);
  if (!opened) throw new Error("The passphrase does not open this backup.");
  const seed = opened.slice(expected.length);
  const matches = opened.length === expected.length + 32 && expected.every((byte, i) => opened[i] === byte);
  if (!matches || b64(nacl.sign.keyPair.fromSeed(seed).publicKey) !== backup.public_key) {
    throw new Error("This backup is damaged: it does not hold the key it names.");
  }
  return { tenant: backup.tenant, publicKey, seed };
}

// This browser's copy, per tenant: an OrgKey whose private key cannot be read back out, and its
// seed sealed under a non-extractable AES-GCM key, so that this browser can give the key to
// another admin's browser without the seed lying in storage in clear.
const store = () => openStore("sealdesk-org");

/** Keep the organisation key ORG of TENANT, made from SEED, in this browser. */
export async function keepOrgKey(tenant, org, seed) {
  const wrapping = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, wrapping, seed));
  await (await store()).put(tenant, { publicKey: org.publicKey, secrets: org.secrets, seed: { wrapping, iv, sealed } });
}

/** Return the seed of the organisation key of TENANT this browser keeps, or null. */
export async function keptSeed(tenant) {
  const kept = await (await store()).get(tenant);
  if (!kept?.seed) return null;
  const { wrapping, iv, sealed } = kept.seed;
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, wrapping, sealed));
}

/** Return the organisation key of TENANT this browser keeps, or null. */
export async function keptOrgKey(tenant) {
  const kept = await (await store()).get(tenant);
  return kept ? new OrgKey(kept.publicKey, kept.secrets) : null;
}

/** Make a fresh organisation key: its seed (for the backup only) and the key to sign with. */
export async function createOrgKey() {
  const seed = newOrgSeed();
  return { seed, org: await importOrgKey(seed) };
}

// Giving the key to another browser (docs/PROTOCOL.md, "Giving the key to another browser"):
// the asking browser makes keys of its own and shows their fingerprint; a browser that holds the
// organisation key seals its seed to them, after its admin compared the fingerprints.

function shareLabel(tenant, orgPublic, recipient) {
  return encoder.encode(`sealdesk-org-share-v1\n${tenant}\n${b64(orgPublic)}\n${recipient}\n`);
}

/** Return this browser's keys for asking for the organisation key of TENANT, made once. */
export async function askingDevice(tenant) {
  const kv = await store();
  const kept = await kv.get(`ask-${tenant}`);
  if (kept) return new DeviceKeys(kept.signPublic, kept.boxPublic, kept.secrets);
  const made = await generateDevice();
  await kv.put(`ask-${tenant}`, { signPublic: made.signPublic, boxPublic: made.boxPublic, secrets: made.secrets });
  return made;
}

/** Seal SEED, of the organisation key ORG_PUBLIC, to the asking device RECIPIENT (its id and
 * box key), from keys made for this once. */
export async function sealShare(tenant, orgPublic, seed, recipient) {
  const holder = await generateDevice();
  const nonce = crypto.getRandomValues(new Uint8Array(24));
  const key = await sharedKey(holder, recipient.boxPublic);
  const label = shareLabel(tenant, orgPublic, recipient.deviceId);
  const ct = nacl.secretbox(new Uint8Array([...label, ...seed]), nonce, key);
  return { holder_sign_public: b64(holder.signPublic), holder_box_public: b64(holder.boxPublic), nonce: b64(nonce), ct: b64(ct) };
}

/** Return the seed a share sealed to ME holds for the organisation key ORG_PUBLIC, or throw an
 * Error that says why not. */
export async function openShare(tenant, orgPublic, me, share) {
  let opened = null;
  try {
    const key = await sharedKey(me, unb64(share.holder_box_public));
    opened = nacl.secretbox.open(unb64(share.ct), unb64(share.nonce), key);
  } catch {
    opened = null;
  }
  const label = shareLabel(tenant, orgPublic, me.deviceId);
  const seed = opened ? opened.slice(label.length) : null;
  const fits = opened !== null && opened.length === label.length + 32 && label.every((byte, i) => opened[i] === byte);
  if (!fits || b64(nacl.sign.keyPair.fromSeed(seed).publicKey) !== b64(orgPublic)) {
    throw new Error("The key given to this browser does not open, or is not this organisation's.");
  }
  return seed;
}
