// The dashboard's attention (static/agents/attention.js): Alice answers Carla and Dora; what
// arrives in the chat she is not looking at is counted in the title and chimes once per arrival,
// what a reload catches up on is counted but does not chime, and opening a chat clears it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { UnreadBook, badgeText, muted, notificationFor, titleWith } from "../../static/agents/attention.js";

test("the title leads with the unread count, and is left alone without one", () => {
  assert.equal(titleWith("Acme · Sealdesk", 0), "Acme · Sealdesk");
  assert.equal(titleWith("Acme · Sealdesk", 1), "(1) Acme · Sealdesk");
  assert.equal(titleWith("Acme · Sealdesk", 12), "(12) Acme · Sealdesk");
});

test("the favicon's badge shows up to 99, then 99+", () => {
  assert.equal(badgeText(1), "1");
  assert.equal(badgeText(99), "99");
  assert.equal(badgeText(100), "99+");
});

test("a notification names the customer and never carries the message", () => {
  const { title, options } = notificationFor("Dora", "c-2");
  assert.equal(title, "New message from Dora");
  assert.equal(options.body, "Open Sealdesk to read it.");
  assert.equal(options.tag, "message-c-2"); // a second message replaces the first one's
});

test("what arrives in a chat not in view counts as arrived once; opening the chat starts afresh", () => {
  const book = new UnreadBook();
  // The first note of each chat is where it starts: Carla's two messages caught up on a reload
  // are unread (the badge says so) but did not just arrive.
  assert.equal(book.note("carla", 2), 0);
  assert.equal(book.note("dora", 0), 0);
  assert.equal(book.settle([["carla", 2], ["dora", 0]]), 2);
  // Dora writes twice while Alice reads Carla's chat.
  assert.equal(book.note("dora", 1), 1);
  assert.equal(book.note("dora", 2), 1);
  assert.equal(book.note("dora", 2), 0); // drawn again, nothing new
  assert.equal(book.settle([["carla", 2], ["dora", 2]]), 4);
  // Alice opens Dora's chat: its count is 0 from there, and Dora's next message arrives anew.
  assert.equal(book.settle([["carla", 2], ["dora", 0]]), 2);
  assert.equal(book.note("dora", 1), 1);
  // Carla's chat ends and leaves the list: forgotten, so a new chat under that id starts afresh.
  assert.equal(book.settle([["dora", 1]]), 1);
  assert.equal(book.note("carla", 3), 0);
});

test("sounds are on unless this browser muted them, and a storage that refuses leaves them on", () => {
  const kept = new Map();
  const storage = { getItem: (key) => kept.get(key) ?? null };
  assert.equal(muted(storage), false);
  kept.set("sealdesk-muted", "1");
  assert.equal(muted(storage), true);
  const refusing = { getItem: () => { throw new Error("SecurityError"); } };
  assert.equal(muted(refusing), false);
});
