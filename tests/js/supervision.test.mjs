// A supervisor in a chat (docs/PROTOCOL.md, "Supervisors"), as the browser code that ships
// (static/sealdesk/chat.js) handles it: Sam's certified device is added by a member's signed
// epoch, the customer's widget says he can read, he whispers to Alice, and while he monitors his
// browser sends no receipt. The server lying about who is a supervisor is played too.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { StaffView } from "../../static/sealdesk/staff-view.js";
import * as p from "../../static/sealdesk/protocol.js";
import { CONVERSATION, TENANT, certified, deviceJson, desk, memberIds, notes, notices, text, warnings } from "./server.mjs";

beforeEach(() => {
  globalThis.window = globalThis; // chat.js draws through window.setTimeout
});
afterEach(() => {
  delete globalThis.window;
});

/** Alice's chat with Carla, and Sam, Acme's supervisor, on a dashboard of his own. */
async function floor() {
  const d = await desk();
  const samKeys = await p.generateDevice();
  const sam = new StaffView({
    device: samKeys,
    tenant: TENANT,
    conversation: CONVERSATION,
    customerDevice: deviceJson(d.keys.customer),
    trust: new p.Trust(TENANT, [d.org.publicKey]),
  });
  sam.silent = true; // he monitors
  const device = await certified(d.org, samKeys, "Sam", 4, "supervisor");
  let samSocket = null;
  // He opens the chat: his socket gets its history, as the real server's sync would give it.
  const open = () => {
    samSocket = d.server.socketFor("sam", d.server.streams.get("alice").map(({ seq, ...event }) => event));
    d.server.deliver({ kind: "joined", sender: null, body: { device, role: "supervisor", name: "Sam" } });
  };
  return { ...d, sam, samKeys, open, syncSam: () => sam.connected(samSocket) };
}

test("Sam, monitoring, reads the chat from its start, is named to the customer, whispers, and sends no receipt", async () => {
  const f = await floor();
  await f.alice.sendMessage(text("Hello Carla."));
  f.open();
  await f.sync("alice", "customer");
  await f.syncSam();
  assert.ok(memberIds(f.alice).includes(f.samKeys.deviceId));
  assert.deepEqual(f.sam.items.filter((i) => i.kind === "message").map((i) => i.content.body ?? i.content.question), ["Where is my parcel?", "Hello Carla."]);
  assert.ok(notices(f.customer).some((n) => n.endsWith("Sam, a supervisor, can now read this conversation.")));

  await f.customer.sendMessage(text("Any news?"));
  await f.syncSam();
  await f.sam.markRead();
  await f.sam.sendNote("Tell her it ships today.");
  await f.sync("alice", "customer");
  assert.deepEqual(notes(f.alice), ["Tell her it ships today."]);
  assert.deepEqual(notes(f.customer), []);
  // The only message Sam's browser sent is the whisper: no receipt for the customer to see.
  const sent = f.server.requests.filter((r) => r.from === "sam" && r.type === "send");
  assert.deepEqual(sent.map((r) => r.envelope.scope), ["staff"]);
  assert.deepEqual([warnings(f.customer), warnings(f.alice)], [[], []]);
});

test("a malicious server: an agent announced as a supervisor is shown by its certificate's role", async () => {
  const f = await floor();
  // Bob's certificate says agent; the server's notice says supervisor.
  f.server.deliver({ kind: "joined", sender: null, body: { device: f.devices.bob, role: "supervisor", name: "Sam" } });
  await f.sync("customer");
  const last = notices(f.customer).at(-1);
  assert.match(last, /You are now talking to Alice and Bob\./);
  assert.doesNotMatch(last, /supervisor/);
});

test("a malicious server: a supervisor device without a certificate gets nothing", async () => {
  const f = await floor();
  const stranger = await p.generateDevice();
  f.server.deliver({ kind: "joined", sender: null, body: { device: deviceJson(stranger), role: "supervisor", name: "Sam" } });
  await f.sync("customer", "alice");
  assert.equal(memberIds(f.customer).includes(stranger.deviceId), false);
  assert.equal(f.server.wraps().some((w) => w.recipient === stranger.deviceId), false);
  assert.deepEqual(warnings(f.customer), ["uncertified"]);
});

test("a malicious server lets a monitoring supervisor's text through: nobody shows it until he signs a barge", async () => {
  const f = await floor();
  f.open();
  await f.sync("alice", "customer");
  await f.syncSam();
  await f.sam.sendMessage(text("Psst, Carla."));
  await f.sync("customer", "alice");
  assert.deepEqual([warnings(f.customer), warnings(f.alice)], [["not_barged"], ["not_barged"]]);
  assert.equal(JSON.stringify(f.customer.items).includes("Psst"), false);
  await f.sam.sendMessage({ type: "barge" });
  await f.sam.sendMessage(text("Sam here, Alice's supervisor."));
  await f.sync("customer", "alice");
  assert.ok(notices(f.customer).includes("Sam, a supervisor, joined the conversation."));
  assert.equal(f.customer.items.filter((i) => i.kind === "message").at(-1).content.body, "Sam here, Alice's supervisor.");
});
