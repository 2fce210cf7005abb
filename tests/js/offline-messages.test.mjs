// A message left for a team (docs/PROTOCOL.md, "Messages left"), as the browser code that ships
// (static/sealdesk/chat.js) does it: Carla's widget, which pins the organisation key, encrypts her
// message to every certified browser of the team that the server names (Alice's and Bob's);
// Alice picks it up, and her browser makes the next epoch without Bob, who reads nothing of
// what follows. A server that lies about a message can only make a browser leave out devices
// that never wrote, never let one in.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import * as p from "../../static/sealdesk/protocol.js";
import { ORG_SEED, Server, certified, deviceJson, memberIds, messages, notices, pinnedViews, text, warnings } from "./server.mjs";

beforeEach(() => {
  globalThis.window = globalThis; // chat.js draws through window.setTimeout
});
afterEach(() => {
  delete globalThis.window;
});

/** Carla leaves a message while nobody answers: the server names Alice's and Bob's approved
 * browsers (and Mallory's, which no organisation key signed) and Carla's widget writes to them. */
async function leftMessage() {
  const org = await p.importOrgKey(ORG_SEED);
  const server = new Server();
  const keys = { customer: await p.generateDevice(), alice: await p.generateDevice(), bob: await p.generateDevice(), mallory: await p.generateDevice() };
  const devices = {
    alice: await certified(org, keys.alice, "Alice", 2),
    bob: await certified(org, keys.bob, "Bob", 3),
    mallory: deviceJson(keys.mallory),
  };
  const { views, sync } = pinnedViews(server, org, keys, ["customer", "alice", "bob"]);
  await sync("customer");
  for (const name of ["alice", "bob", "mallory"]) {
    server.deliver({ kind: "joined", sender: null, body: { device: devices[name], role: "agent", name: "Someone" } });
  }
  await sync("customer");
  await views.customer.sendMessage({ type: "prechat", name: "Carla", email: "", question: "My parcel never came. Please call me back." });
  await sync("alice", "bob");
  return { org, server, keys, devices, sync, ...views };
}

test("Carla's message reaches every approved browser of the team, and no device the server made up", async () => {
  const d = await leftMessage();
  assert.deepEqual(memberIds(d.customer), [d.keys.customer.deviceId, d.keys.alice.deviceId, d.keys.bob.deviceId].sort());
  assert.equal(d.server.wraps().some((w) => w.recipient === d.keys.mallory.deviceId), false);
  assert.deepEqual(messages(d.alice), ["My parcel never came. Please call me back."]);
  assert.deepEqual(messages(d.bob), ["My parcel never came. Please call me back."]);
  assert.deepEqual(warnings(d.customer), ["uncertified"]); // Mallory's notice, refused
});

test("Alice picks it up: her browser leaves Bob out, and Bob reads nothing written after", async () => {
  const d = await leftMessage();
  await d.alice.claim();
  await d.sync("customer", "alice", "bob");
  assert.deepEqual(memberIds(d.customer), [d.keys.customer.deviceId, d.keys.alice.deviceId].sort());
  assert.deepEqual(memberIds(d.alice), memberIds(d.customer));
  await d.alice.sendMessage(text("Good morning Carla, I am calling you now."));
  await d.sync("customer", "bob");
  assert.deepEqual(messages(d.customer), ["My parcel never came. Please call me back.", "Good morning Carla, I am calling you now."]);
  assert.equal(messages(d.bob).includes("Good morning Carla, I am calling you now."), false);
  // Carla's widget, back later, keeps it so: nobody is added again from the old notices.
  await d.customer.sendMessage(text("Thank you!"));
  await d.sync("customer", "alice");
  assert.deepEqual(memberIds(d.customer), [d.keys.customer.deviceId, d.keys.alice.deviceId].sort());
  assert.deepEqual(messages(d.alice).at(-1), "Thank you!");
  // Only Mallory's notice, which no organisation key signed, is refused on each screen.
  assert.deepEqual([warnings(d.alice), warnings(d.bob)], [["uncertified"], ["uncertified"]]);
});

test("a server that claims an ordinary chat was a message cannot make Alice drop a colleague who wrote", async () => {
  const d = await leftMessage();
  await d.bob.sendMessage(text("I am on it too."));
  await d.sync("alice");
  await d.alice.claim();
  await d.sync("customer", "alice");
  assert.deepEqual(memberIds(d.customer), [d.keys.customer.deviceId, d.keys.alice.deviceId, d.keys.bob.deviceId].sort());
});

test("a claim once the chat has moved on changes nothing, and never adds a device", async () => {
  const d = await leftMessage();
  await d.alice.claim();
  await d.sync("customer", "alice", "bob");
  // A later epoch of Alice's: a second claim (a reload) finds no message epoch to trim.
  const before = memberIds(d.alice);
  await d.alice.claim();
  await d.sync("customer", "alice");
  assert.deepEqual(memberIds(d.alice), before);
  assert.equal(memberIds(d.alice).includes(d.keys.mallory.deviceId), false);
});

test("a colleague who sent only a staff note, or a receipt, is not dropped by a claim", async () => {
  const d = await leftMessage();
  await d.bob.sendReceipt("read").catch(() => {});
  await d.sync("alice");
  await d.alice.claim();
  await d.sync("customer", "alice");
  assert.ok(memberIds(d.customer).includes(d.keys.bob.deviceId));
});

test("the claim's epoch lets nobody in; a device the server names later comes in its own epoch, seen by all", async () => {
  const d = await leftMessage();
  const dave = await p.generateDevice();
  d.server.deliver({ kind: "joined", sender: null, body: { device: await certified(d.org, dave, "Dave", 4), role: "agent", name: "Dave" } });
  await d.alice.claim();
  await d.sync("customer", "alice");
  const claimEpoch = d.alice.epochs.get(2);
  assert.equal(claimEpoch.creator, d.keys.alice.deviceId);
  assert.deepEqual(claimEpoch.members.map((m) => m.deviceId).sort(), [d.keys.customer.deviceId, d.keys.alice.deviceId].sort());
  // As in any chat ("Who makes epochs"), a certified colleague the server asks in is added
  // next, with a notice on every screen, Carla's too.
  assert.ok(memberIds(d.customer).includes(dave.deviceId));
  assert.ok(notices(d.customer).some((n) => n.includes("Dave")));
});
