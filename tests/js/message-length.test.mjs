// How long a message may be (docs/PROTOCOL.md: receivers refuse a text body over MAX_BODY
// characters and a plaintext over MAX_PLAINTEXT bytes), as the widget tells it before sending:
// no count while there is room, a count near the limit, a plain sentence past it; nothing is cut.
import assert from "node:assert/strict";
import { test } from "node:test";

import { lengthNote, roomLeft } from "../../static/sealdesk/chat.js";
import { MAX_BODY, MAX_PLAINTEXT } from "../../static/sealdesk/protocol.js";

test("a text has room for MAX_BODY characters, counted as code points", () => {
  assert.equal(roomLeft({ type: "text", body: "" }), MAX_BODY);
  assert.equal(roomLeft({ type: "text", body: "abc" }), MAX_BODY - 3);
  assert.equal(roomLeft({ type: "text", body: "😀é" }), MAX_BODY - 2); // two characters
  assert.equal(roomLeft({ type: "text", body: "x".repeat(MAX_BODY) }), 0);
});

test("where bytes run out first (characters of four bytes), the bytes count", () => {
  const wide = "😀".repeat(4100); // 4,100 characters, 16,400 bytes
  assert.ok(roomLeft({ type: "text", body: wide }) < 0);
  const form = { type: "prechat", name: "Carla", email: "", question: "" };
  const empty = roomLeft(form);
  assert.ok(empty > MAX_PLAINTEXT - 100 && empty < MAX_PLAINTEXT);
  assert.equal(roomLeft({ ...form, question: "é" }), empty - 2); // two bytes in UTF-8
  assert.equal(roomLeft({ ...form, question: 'a"b' }), empty - 4); // the quote is escaped
});

test("a count shows only near the limit, and a sentence past it says by how much", () => {
  assert.deepEqual(lengthNote(5000), { text: "", over: false });
  assert.deepEqual(lengthNote(999), { text: "999 characters left.", over: false });
  assert.deepEqual(lengthNote(0), { text: "0 characters left.", over: false });
  const over = lengthNote(roomLeft({ type: "text", body: "o".repeat(20_000) }));
  assert.equal(over.over, true);
  assert.equal(over.text, "This message is 12000 characters too long to send in one go: shorten it, or send it in two parts.");
  assert.doesNotMatch(over.text, /[a-z]+_[a-z]+|malformed|receivers/); // no code, no developer wording
});
