// The dashboard's keyboard shortcuts (static/agents/shortcuts.js): Alt with a letter only, so
// that typing never fires one; the oldest offer; the next conversation, round the list.
import assert from "node:assert/strict";
import { test } from "node:test";

import { SHORTCUTS, nextOf, oldestOffer, shortcutOf } from "../../static/agents/shortcuts.js";

const key = (code, mods = {}) => ({ code, altKey: false, ctrlKey: false, metaKey: false, shiftKey: false, repeat: false, ...mods });

test("Alt with A, N or C is a shortcut, read from the physical key", () => {
  assert.equal(shortcutOf(key("KeyA", { altKey: true })), "accept");
  assert.equal(shortcutOf(key("KeyN", { altKey: true })), "next");
  // On a Mac, Alt+C types "ç": the code is still KeyC.
  assert.equal(shortcutOf({ ...key("KeyC", { altKey: true }), key: "ç" }), "close");
  assert.deepEqual(SHORTCUTS.map((s) => s.keys), ["Alt+A", "Alt+N", "Alt+C"]);
});

test("letters typed without Alt, or with another modifier too, or held down, are no shortcut", () => {
  for (const code of ["KeyA", "KeyN", "KeyC"]) {
    assert.equal(shortcutOf(key(code)), null, `${code} alone is typing`);
    assert.equal(shortcutOf(key(code, { shiftKey: true })), null);
    assert.equal(shortcutOf(key(code, { altKey: true, ctrlKey: true })), null, "AltGr is Ctrl+Alt on Windows");
    assert.equal(shortcutOf(key(code, { altKey: true, metaKey: true })), null);
    assert.equal(shortcutOf(key(code, { altKey: true, repeat: true })), null);
  }
  assert.equal(shortcutOf(key("KeyB", { altKey: true })), null);
});

test("the oldest offer is the one whose customer waits longest", () => {
  const offers = [
    { id: 7, waiting_since: "2026-12-02T08:00:30Z" },
    { id: 9, waiting_since: "2026-12-02T08:00:10Z" },
    { id: 8, waiting_since: "2026-12-02T08:00:10Z" },
  ];
  assert.equal(oldestOffer(offers).id, 8);
  assert.equal(oldestOffer(new Map(offers.map((o) => [o.id, o])).values()).id, 8);
  assert.equal(oldestOffer([]), null);
});

test("next goes round the active chats, and starts at the first when none is in view", () => {
  assert.equal(nextOf(["a", "b", "c"], "a"), "b");
  assert.equal(nextOf(["a", "b", "c"], "c"), "a");
  assert.equal(nextOf(["a", "b"], null), "a");
  assert.equal(nextOf(["a"], "a"), "a");
  assert.equal(nextOf([], "a"), null);
});
