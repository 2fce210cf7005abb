// The frame contract in JavaScript (static/sealdesk/frames.js), and the socket that holds the
// server to it: a frame that does not fit is dropped with a warning, never handed on.
// tests/test_frames.py checks that frames.js and sealdesk_client/frames.py agree.
import assert from "node:assert/strict";
import { test } from "node:test";

import { OFFER_GONE, problems, QUEUE, SCHEMA, SYNC, WIDGET_FRAMES } from "../../static/sealdesk/frames.js";
import { Socket } from "../../static/sealdesk/socket.js";

test("a frame that fits its schema has no problems", () => {
  assert.deepEqual(problems("agent", "server", { type: OFFER_GONE, offer: 3, reason: "declined" }), []);
  assert.deepEqual(problems("agent", "client", { type: SYNC, conversation: "c" }), []);
});

test("missing fields, wrong types and unknown frames are named", () => {
  assert.deepEqual(problems("agent", "server", { type: OFFER_GONE, offer: true }), [
    "offer.gone: offer is not integer",
    "offer.gone: reason is missing",
  ]);
  assert.deepEqual(problems("widget", "client", { type: "presence.set" }), [
    "no client frame 'presence.set' on the widget socket",
  ]);
  assert.deepEqual(problems("widget", "server", [1, 2]), ["a frame is a JSON object with a string type"]);
});

test("extra fields break a server frame unless the caller lets a newer server add them", () => {
  const frame = { type: QUEUE, position: 1, wait_seconds: null, x: 2 };
  assert.deepEqual(problems("widget", "server", frame), ["queue: x is not in the contract"]);
  assert.deepEqual(problems("widget", "server", frame, true), []);
});

test("the contract is frozen", () => {
  assert.ok(Object.isFrozen(SCHEMA));
});

// A stand-in for the browser's WebSocket: node 20 has none, and the test plays the server.
class FakeWebSocket extends EventTarget {
  static OPEN = 1;
  constructor(url) {
    super();
    this.url = url;
    this.readyState = FakeWebSocket.OPEN;
    this.sent = [];
    FakeWebSocket.last = this;
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close() {}
  receive(frame) {
    this.dispatchEvent(Object.assign(new Event("message"), { data: JSON.stringify(frame) }));
  }
}

test("the socket drops a server frame that breaks the contract and hands on one that fits", async () => {
  globalThis.WebSocket = FakeWebSocket;
  globalThis.window = globalThis;
  const warnings = [];
  const warn = console.warn;
  console.warn = (message) => warnings.push(message);
  try {
    const got = [];
    const socket = new Socket("ws://server/ws/widget/w/", WIDGET_FRAMES, { onFrame: (frame) => got.push(frame) });
    const server = FakeWebSocket.last;
    server.receive({ type: QUEUE, position: "first", wait_seconds: null });
    server.receive({ type: "offer", offer: {} }); // an agent's frame, on the widget socket
    server.receive({ type: QUEUE, position: 2, wait_seconds: 120 });
    assert.deepEqual(got, [{ type: QUEUE, position: 2, wait_seconds: 120 }]);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /queue: position is not integer/);

    // A reply that breaks the contract does not settle the request; a fitting one does.
    const request = socket.request({ type: SYNC, conversation: "c" });
    const { ref } = server.sent.at(-1);
    server.receive({ type: "events", conversation: "c", events: "all of them", more: false, ref });
    server.receive({ type: "events", conversation: "c", events: [], more: false, ref });
    assert.deepEqual((await request).events, []);
    socket.stop();
  } finally {
    console.warn = warn;
    delete globalThis.WebSocket;
    delete globalThis.window;
  }
});
