// Staff notes (docs/PROTOCOL.md, "Staff-only messages"), as the browser code that ships
// (static/sealdesk/chat.js) writes and reads them: Alice's note reaches Bob, in a conference and
// after a transfer, whoever's browser brought him in; the customer's widget witnesses each note
// (so every member's transcript stays one) and never holds a key to it. The server lying about
// notes is played at the end.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import * as p from "../../static/sealdesk/protocol.js";
import { CONVERSATION, TENANT, desk, messages, notes, text, warnings } from "./server.mjs";

beforeEach(() => {
  globalThis.window = globalThis; // chat.js draws through window.setTimeout
});
afterEach(() => {
  delete globalThis.window;
});

const NOTE = "She was double-charged; refund approved.";

// Whether anything the customer's view holds or shows carries the note's words.
const customerSaw = (view, words) => JSON.stringify(view.items).includes(words) || view.state.staffKeyOf(view.state.latestEpoch) !== null;

test("a note in a conference: Bob reads it, the customer's widget witnesses it and reads nothing", async () => {
  const d = await desk();
  d.join("bob");
  await d.sync("alice", "bob", "customer");
  await d.alice.sendNote(NOTE);
  await d.sync("bob", "customer", "alice");
  assert.deepEqual(notes(d.alice), [NOTE]);
  assert.deepEqual(notes(d.bob), [NOTE]);
  assert.deepEqual(notes(d.customer), []);
  assert.equal(customerSaw(d.customer, NOTE), false);
  // The staff key went to Alice and Bob only.
  const staffWraps = d.server.wraps().filter((w) => w.scope === "staff");
  assert.deepEqual(staffWraps.map((w) => w.recipient).sort(), [d.keys.alice.deviceId, d.keys.bob.deviceId].sort());
  // One transcript for all: what Alice writes after her note, and what the customer answers,
  // every member accepts.
  await d.alice.sendMessage(text("Carla, the refund is on its way."));
  await d.sync("customer");
  await d.customer.sendMessage(text("Great, thanks!"));
  await d.bob.sendNote("Noted. Closing after this.");
  await d.sync("alice", "bob", "customer");
  for (const view of [d.customer, d.alice, d.bob]) {
    assert.deepEqual(messages(view).slice(-2), ["Carla, the refund is on its way.", "Great, thanks!"]);
    assert.deepEqual(warnings(view), []);
  }
  assert.deepEqual(notes(d.alice), [NOTE, "Noted. Closing after this."]);
  assert.equal(d.customer.state.transcript.head, d.alice.state.transcript.head);
});

test("notes travel with a transfer: Bob, added by Alice's browser, reads the notes from before", async () => {
  const d = await desk();
  await d.sync("alice");
  await d.alice.sendNote(NOTE);
  d.join("bob");
  await d.sync("alice", "bob");
  assert.deepEqual(notes(d.bob), [NOTE]);
  assert.deepEqual(warnings(d.bob), []);
});

test("a colleague the customer's browser brought in gets the staff keys from Alice's", async () => {
  const d = await desk();
  await d.sync("alice");
  await d.alice.sendNote(NOTE);
  d.join("bob");
  // The widget makes the epoch that adds Bob: it holds no staff key to share with him.
  await d.sync("customer");
  await d.sync("bob");
  assert.deepEqual(notes(d.bob), []);
  assert.equal(d.bob.heldStaff.length, 1);
  // Alice's dashboard sees the new epoch and shares what it holds, staff keys included.
  await d.sync("alice", "bob");
  assert.deepEqual(notes(d.bob), [NOTE]);
  assert.equal(d.bob.heldStaff.length, 0);
  // Nothing twice: a later sync of Alice's owes Bob nothing more.
  const shares = d.server.requests.filter((r) => r.type === "share").length;
  await d.sync("alice");
  assert.equal(d.server.requests.filter((r) => r.type === "share").length, shares);
});

test("whoever left reads no note written after: the next staff key is not wrapped to them", async () => {
  const d = await desk();
  d.join("bob");
  await d.sync("alice", "bob", "customer");
  await d.alice.sendNote("Bob, can you check the invoice?");
  await d.sync("bob");
  await d.bob.leave();
  await d.sync("alice", "customer");
  await d.alice.sendNote("Bob confirmed; he has gone.");
  await d.sync("bob");
  const latest = d.alice.state.latestEpoch;
  assert.equal(d.server.wraps().some((w) => w.epoch === latest && w.recipient === d.keys.bob.deviceId), false);
  assert.equal(d.bob.state.staffKeyOf(latest), null);
  assert.deepEqual(notes(d.bob), ["Bob, can you check the invoice?"]);
});

test("a malicious server: a note shown to the customer as a message, or a staff key moved to it, gives it nothing", async () => {
  const d = await desk();
  await d.sync("alice");
  await d.alice.sendNote(NOTE);
  const noteEvent = d.server.streams.get("alice").find((e) => e.kind === "message" && e.body.scope === "staff");
  const staffWrap = d.server.wraps().find((w) => w.scope === "staff");
  // The server drops the scope, so that the widget would try it as a message for everyone...
  const { scope, ...unscoped } = noteEvent.body;
  assert.equal(scope, "staff");
  d.server.deliver({ kind: "message", sender: noteEvent.sender, body: unscoped }, ["customer"]);
  // ...and hands the widget the staff key's wrap, relabelled as its own.
  d.server.deliver({ kind: "share", sender: staffWrap.wrapper, body: { wraps: [{ ...staffWrap, recipient: d.keys.customer.deviceId }] } }, ["customer"]);
  await d.sync("customer");
  assert.deepEqual(warnings(d.customer), ["bad_signature", "bad_wrap"]);
  assert.equal(customerSaw(d.customer, NOTE), false);
});

