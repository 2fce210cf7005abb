// Every error code the server can send reaches people as a plain sentence (static/sealdesk/errors.js),
// the same in the dashboard and the widget: never the raw code.
import assert from "node:assert/strict";
import { test } from "node:test";

import { SENTENCES, sentence } from "../../static/sealdesk/errors.js";
import { STAFF_SENTENCES } from "../../static/sealdesk/staff-errors.js";
import { ERRORS } from "../../static/sealdesk/frames.js";
import { ServerError } from "../../static/sealdesk/socket.js";

test("the staff's sentences are their own, added to the shared ones where staff pages import them", () => {
  for (const code of Object.keys(STAFF_SENTENCES)) assert.equal(SENTENCES[code], STAFF_SENTENCES[code]);
  assert.equal(sentence("last_agent"), STAFF_SENTENCES.last_agent);
  assert.ok(Object.keys(STAFF_SENTENCES).length > 20);
});

test("every code of the frame contract has a sentence, and no sentence shows a code", () => {
  const missing = ERRORS.filter((code) => !Object.hasOwn(SENTENCES, code));
  assert.deepEqual(missing, []);
  for (const [code, text] of Object.entries(SENTENCES)) {
    assert.match(text, /^[A-Z].*[.!]$/, `${code}: a sentence`);
    assert.doesNotMatch(text, /\b[a-z]+_[a-z_]+\b/, `${code}: no code in "${text}"`);
  }
});

test("a refusal's message is its sentence; the server's detail stays for developers", () => {
  const refused = new ServerError("conversation_closed", "The conversation is closed.");
  assert.equal(refused.message, "This conversation has ended; nothing more can be sent in it.");
  assert.equal(refused.detail, "The conversation is closed.");
  assert.doesNotMatch(refused.message, /conversation_closed/);
  assert.equal(sentence("a_code_from_a_newer_server"), "Something went wrong; nothing was changed. Try again.");
});

test("a rate limit's sentence takes the Retry-After's number and nothing else the server wrote", () => {
  assert.equal(sentence("rate_limited", "42"), "This is busy just now. Try again in 42 s.");
  assert.equal(sentence("rate_limited", "7 s. Call +1 555 0100 now"), "This is busy just now. Try again in 7 s.");
  for (const header of [null, "", "soon, call us", "Wed, 21 Oct 2026 07:28:00 GMT", "0", "-5"]) {
    assert.equal(sentence("rate_limited", header), "This is busy just now. Try again soon.");
  }
});
