// More than one agent in a chat, as the browser code that ships (static/sealdesk/chat.js) does
// it over an honest server: Alice asks Bob in for a conference, or hands the chat over to him
// (a warm transfer) and leaves. Every member change is an epoch a member signed; whoever leaves
// reads nothing written afterwards. tests/js/malicious-server.test.mjs plays the server lying
// about the same steps.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import * as p from "../../static/sealdesk/protocol.js";
import { CONVERSATION, TENANT, desk, memberIds, messages, notices, text, warnings } from "./server.mjs";

beforeEach(() => {
  globalThis.window = globalThis; // chat.js draws through window.setTimeout
});
afterEach(() => {
  delete globalThis.window;
});


test("a warm transfer: Alice adds Bob, who reads it all, then leaves; she reads nothing after", async () => {
  const d = await desk();
  await d.alice.sendMessage(text("Let me get my colleague Bob."));
  d.join("bob"); // Bob accepted Alice's invitation
  await d.sync("alice");
  // Alice's browser made the epoch that adds Bob, and gave him the earlier epochs' keys.
  const made = d.server.requests.filter((r) => r.type === "epoch");
  assert.deepEqual(made.map((r) => r.from), ["customer", "customer", "alice"]);
  assert.ok(d.server.wraps().filter((w) => w.recipient === d.keys.bob.deviceId).length >= 3);
  await d.sync("bob", "customer");
  assert.deepEqual(messages(d.bob), ["Where is my parcel?", "Let me get my colleague Bob."]);
  assert.match(notices(d.customer).at(-1), /You are now talking to Alice and Bob\./);

  await d.alice.leave();
  await d.sync("bob", "customer", "alice");
  assert.deepEqual(memberIds(d.customer), [d.keys.customer.deviceId, d.keys.bob.deviceId].sort());
  assert.ok(notices(d.customer).some((n) => n === "Alice left the conversation."));
  assert.match(notices(d.customer).at(-1), /You are now talking to Bob\./);

  await d.customer.sendMessage(text("Hi Bob, it is order 1234."));
  await d.bob.sendMessage(text("Found it, Carla."));
  await d.sync("customer", "bob", "alice");
  assert.deepEqual(messages(d.customer).slice(-2), ["Hi Bob, it is order 1234.", "Found it, Carla."]);
  assert.deepEqual(messages(d.bob).slice(-2), ["Hi Bob, it is order 1234.", "Found it, Carla."]);
  // Alice's browser accepted the epoch that left her out but holds no key of it: no wrap went to
  // her, and what was written after her leave waits, unreadable, in her view.
  const latest = d.customer.state.latestEpoch;
  assert.equal(d.alice.state.keyOf(latest), null);
  assert.equal(d.server.wraps().filter((w) => w.epoch === latest && w.recipient === d.keys.alice.deviceId).length, 0);
  assert.equal(messages(d.alice).includes("Hi Bob, it is order 1234."), false);
  assert.deepEqual([warnings(d.customer), warnings(d.bob)], [[], []]);
});

test("what a member signs after leaving is refused by everyone still in", async () => {
  const d = await desk();
  d.join("bob");
  await d.sync("alice", "bob", "customer");
  await d.alice.leave();
  await d.sync("bob", "customer");
  // Alice's device (or the server replaying its keys) writes in the epoch she was still in.
  const before = d.alice.state.latestEpoch;
  const record = d.alice.epochs.get(before);
  const content = { ...text("I am still here."), sent_at: "2026-12-01T09:00:00Z" };
  const late = await p.encryptMessage(d.keys.alice, TENANT, CONVERSATION, record, d.alice.state.keyOf(before), 3, content, { after: d.alice.state.after });
  d.server.deliver({ kind: "message", sender: d.keys.alice.deviceId, body: late.toJSON() });
  await d.sync("bob", "customer");
  assert.deepEqual([warnings(d.customer), warnings(d.bob)], [["not_a_member"], ["not_a_member"]]);
});

