// A conversation a page lets go (the widget's "Start a new conversation") must stay quiet: its
// drawing timer and its receipt timer belonged to a page state that is gone, and firing them drew
// a list that no longer exists (a page error in Chromium, tests/test_chat_browser.py).
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { ConversationView } from "../../static/sealdesk/chat.js";
import * as p from "../../static/sealdesk/protocol.js";

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const deviceJson = (keys) => ({ id: keys.deviceId, sign_public: b64(keys.signPublic), box_public: b64(keys.boxPublic) });
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
