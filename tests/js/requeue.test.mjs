// A chat sent back to a queue (docs/PROTOCOL.md, "Back to a queue"), as the browser code that
// ships (static/sealdesk/chat.js) does it: Alice parks Carla's chat or sends it to the Billing
// queue, signing her leave; Carla's widget, which pins the organisation key, makes the epoch that
// leaves Alice out, and later adds Bob, who took the chat from the queue, with the history.
// Alice reads nothing written after she left.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { desk, memberIds, messages, notices, text, warnings } from "./server.mjs";

beforeEach(() => {
  globalThis.window = globalThis; // chat.js draws through window.setTimeout
});
afterEach(() => {
  delete globalThis.window;
});

for (const how of ["park", "transfer"]) {
  test(`after Alice's ${how}, Carla's widget leaves her out, and adds Bob when he takes the chat`, async () => {
    const d = await desk();
    await d.alice.sendMessage(text("Let me check with the warehouse."));
    await (how === "park" ? d.alice.park() : d.alice.transferToQueue(7));
    await d.sync("customer");
    assert.deepEqual(memberIds(d.customer), [d.keys.customer.deviceId]);
    assert.ok(notices(d.customer).includes("Alice left the conversation."));
    const said = how === "park" ? "Alice parked the chat until the customer writes again." : "The chat was sent to the Billing queue.";
    assert.ok(notices(d.customer).includes(said));
    await d.customer.sendMessage(text("Still there?"));

    d.join("bob"); // Bob accepted the chat from the queue
    await d.sync("customer", "bob", "alice");
    assert.deepEqual(memberIds(d.customer), [d.keys.customer.deviceId, d.keys.bob.deviceId].sort());
    assert.deepEqual(messages(d.bob), ["Where is my parcel?", "Let me check with the warehouse.", "Still there?"]);
    assert.match(notices(d.customer).at(-1), /You are now talking to Bob\./);
    assert.equal(messages(d.alice).includes("Still there?"), false);
    assert.equal(d.server.wraps().some((w) => w.epoch === d.customer.state.latestEpoch && w.recipient === d.keys.alice.deviceId), false);
    assert.deepEqual([warnings(d.customer), warnings(d.bob)], [[], []]);
  });
}

test("a malicious server that claims Alice parked the chat, with nothing signed, keeps her in", async () => {
  const d = await desk();
  d.server.deliver({ kind: "left", sender: null, body: { device: d.keys.alice.deviceId, reason: "left" } });
  d.server.deliver({ kind: "parked", sender: null, body: { by: { id: 2, display_name: "Alice" }, resume_at: null, expires_at: "2026-12-04T09:00:00Z" } });
  d.join("bob");
  await d.sync("customer");
  // Bob is added (certified) but Alice stays: no leave of hers was signed.
  assert.ok(memberIds(d.customer).includes(d.keys.alice.deviceId));
});

test("what Carla wrote since the park, even offline or as it happened, brings the chat back; a receipt does not", async () => {
  const d = await desk();
  await d.alice.park();
  await d.sync("customer");
  assert.equal(d.customer.wroteSinceParked(), false);
  await d.customer.sendReceipt("read").catch(() => {});
  await d.sync("customer");
  assert.equal(d.customer.wroteSinceParked(), false);
  // Written with the connection down: it waits in the outbox, and counts.
  d.customer.socket.connected = false;
  await d.customer.sendMessage(text("Back from lunch."));
  assert.equal(d.customer.wroteSinceParked(), true);
});

test("a barge from anyone but a supervisor changes nothing", async () => {
  const d = await desk();
  await d.customer.sendMessage({ type: "barge" });
  await d.sync("alice");
  assert.equal(notices(d.alice).some((n) => n.includes("a supervisor, joined")), false);
  assert.equal(d.alice.barged.size, 0);
});
