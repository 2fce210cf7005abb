// Canned responses in the reply box (static/agents/canned.js): which "/word" opens the list,
// which responses it lists first, and what a pick does to the draft (it never sends).
import assert from "node:assert/strict";
import { test } from "node:test";

import { insertResponse, matching, preview, slashQuery } from "../../static/agents/canned.js";

const RESPONSES = [
  { id: 1, shortcut: "refund-policy", title: "Refunds within 30 days", text: "You can return it within 30 days.", team: null },
  { id: 2, shortcut: "greeting", title: "Hello", text: "Hello! How can I help you today?", team: null },
  { id: 3, shortcut: "grace", title: "Grace period", text: "Your grace period is 14 days.", team: "Billing" },
  { id: 4, shortcut: "bye", title: "Goodbye and green day", text: "Thank you, goodbye!", team: null },
];

test("a slash at the start of the draft or after a space opens the list, with what follows it", () => {
  assert.deepEqual(slashQuery("/gr", 3), { start: 0, query: "gr" });
  assert.deepEqual(slashQuery("Hi Carla, /GRe", 14), { start: 10, query: "gre" });
  assert.deepEqual(slashQuery("line one\n/", 10), { start: 9, query: "" });
  // Only up to the caret: what follows it is the rest of the draft.
  assert.deepEqual(slashQuery("/gr and more", 3), { start: 0, query: "gr" });
});

test("a slash inside a word, a URL or a date, or a finished word, opens nothing", () => {
  assert.equal(slashQuery("see https://example.com/gr", 26), null);
  assert.equal(slashQuery("on 1/2", 6), null);
  assert.equal(slashQuery("/greeting then", 14), null);
  assert.equal(slashQuery("no slash", 8), null);
});

test("shortcuts that start with the letters come first, then those that hold them", () => {
  assert.deepEqual(matching(RESPONSES, "gr").map((r) => r.shortcut), ["grace", "greeting", "bye"]);
  assert.deepEqual(matching(RESPONSES, "GRE").map((r) => r.shortcut), ["greeting", "bye"]);
  assert.deepEqual(matching(RESPONSES, "").map((r) => r.shortcut), ["bye", "grace", "greeting", "refund-policy"]);
  assert.deepEqual(matching(RESPONSES, "zzz"), []);
});

test("a pick replaces the slash and its letters with the text, and puts the caret after it", () => {
  const draft = "Hi Carla, /gre thanks";
  const { value, caret } = insertResponse(draft, 10, 14, RESPONSES[1]);
  assert.equal(value, "Hi Carla, Hello! How can I help you today? thanks");
  assert.equal(value.slice(0, caret), "Hi Carla, Hello! How can I help you today?");
});

test("the preview is one line, cut with an ellipsis", () => {
  assert.equal(preview("Two\n  lines"), "Two lines");
  const long = preview("word ".repeat(100));
  assert.equal(long.length, 140);
  assert.ok(long.endsWith("…"));
});