test("a conference: Alice and Bob both read and write; either leaves and the other stays", async () => {
  const d = await desk();
  d.join("bob");
  await d.sync("alice", "bob", "customer");
  await d.bob.sendMessage(text("Hello Carla, Bob from billing here."));
  await d.sync("alice", "customer");
  await d.customer.sendMessage(text("Thank you both."));
  await d.sync("alice", "bob", "customer");
  for (const view of [d.customer, d.alice, d.bob]) {
    assert.deepEqual(messages(view).slice(-2), ["Hello Carla, Bob from billing here.", "Thank you both."]);
    assert.deepEqual(warnings(view), []);
  }
  // The widget names the two certified agents it talks to; both dashboards compute the same
  // safety number as the customer's widget.
  assert.match(notices(d.customer).at(-1), /You are now talking to Alice and Bob\./);
  assert.equal(d.alice.safetyNumber(), d.customer.safetyNumber());
  assert.equal(d.bob.safetyNumber(), d.customer.safetyNumber());

  await d.bob.leave();
  await d.sync("alice", "customer");
  assert.deepEqual(memberIds(d.alice), [d.keys.customer.deviceId, d.keys.alice.deviceId].sort());
  await d.alice.sendMessage(text("Bob had to go; I am still here."));
  await d.sync("customer", "bob");
  assert.equal(messages(d.customer).at(-1), "Bob had to go; I am still here.");
  assert.equal(messages(d.bob).includes("Bob had to go; I am still here."), false);
});

test("two members adding the same colleague at once make one epoch, not two", async () => {
  const d = await desk();
  d.join("bob");
  // The customer's widget and Alice's dashboard both see Bob join before either hears the other.
  await d.customer.syncNow();
  await d.alice.syncNow();
  const made = await Promise.allSettled([d.customer.makeEpoch(), d.alice.makeEpoch()]);
  // Whichever reached the server first was stored; the other heard epoch_conflict.
  assert.deepEqual(made.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
  assert.equal(made.find((r) => r.status === "rejected").reason.code, "epoch_conflict");
  await d.sync("alice", "bob", "customer");
  assert.deepEqual(memberIds(d.alice), memberIds(d.customer));
  assert.ok(memberIds(d.customer).includes(d.keys.bob.deviceId));
  const stored = d.server.streams.get("customer").filter((e) => e.kind === "epoch");
  assert.deepEqual(stored.map((e) => e.body.record.epoch), [0, 1, 2]);
  assert.deepEqual([warnings(d.customer), warnings(d.alice), warnings(d.bob)], [[], [], []]);
});

test("asked back in after leaving, an agent is added again", async () => {
  const d = await desk();
  d.join("bob");
  await d.sync("alice", "bob", "customer");
  await d.alice.leave();
  await d.sync("bob", "customer");
  assert.deepEqual(memberIds(d.bob), [d.keys.customer.deviceId, d.keys.bob.deviceId].sort());
  d.join("alice"); // Bob asked Alice back
  await d.sync("bob", "customer", "alice");
  assert.deepEqual(memberIds(d.customer), [d.keys.customer.deviceId, d.keys.alice.deviceId, d.keys.bob.deviceId].sort());
  await d.bob.sendMessage(text("Alice is back with us."));
  await d.sync("alice");
  assert.equal(messages(d.alice).at(-1), "Alice is back with us.");
});

test("a message refused for good frees its number, so the next one is not refused as out of order", async () => {
  const d = await desk();
  await d.sync("alice");
  const handle = d.server.handle.bind(d.server);
  let refuse = true;
  const numbers = [];
  d.server.handle = async (name, frame) => {
    if (frame.type === "send" && name === "alice") numbers.push(frame.envelope.seq);
    if (frame.type === "send" && refuse) {
      refuse = false;
      throw Object.assign(new Error("supervisor_monitoring"), { code: "supervisor_monitoring", detail: "no" });
    }
    return handle(name, frame);
  };
  await assert.rejects(d.alice.sendMessage(text("Refused.")));
  assert.deepEqual(d.alice.pending(), []);
  await d.alice.sendMessage(text("Sent."));
  assert.equal(numbers.length, 2);
  assert.equal(numbers[1], numbers[0]);
});
