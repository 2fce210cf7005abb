// What the dashboard writes next to messages and offers (static/agents/labels.js), and on whose
// word a sender's name stands (ConversationView.senderOf, static/sealdesk/chat.js).
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { senderLabel, timeLabel, waited } from "../../static/agents/labels.js";
import { chat, desk } from "./server.mjs";

beforeEach(() => {
  globalThis.window = globalThis; // chat.js draws through window.setTimeout
});
afterEach(() => {
  delete globalThis.window;
});

test("a name only the server gives is marked; a certified one, the customer's and yours are not", () => {
  assert.equal(senderLabel({ name: "Alice", source: "self" }), "You");
  assert.equal(senderLabel({ name: "Carla", source: "customer" }), "Carla");
  assert.equal(senderLabel({ name: "Bob", source: "certificate" }), "Bob");
  assert.equal(senderLabel({ name: "Bob", source: "server" }), "Bob (named by the server, not verified)");
});

test("without a trusted organisation key, an agent's name is the server's word", async () => {
  const { customer, agent } = await chat();
  assert.deepEqual(customer.senderOf(agent.keys.deviceId), { name: "Alice", source: "server" });
  assert.deepEqual(agent.senderOf(customer.keys.deviceId), { name: "Carla", source: "customer" });
  assert.deepEqual(agent.senderOf(agent.keys.deviceId), { name: "You", source: "self" });
});

test("with a trusted organisation key, a colleague's name is the certificate's, whatever the server says", async () => {
  const { alice, bob, join, sync, keys } = await desk();
  join("bob"); // the server's notice calls him "Someone"
  await sync("customer", "alice", "bob");
  assert.deepEqual(alice.senderOf(keys.bob.deviceId), { name: "Bob", source: "certificate" });
  assert.deepEqual(bob.senderOf(keys.alice.deviceId), { name: "Alice", source: "certificate" });
  assert.deepEqual(bob.senderOf(keys.customer.deviceId), { name: "Carla", source: "customer" });
});

test("a message's time is its signed time, in the given locale, with the date when not today", () => {
  // Local times, so that "today" is today in whatever time zone the tests run.
  const now = new Date(2026, 11, 2, 15, 0);
  const sent = new Date(2026, 11, 2, 9, 5).toISOString();
  const today = timeLabel(sent, "en-GB", now);
  assert.equal(today.datetime, sent);
  assert.equal(today.text, "09:05");
  const earlier = timeLabel(new Date(2026, 10, 28, 9, 5).toISOString(), "en-GB", now);
  assert.equal(earlier.text, "28/11/2026, 09:05");
  assert.equal(timeLabel(undefined), null);
  assert.equal(timeLabel("not a time"), null);
  assert.equal(timeLabel(1764666300000), null, "sent_at is ISO text, nothing else");
});

test("a wait reads in seconds, then minutes, then hours", () => {
  const now = Date.parse("2026-12-02T10:00:00Z");
  assert.equal(waited("2026-12-02T09:59:15Z", now), "45 s");
  assert.equal(waited("2026-12-02T09:56:55Z", now), "3 min 05 s");
  assert.equal(waited("2026-12-02T08:58:00Z", now), "1 h 02 min");
  assert.equal(waited("2026-12-02T10:00:05Z", now), "0 s", "a clock ahead of ours is no negative wait");
});
