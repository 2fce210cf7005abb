// History on the device (docs/PROTOCOL.md, "History on the device"), as the dashboard's code that
// ships (static/sealdesk/archive.js, chat.js) does it: a closed chat read again sends nothing
// whatever the server shows; the searchable copy is sealed under a key only the device's private
// box key yields, which no other device opens and whose bytes hold no word; search finds every
// word in any case or accent, newest first.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import nacl from "../../static/vendor/tweetnacl/nacl-fast.mjs";
import { LocalIndex, fold, indexKey, linesOf, seal, unseal } from "../../static/sealdesk/archive.js";
import { ConversationView } from "../../static/sealdesk/chat.js";
import * as p from "../../static/sealdesk/protocol.js";
import { CONVERSATION, TENANT, chat, deviceJson, messages, text } from "./server.mjs";

beforeEach(() => {
  globalThis.window = globalThis; // chat.js draws through window.setTimeout
});
afterEach(() => {
  delete globalThis.window;
  p.useBackend(null);
});

const bytes = (n) => new Uint8Array(32).fill(n);

/** A key-value store as openStore gives, in memory. */
function memoryStore() {
  const kept = new Map();
  return { kept, get: async (key) => kept.get(key), put: async (key, value) => kept.set(key, value) };
}

/** A closed chat: Carla asks, Alice answers and ends it. */
async function closedChat() {
  const c = await chat();
  await c.agent.sendMessage(text("Parcel 7781 left the Zürich depot."));
  await c.customer.connected(c.customerSocket);
  await c.agent.close({ disposition: "resolved" });
  await c.agent.connected(c.agentSocket);
  return c;
}

test("the index key is the spec's formula, the same with WebCrypto keys and tweetnacl keys", async () => {
  const secrets = { signSeed: bytes(1), boxSecret: bytes(2) };
  p.useBackend("tweetnacl");
  const plain = await p.importDevice(secrets);
  const fromNacl = await indexKey(plain);
  p.useBackend(null);
  const webcrypto = await p.importDevice(secrets);
  assert.deepEqual(await indexKey(webcrypto), fromNacl);
  const label = new TextEncoder().encode("sealdesk-local-index-v1");
  const beforenm = nacl.box.before(plain.boxPublic, bytes(2));
  assert.deepEqual(fromNacl, nacl.hash(new Uint8Array([...label, ...beforenm])).slice(0, 32));
  const other = await p.importDevice({ signSeed: bytes(1), boxSecret: bytes(3) });
  assert.notDeepEqual(await indexKey(other), fromNacl);
});

test("a sealed value opens under its key only, and not once altered", async () => {
  const key = await indexKey(await p.generateDevice());
  const box = seal(key, { words: "Zürich depot" });
  assert.deepEqual(unseal(key, box), { words: "Zürich depot" });
  assert.equal(unseal(await indexKey(await p.generateDevice()), box), null);
  const altered = { ...box, ct: box.ct.slice() };
  altered.ct[20] ^= 1;
  assert.equal(unseal(key, altered), null);
  assert.equal(unseal(key, { ...box, v: 2 }), null);
  assert.equal(unseal(key, undefined), null);
  assert.notDeepEqual(seal(key, 1).nonce, seal(key, 1).nonce);
});

test("reading a closed chat from the history sends nothing, and shows it decrypted", async () => {
  const c = await closedChat();
  const before = c.server.requests.length;
  // Alice's dashboard after a reload: a fresh view of the same device reads the whole chat.
  const again = new ConversationView({ device: c.agentKeys, tenant: TENANT, conversation: CONVERSATION, customerDevice: deviceJson(c.customerKeys) });
  await again.readAll(c.server.reconnect("agent"));
  assert.deepEqual(messages(again), ["Where is my parcel?", "Parcel 7781 left the Zürich depot."]);
  assert.equal(again.closed, true);
  // A server that adds messages from the customer after the close gets no receipt either.
  const late = await chat({ server: c.server, customerKeys: c.customerKeys });
  await late.customer.sendMessage(text("hello?"));
  await again.readAll(c.server.reconnect("agent"));
  const sent = c.server.requests.slice(before).filter((r) => r.from === "agent" && r.type !== "sync");
  assert.deepEqual(sent, []);
});

