// The waiting customer's line (static/widget/waiting.js): the place, and the server's estimated
// wait rounded as a person would say it; plainly no estimate when the server has none.
import assert from "node:assert/strict";
import { test } from "node:test";

import { useCatalogue } from "../../static/sealdesk/i18n.js";
import { queueLine, waitText } from "../../static/widget/waiting.js";

test("the place and the estimate make one line", () => {
  assert.equal(queueLine(2, 180), "You are number 2 in the queue. Estimated wait: about 3 minutes.");
  assert.equal(queueLine(0, 30), "You are in the queue. Estimated wait: less than a minute.");
});

test("the wait is rounded to what a person would say", () => {
  assert.equal(waitText(0), "Estimated wait: less than a minute.");
  assert.equal(waitText(59), "Estimated wait: less than a minute.");
  assert.equal(waitText(60), "Estimated wait: about 1 minute.");
  assert.equal(waitText(89), "Estimated wait: about 1 minute.");
  assert.equal(waitText(150), "Estimated wait: about 3 minutes.");
  assert.equal(waitText(89 * 60), "Estimated wait: about 89 minutes.");
  assert.equal(waitText(90 * 60), "Estimated wait: about 2 hours.");
  assert.equal(waitText(3 * 3600 + 600), "Estimated wait: about 3 hours.");
});

test("without a recent figure the line says there is no estimate", () => {
  assert.match(waitText(null), /^There is no estimate of the wait yet/);
  assert.equal(queueLine(1, null), `You are number 1 in the queue. ${waitText(null)}`);
});

test("the line follows the catalogue in use, plural forms included", () => {
  useCatalogue("de", {
    messages: {
      "You are number {position} in the queue.": "Sie sind Nummer {position} in der Warteschlange.",
      "Estimated wait: about {count} minute.": ["Geschätzte Wartezeit: etwa {count} Minute.", "Geschätzte Wartezeit: etwa {count} Minuten."],
    },
  });
  try {
    assert.equal(queueLine(2, 120), "Sie sind Nummer 2 in der Warteschlange. Geschätzte Wartezeit: etwa 2 Minuten.");
    assert.equal(waitText(60), "Geschätzte Wartezeit: etwa 1 Minute.");
  } finally {
    useCatalogue("en", {});
  }
});
