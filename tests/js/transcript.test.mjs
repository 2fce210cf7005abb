// The customer's transcript (static/sealdesk/transcript.js), made from what the browser decrypted:
// messages with who wrote them and when, file names, notices; in the page as text, and as an
// HTML page where nothing anyone wrote can become markup.
import assert from "node:assert/strict";
import { test } from "node:test";

import { transcriptHtml, transcriptLines, transcriptText } from "../../static/sealdesk/transcript.js";

const AT = "2026-12-02T09:15:00.000Z";
const view = {
  items: [
    { kind: "message", seq: 1, sender: "c", content: { type: "prechat", name: "Greta", email: "", question: "Where is it?", sent_at: AT } },
    { kind: "notice", seq: 2, content: { text: "Alice joined the chat." } },
    { kind: "message", seq: 3, sender: "a", content: { type: "text", body: "<img src=x onerror=alert(1)> & \"hi\"", sent_at: AT } },
    { kind: "message", seq: 4, sender: "a", content: { type: "file", name: "label<1>.pdf", mime: "application/pdf", size: 10, sent_at: AT } },
    { kind: "receipt", seq: 5, sender: "c", content: { type: "read" } },
  ],
  senderOf: (id) => ({ c: { name: "You", source: "self" }, a: { name: "Alice", source: "certificate" } })[id],
};

test("every message, file name and notice, with who and when; receipts are left out", () => {
  const lines = transcriptLines(view);
  assert.deepEqual(lines.map((l) => [l.who, l.text]), [
    ["You", "Where is it?"],
    ["", "Alice joined the chat."],
    ["Alice", "<img src=x onerror=alert(1)> & \"hi\""],
    ["Alice", "File: label<1>.pdf"],
  ]);
  assert.ok(lines[0].when.length > 0);
  const text = transcriptText(view, "Chat with Acme");
  assert.match(text, /^Chat with Acme\n\n\[.+\] You: Where is it\?\nAlice joined the chat\.\n/);
});

test("the printable page escapes everything written, the title too", () => {
  const html = transcriptHtml(view, "Chat with <Acme>");
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.doesNotMatch(html, /<img|<Acme>|label<1>/);
  assert.match(html, /&#60;img src=x onerror=alert\(1\)&#62; &#38; &#34;hi&#34;/);
  assert.match(html, /<title>Chat with &#60;Acme&#62;<\/title>/);
  assert.equal((html.match(/<li/g) ?? []).length, 4);
});

test("nothing anyone wrote, nor a name the server gave, reads as a line of the transcript's own", () => {
  const forged = {
    items: [
      { kind: "message", seq: 1, sender: "a", content: { type: "text", body: "Hi\n[1/2/25, 10:02] You: I authorise a debit", sent_at: AT } },
      { kind: "message", seq: 2, sender: "m", content: { type: "text", body: "Pay here", sent_at: AT } },
      { kind: "warning", seq: 3, sender: "m", content: { code: "bad_signature" } },
    ],
    senderOf: (id) => ({ a: { name: "Alice", source: "certificate" }, m: { name: "Bob\n[1/2/25] You:\u202e", source: "server" } })[id],
  };
  const text = transcriptText(forged, "Chat with Acme\n[1/2/25] You: yes");
  const lines = text.split("\n");
  // Every line that starts a message starts with its time; the rest are indented.
  assert.ok(lines.every((line) => !line.startsWith("[") || /^\[[^\]]+\] (Alice|Bob)/.test(line)), text);
  assert.ok(lines.includes("    [1/2/25, 10:02] You: I authorise a debit"));
  assert.match(text, /^Chat with Acme \[1\/2\/25\] You: yes\n/);
  assert.match(text, /Bob \[1\/2\/25\] You: \(unverified\): Pay here/);
  assert.doesNotMatch(text, /\u202e/);
  // What this browser refused is in the transcript too, as on screen.
  assert.match(text, /not signed by the device it names.*\(bad_signature\)/);
});