test("the copy kept for searching opens on this device only, and its bytes hold no word", async () => {
  const c = await closedChat();
  const store = memoryStore();
  const index = await LocalIndex.open(c.agentKeys, store);
  const summary = { id: CONVERSATION, team: { name: "Support" }, closed_at: "2026-12-01T10:00:00Z" };
  index.put(summary, c.agent);
  await index.save();
  const [name, box] = [...store.kept.entries()][0];
  assert.equal(name, `index-${c.agentKeys.deviceId}`);
  for (const word of ["7781", "Carla", "parcel", "Support"]) {
    assert.equal(Buffer.from(box.ct).includes(word), false, word);
  }
  const reopened = await LocalIndex.open(c.agentKeys, store);
  assert.equal(reopened.get(CONVERSATION).customer, "Carla");
  assert.equal(reopened.has(CONVERSATION, c.agent.lastSeq), true);
  assert.equal(reopened.has(CONVERSATION, c.agent.lastSeq + 1), false);
  // Another device (a copy of this browser's storage without its key) finds nothing there.
  const stranger = memoryStore();
  stranger.kept.set(`index-${c.customerKeys.deviceId}`, box);
  assert.equal((await LocalIndex.open(c.customerKeys, stranger)).entries.size, 0);
});

test("lines name who wrote what and when; notes and files count, receipts and notices do not", () => {
  const view = {
    nameOf: (id) => ({ c: "Carla", a: "You" })[id],
    items: [
      { seq: 1, kind: "message", sender: "c", content: { type: "prechat", name: "Carla", email: "c@example.org", question: "Hi?", sent_at: "1000" } },
      { seq: 2, kind: "notice", content: { text: "Alice joined the chat." } },
      { seq: 3, kind: "message", sender: "a", content: { type: "text", body: "Hello", sent_at: "2000" } },
      { seq: 4, kind: "receipt", sender: "c", content: { type: "receipt", state: "read" } },
      { seq: 5, kind: "note", sender: "a", content: { type: "note", body: "VIP", sent_at: "3000" } },
      { seq: 6, kind: "message", sender: "c", content: { type: "file", name: "label.pdf", sent_at: "4000" } },
      { seq: 7, kind: "held" },
    ],
  };
  assert.deepEqual(linesOf(view), [
    { seq: 1, at: 1000, who: "Carla", text: "Carla · c@example.org · Hi?" },
    { seq: 3, at: 2000, who: "You", text: "Hello" },
    { seq: 5, at: 3000, who: "You", text: "Staff note: VIP" },
    { seq: 6, at: 4000, who: "Carla", text: "File: label.pdf" },
  ]);
});

test("search needs every word, in any case or accent, and lists the newest chat first", () => {
  const index = new LocalIndex(null, null, "test");
  const entry = (id, closedAt, customer, ...lines) => index.entries.set(id, { id, closedAt, customer, team: "Support", lastSeq: 9, lines: lines.map((t, i) => ({ seq: i + 1, at: null, who: "Carla", text: t })) });
  entry("old", "2026-11-01T09:00:00Z", "Carla", "Where is parcel 7781?", "It left the Zürich depot.");
  entry("new", "2026-11-30T09:00:00Z", "Dora", "My parcel from ZURICH is late.");
  entry("other", "2026-11-15T09:00:00Z", "Emil", "Can I return a kettle?");
  assert.deepEqual(index.search("zurich parcel").map((r) => r.entry.id), ["new", "old"]);
  assert.deepEqual(index.search("ZÜRICH 7781").map((r) => r.entry.id), ["old"]);
  assert.deepEqual(index.search("zurich 7781")[0].lines.map((l) => l.text), ["Where is parcel 7781?", "It left the Zürich depot."]);
  assert.deepEqual(index.search("emil").map((r) => r.entry.id), ["other"]); // the customer's name
  assert.deepEqual(index.search("zurich kettle"), []);
  assert.deepEqual(index.search("   "), []);
  assert.equal(fold("  Ça  Va\tBIEN "), " ca va bien ");
});
