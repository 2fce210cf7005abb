// The comment on a rating (static/widget/rating-comment.js sends it through chat.js), against the
// stand-in server of tests/js/server.mjs: the customer's browser seals it under the chat's latest
// epoch after the end, so the agent who was in the chat reads it, as "Rating comment" in the
// history's lines, while the server, which relays it and holds a device of its own, reads nothing.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { linesOf } from "../../static/sealdesk/archive.js";
import { ConversationView } from "../../static/sealdesk/chat.js";
import * as p from "../../static/sealdesk/protocol.js";
import { CONVERSATION, TENANT, chat, deviceJson, text } from "./server.mjs";

beforeEach(() => {
  globalThis.window = globalThis; // chat.js draws through window.setTimeout
});
afterEach(() => {
  delete globalThis.window;
});

const COMMENT = "Quick answer, but the parcel is still lost";

test("the agent reads the comment after the end; the server relays it and reads no word", async () => {
  const { server, customer, agent, customerSocket, agentSocket } = await chat();
  await agent.sendMessage(text("It left our depot today."));
  await customer.connected(customerSocket);
  await customer.close();
  const reply = await customer.sendMessage({ type: "rating_comment", body: COMMENT }, { type: "comment", conversation: CONVERSATION });
  assert.equal(typeof reply.seq, "number");
  await agent.connected(agentSocket);

  const lines = linesOf(agent).map((line) => line.text);
  assert.equal(lines.at(-1), `Rating comment: ${COMMENT}`);
  const [sent] = server.requests.filter((r) => r.type === "comment");
  assert.equal(sent.envelope.epoch, customer.state.latestEpoch, "sealed under the latest epoch");
  for (const request of server.requests) {
    assert.doesNotMatch(JSON.stringify(request), /parcel is still lost/);
  }

  // A device the server holds, shown every event from the start, is in no epoch: no key opens it.
  const spy = await p.generateDevice();
  const snoop = new ConversationView({ device: spy, tenant: TENANT, conversation: CONVERSATION, customerDevice: deviceJson(customer.keys) });
  await snoop.connected(server.socketFor("spy", server.streams.get("agent")));
  assert.ok(!linesOf(snoop).some((line) => line.text.includes("parcel")));
  assert.equal(server.wraps().filter((w) => w.recipient === spy.deviceId).length, 0);
});
