// The conversation code that ships (static/sealdesk/chat.js) over an honest server: how it
// catches up on a long history, what it owes after a reload, and how a page lets it go.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { ConversationView } from "../../static/sealdesk/chat.js";
import * as p from "../../static/sealdesk/protocol.js";
import { chat, text } from "./server.mjs";

import { deviceJson } from "./server.mjs";
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(() => {
  globalThis.window = globalThis; // chat.js draws through window.setTimeout
});
afterEach(() => {
  delete globalThis.window;
});

async function view(onChange) {
  const keys = await p.generateDevice();
  return new ConversationView({ device: keys, tenant: "wid_acme", conversation: "6f1c2a4e-8b3d-4c5e-9f60-7a8b9c0d1e2f", customerDevice: deviceJson(keys), onChange });
}

// A conversation a page lets go (the widget's "Start a new conversation") must stay quiet: its
// timers belonged to a page state that is gone, and firing them drew a list that no longer
// exists (a page error in Chromium, tests/test_chat_browser.py).
test("a stopped view draws nothing, even a change it had already scheduled", async () => {
  let drawn = 0;
  const customer = await view(() => drawn++);
  customer.onChange();
  await pause(150);
  assert.equal(drawn, 1, "a running view draws its change");
  customer.onChange();
  customer.stop();
  customer.onChange();
  customer.drawNow();
  await pause(150);
  assert.equal(drawn, 1);
});

test("a stopped view sends no receipt, even one it had already scheduled", async () => {
  const customer = await view(() => {});
  customer.scheduleReceipt();
  assert.notEqual(customer.receiptTimer, 0, "a running view schedules its receipt");
  customer.stop();
  assert.equal(customer.receiptTimer, 0);
  customer.scheduleReceipt();
  assert.equal(customer.receiptTimer, 0);
});

const sends = (server, name) => server.requests.filter((r) => r.type === "send" && r.from === name).length;
const syncs = (server, name) => server.requests.filter((r) => r.type === "sync" && r.from === name);

test("a reloaded page owes no receipt for what its earlier page said it read", async () => {
  const { server, customer, agent, agentKeys, agentSocket } = await chat();
  await customer.sendMessage(text("Is it shipped?"));
  await agent.connected(agentSocket);
  await agent.markRead();
  const before = sends(server, "agent");
  assert.equal(before, 1, "the first page says it read the messages");
  const reloaded = new ConversationView({ device: agentKeys, tenant: agent.tenant, conversation: agent.conversation, customerDevice: deviceJson(customer.keys) });
  await reloaded.connected(server.reconnect("agent"));
  await reloaded.markRead();
  assert.equal(sends(server, "agent"), before);
  // Something new is owed a receipt as before.
  await customer.sendMessage(text("Hello?"));
  await reloaded.connected(server.reconnect("agent"));
  await reloaded.markRead();
  assert.equal(sends(server, "agent"), before + 1);
});

test("a long history comes batch after batch, each asked for before the one before is applied", async () => {
  const { server, customer, agentKeys } = await chat();
  for (let n = 1; n <= 6; n++) await customer.sendMessage(text(`Message ${n}`));
  server.batch = 3;
  const agent = new ConversationView({ device: agentKeys, tenant: customer.tenant, conversation: customer.conversation, customerDevice: deviceJson(customer.keys) });
  const socket = server.reconnect("agent");
  const asked = [];
  const request = socket.request;
  socket.request = (frame) => {
    if (frame.type === "sync") asked.push({ after: frame.after, applied: agent.lastSeq });
    return request(frame);
  };
  await agent.connected(socket);
  const stream = server.streams.get("agent");
  assert.equal(agent.lastSeq, stream.length);
  assert.deepEqual(asked.map((a) => a.after), Array.from({ length: Math.ceil(stream.length / 3) }, (_, i) => 3 * i));
  // The second batch was asked for while the first had not been applied yet.
  assert.deepEqual(asked[1], { after: 3, applied: 0 });
  assert.deepEqual(agent.items.filter((i) => i.kind === "message").map((i) => i.content.body ?? i.content.question).slice(-2), ["Message 5", "Message 6"]);
});

test("a batch that skips an event is asked for again from the last event applied", async () => {
  const { server, customer, agentKeys } = await chat();
  for (let n = 1; n <= 3; n++) await customer.sendMessage(text(`Message ${n}`));
  const stream = server.streams.get("agent");
  const agent = new ConversationView({ device: agentKeys, tenant: customer.tenant, conversation: customer.conversation, customerDevice: deviceJson(customer.keys) });
  const socket = server.reconnect("agent");
  const request = socket.request;
  let lied = false;
  socket.request = async (frame) => {
    const reply = await request(frame);
    if (frame.type !== "sync" || lied) return reply;
    lied = true; // the first answer leaves out its second event, and says more follows
    return { events: reply.events.filter((e) => e.seq !== 2), more: true };
  };
  await agent.connected(socket);
  assert.equal(agent.lastSeq, stream.length);
  assert.deepEqual(syncs(server, "agent").map((r) => r.after).slice(-1), [1]);
});
