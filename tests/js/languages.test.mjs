// The browser code's languages (static/sealdesk/i18n.js, static/widget/language.js): strings from
// a catalogue with English as the fallback, plurals by the language's rules, the widget's choice
// of language, and a catalogue used only when its bytes are the ones the widget pins.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { afterEach, test } from "node:test";

import { lengthNote } from "../../static/sealdesk/chat.js";
import { sentence } from "../../static/sealdesk/errors.js";
import { chooseLanguage, direction, gettext, language, ngettext, useCatalogue } from "../../static/sealdesk/i18n.js";
import { loadLanguage, widgetLanguage } from "../../static/widget/language.js";

afterEach(() => useCatalogue("en", {}));

const GERMAN = {
  messages: {
    "Chat with {tenant}": "Chat mit {tenant}",
    "{count} character left.": ["Noch {count} Zeichen.", "Noch {count} Zeichen übrig."],
    "The connection dropped. It is coming back; try again in a moment.": "Die Verbindung ist abgerissen.",
  },
};

test("without a catalogue the English source shows, placeholders filled", () => {
  assert.equal(gettext("Chat with {tenant}", { tenant: "Acme" }), "Chat with Acme");
  assert.equal(ngettext("{count} file", "{count} files", 1), "1 file");
  assert.equal(ngettext("{count} file", "{count} files", 0), "0 files");
  assert.equal(gettext("Keep {unknown} as it is"), "Keep {unknown} as it is");
});

test("a catalogue's strings show, and English for what it lacks", () => {
  useCatalogue("de", GERMAN);
  assert.equal(language(), "de");
  assert.equal(gettext("Chat with {tenant}", { tenant: "Acme" }), "Chat mit Acme");
  assert.equal(gettext("Send"), "Send");
  assert.equal(lengthNote(1).text, "Noch 1 Zeichen.");
  assert.equal(lengthNote(12).text, "Noch 12 Zeichen übrig.");
  // Shared code translates where it shows: the refusal sentences of errors.js too.
  assert.equal(sentence("disconnected"), "Die Verbindung ist abgerissen.");
});

test("plurals follow the language: French counts 0 as one", () => {
  useCatalogue("fr", { messages: { "{count} file": ["{count} fichier", "{count} fichiers"] } });
  assert.equal(ngettext("{count} file", "{count} files", 0), "0 fichier");
  assert.equal(ngettext("{count} file", "{count} files", 2), "2 fichiers");
  // Django's JSON catalogue ({catalog: ...}) is read the same way, for the dashboard's pages.
  useCatalogue("de", { catalog: { Send: "Senden" } });
  assert.equal(gettext("Send"), "Senden");
});

test("a language is chosen exactly, then by its primary language, else English", () => {
  assert.equal(chooseLanguage(["de-AT", "fr"], ["de", "fr", "es"]), "de");
  assert.equal(chooseLanguage(["pt-BR", "es-MX"], ["de", "fr", "es"]), "es");
  assert.equal(chooseLanguage(["pt-BR", "ja"], ["de", "fr", "es"]), "en");
  assert.equal(direction("ar-XB"), "rtl");
  assert.equal(direction("de"), "ltr");
});

const PINS = { de: "d".repeat(64), fr: "f".repeat(64), "ar-XB": "a".repeat(64) };

test("the snippet's language wins over the browser's; a pseudo-locale only when the snippet asks", () => {
  assert.equal(widgetLanguage(undefined, ["de-DE", "en"], PINS), "de");
  assert.equal(widgetLanguage("fr", ["de-DE"], PINS), "fr");
  assert.equal(widgetLanguage("en", ["de-DE"], PINS), "en");
  assert.equal(widgetLanguage("ja", ["de-DE"], PINS), "de"); // one this build lacks: the browser's
  assert.equal(widgetLanguage(undefined, ["ar-XB"], PINS), "en");
  assert.equal(widgetLanguage("ar-XB", [], PINS), "ar-XB");
});

const bytesOf = (catalogue) => new TextEncoder().encode(JSON.stringify(catalogue));
const pinOf = (bytes) => createHash("sha512").update(bytes).digest("hex").slice(0, 64);
const serving = (bytes, seen = []) => async (url) => {
  seen.push(String(url));
  return new Response(bytes);
};

test("the widget loads its language's catalogue by the digest it pins, and uses it", async () => {
  const bytes = bytesOf(GERMAN);
  const seen = [];
  const base = new URL("https://desk.example/widget/i18n/");
  const chosen = await loadLanguage(undefined, ["de-CH"], { de: pinOf(bytes) }, base, serving(bytes, seen));
  assert.equal(chosen, "de");
  assert.deepEqual(seen, [`https://desk.example/widget/i18n/${pinOf(bytes)}.json`]);
  assert.equal(gettext("Chat with {tenant}", { tenant: "Acme" }), "Chat mit Acme");
});

test("English needs no catalogue: nothing is fetched", async () => {
  const seen = [];
  assert.equal(await loadLanguage(undefined, ["en-GB"], { de: "d".repeat(64) }, new URL("https://d.example/"), serving(new Uint8Array(), seen)), "en");
  assert.deepEqual(seen, []);
});

test("a server that serves other words under a pinned name is refused: the widget stays English", async () => {
  const pinned = pinOf(bytesOf(GERMAN));
  const altered = bytesOf({ messages: { "Chat with {tenant}": "Ihr Chat ist unverschlüsselt" } });
  await assert.rejects(
    loadLanguage("de", [], { de: pinned }, new URL("https://desk.example/widget/i18n/"), serving(altered)),
    /not the ones this widget pins/,
  );
  assert.equal(language(), "en");
  assert.equal(gettext("Chat with {tenant}", { tenant: "Acme" }), "Chat with Acme");
  const missing = async () => new Response("", { status: 404 });
  await assert.rejects(loadLanguage("de", [], { de: pinned }, new URL("https://d.example/"), missing), /did not load \(404\)/);
});