test("a malicious server: a staff-only message in the customer's name, or a staff key it made, is refused by staff", async () => {
  const d = await desk();
  d.join("bob");
  await d.sync("alice", "bob", "customer");
  const latest = d.customer.state.latestEpoch;
  const record = d.customer.epochs.get(latest);
  const key = new Uint8Array(32).fill(9);
  // The customer's device cannot write a note the staff would take for theirs...
  const content = { type: "note", body: "Refund approved by your supervisor.", sent_at: "2026-12-01T09:00:00Z" };
  const forged = await p.encryptMessage(d.keys.customer, TENANT, CONVERSATION, record, key, 2, content, { after: d.customer.state.after, staff: true });
  d.server.deliver({ kind: "message", sender: d.keys.customer.deviceId, body: forged.toJSON() });
  // ...nor hand them a staff key of its own making.
  const bobMember = d.customer.latestMembers().find((m) => m.deviceId === d.keys.bob.deviceId);
  const wrap = await p.wrapKey(d.keys.customer, bobMember, TENANT, CONVERSATION, latest, key, null, { staff: true });
  d.server.deliver({ kind: "share", sender: d.keys.customer.deviceId, body: { wraps: [wrap.toJSON()] } });
  await d.sync("bob");
  assert.deepEqual(warnings(d.bob), ["not_staff", "bad_wrap"]);
  assert.deepEqual(notes(d.bob), []);
  assert.equal(d.bob.state.staffKeyOf(latest), null);
});

// Found by playing the server against the code above (review of the staff-notes change).

test("a colleague whose device no epoch holds yet is told to wait, and hands nobody a key", async () => {
  const d = await desk();
  d.join("bob");
  await d.sync("bob"); // Bob's dashboard sees the epochs that do not hold him yet
  await assert.rejects(d.bob.sendNote("Hi Alice"), /not in this chat's encryption yet/);
  assert.equal(d.server.requests.some((r) => r.type === "share" && r.from === "bob"), false);
  await d.sync("alice");
  assert.deepEqual(warnings(d.alice), []);
});

test("an epoch that lands while the staff key is made gets a key of its own, and the note goes", async () => {
  const d = await desk();
  d.join("bob");
  await d.sync("customer"); // the widget adds Bob; Alice's page has not seen it
  await d.alice.sendNote(NOTE);
  await d.sync("bob");
  assert.deepEqual(notes(d.bob), [NOTE]);
  assert.notEqual(d.alice.state.staffKeyOf(d.alice.state.latestEpoch), null);
});

test("a share the server keeps from one colleague shows as withheld, not as a wait", async () => {
  const d = await desk();
  d.join("bob");
  await d.sync("alice", "bob", "customer");
  d.server.epochsTo = ["alice", "customer"]; // Alice's share reaches everyone but Bob
  await d.alice.sendNote(NOTE);
  d.server.epochsTo = null;
  await d.sync("bob");
  assert.deepEqual(notes(d.bob), []);
  assert.deepEqual(warnings(d.bob), ["withheld_staff_key"]);
});

test("a staff key forged for a newcomer shows to the newcomer", async () => {
  const d = await desk();
  await d.sync("alice");
  await d.alice.sendNote(NOTE);
  d.join("bob");
  await d.sync("customer"); // the widget adds Bob
  const epoch = d.server.wraps().find((w) => w.scope === "staff").epoch;
  const junk = { epoch, recipient: d.keys.bob.deviceId, wrapper: d.keys.alice.deviceId, nonce: Buffer.alloc(24).toString("base64"), ct: Buffer.alloc(80).toString("base64"), scope: "staff" };
  d.server.deliver({ kind: "share", sender: d.keys.alice.deviceId, body: { wraps: [junk] } });
  await d.sync("alice", "bob");
  assert.deepEqual(notes(d.bob), []);
  assert.ok(warnings(d.bob).includes("bad_wrap"));
});

test("no member keeps staff keys from whoever left, and many epochs later the shares still fit the frames", async () => {
  const d = await desk();
  await d.sync("alice");
  const written = [];
  for (let i = 0; i < 14; i++) {
    d.join("bob");
    await d.sync("alice", "bob", "customer");
    written.push(`in ${i}`);
    await d.alice.sendNote(`in ${i}`);
    await d.sync("bob");
    await d.bob.leave();
    await d.sync("alice", "customer");
    written.push(`out ${i}`);
    await d.alice.sendNote(`out ${i}`);
  }
  // Bob, out since his last leave, holds no key of what was written meanwhile.
  const latest = d.alice.state.latestEpoch;
  assert.equal(d.server.wraps().some((w) => w.epoch === latest && w.recipient === d.keys.bob.deviceId), false);
  d.join("bob");
  await d.sync("alice", "bob");
  for (const frame of d.server.requests.filter((r) => r.type === "epoch" || r.type === "share")) {
    assert.ok(frame.wraps.length <= 50, `${frame.type} with ${frame.wraps.length} wraps`);
  }
  assert.deepEqual(notes(d.bob), written);
});
