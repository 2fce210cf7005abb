// This browser's searchable copy of the conversations it has read: the dashboard's history search
// runs here, over decrypted text, and never sends a word of a query to the server. The copy is kept
// in IndexedDB sealed under a key that only this device's private box key yields (docs/PROTOCOL.md,
// "History on the device"): whoever copies the browser's storage without that key reads nothing.
import nacl from "../vendor/tweetnacl/nacl-fast.mjs";
import { gettext } from "./i18n.js";
import { sharedKey } from "./protocol.js";
import { openStore } from "./store.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LABEL = encoder.encode("sealdesk-local-index-v1");
const VERSION = 1;

/** Return the key that seals DEVICE's local index: SHA-512("sealdesk-local-index-v1" ||
 * crypto_box_beforenm(device box secret, device box public))[0:32]. Only the device's private
 * box key yields it, and a non-extractable WebCrypto key still does. */
export async function indexKey(device) {
  const keys = device.keys ?? device;
  const self = await sharedKey(keys, keys.boxPublic);
  const input = new Uint8Array(LABEL.length + self.length);
  input.set(LABEL);
  input.set(self, LABEL.length);
  return nacl.hash(input).slice(0, 32);
}

/** Seal VALUE (JSON) under KEY: {v, nonce, ct}, with a fresh random nonce. */
export function seal(key, value) {
  const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
  return { v: VERSION, nonce, ct: nacl.secretbox(encoder.encode(JSON.stringify(value)), nonce, key) };
}

/** Return what seal() sealed under KEY, or null when BOX is not one (another key, or altered). */
export function unseal(key, box) {
  if (box?.v !== VERSION || !(box.nonce instanceof Uint8Array) || !(box.ct instanceof Uint8Array)) return null;
  const opened = nacl.secretbox.open(box.ct, box.nonce, key);
  if (!opened) return null;
  try {
    return JSON.parse(decoder.decode(opened));
  } catch {
    return null;
  }
}

/** Return TEXT folded for matching: lower case, without accents, spaces collapsed. */
export function fold(text) {
  return String(text).normalize("NFKD").replace(/\p{M}/gu, "").toLocaleLowerCase().replace(/\s+/g, " ");
}

/** Return the searchable lines of a ConversationView: what people wrote and the files they sent,
 * with who and when (the sender's signed time), in transcript order. */
export function linesOf(view) {
  const lines = [];
  for (const item of view.items) {
    const content = item.content ?? {};
    let text = null;
    if (item.kind === "message" && content.type === "text") text = content.body;
    else if (item.kind === "message" && content.type === "prechat") text = [content.name, content.email, content.question].filter(Boolean).join(" · ");
    else if (item.kind === "message" && content.type === "file") text = gettext("File: {file}", { file: content.name });
    else if (item.kind === "message" && content.type === "rating_comment") text = gettext("Rating comment: {comment}", { comment: content.body });
    else if (item.kind === "note") text = gettext("Staff note: {note}", { note: content.body });
    if (text === null) continue;
    lines.push({ seq: item.seq, at: Number(content.sent_at) || null, who: view.nameOf(item.sender), text });
  }
  return lines;
}

/** The index: conversation id -> {id, team, closedAt, customer, lastSeq, lines}. */
export class LocalIndex {
  constructor(key, store, name, entries = {}) {
    this.key = key;
    this.store = store;
    this.name = name;
    this.entries = new Map(Object.entries(entries));
  }

  /** Open DEVICE's index in this browser (an empty one when there is none, or when what is kept
   * does not open under this device's key: a new device starts its own). STORE: for tests. */
  static async open(device, store = null) {
    const keys = device.keys ?? device;
    const key = await indexKey(keys);
    const kept = store ?? (await openStore("sealdesk-history"));
    const name = `index-${keys.deviceId}`;
    const value = unseal(key, await kept.get(name));
    return new LocalIndex(key, kept, name, value?.entries ?? {});
  }

  has(id, lastSeq = 0) {
    return (this.entries.get(id)?.lastSeq ?? -1) >= lastSeq;
  }

  get(id) {
    return this.entries.get(id) ?? null;
  }

  /** Keep what VIEW of SUMMARY (a history or conversation payload) shows, replacing what was kept. */
  put(summary, view) {
    this.entries.set(summary.id, {
      id: summary.id,
      team: summary.team?.name ?? "",
      closedAt: summary.closed_at ?? null,
      customer: view.nameOf(view.customerId),
      lastSeq: view.lastSeq,
      lines: linesOf(view),
    });
  }

  /** Write the index back, sealed. */
  save() {
    return this.store.put(this.name, seal(this.key, { entries: Object.fromEntries(this.entries) }));
  }

  /** Return the conversations in which every word of QUERY occurs, newest first, each with the
   * lines that hold one of them (at most LIMIT lines each). */
  search(query, limit = 3) {
    const words = fold(query).split(" ").filter(Boolean);
    if (!words.length) return [];
    const found = [];
    for (const entry of this.entries.values()) {
      const folded = entry.lines.map((line) => fold(`${line.who} ${line.text}`));
      const all = `${fold(entry.customer)} ${folded.join(" ")}`;
      if (!words.every((word) => all.includes(word))) continue;
      const lines = entry.lines.filter((_, i) => words.some((word) => folded[i].includes(word))).slice(0, limit);
      found.push({ entry, lines });
    }
    return found.sort((a, b) => String(b.entry.closedAt ?? "").localeCompare(String(a.entry.closedAt ?? "")));
  }
}
