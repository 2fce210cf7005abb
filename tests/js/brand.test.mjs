// The tenant's look and words in the widget (static/widget/brand.js): its colour and launcher side
// as custom properties, never anything else the server might send; its texts per language, with
// the widget's own where it set none.
import assert from "node:assert/strict";
import { test } from "node:test";

import { brandCss, tenantText } from "../../static/widget/brand.js";

test("the brand colour and a left launcher become the widget's custom properties", () => {
  assert.equal(brandCss({ color: "#7A1F5C", position: "right" }), ":host { --sd-brand: #7A1F5C; }");
  assert.equal(
    brandCss({ color: "#7a1f5c", position: "left" }),
    ":host { --sd-brand: #7a1f5c; --sd-left: 20px; --sd-right: auto; }",
  );
});

test("anything but #rrggbb keeps Sealdesk's colour: nothing else reaches the stylesheet", () => {
  for (const color of ["red; } .launcher { display: none", "#fff", "url(x)", "", null, 42]) {
    assert.equal(brandCss({ color, position: "top" }), ":host { --sd-brand: #1f5fbf; }", String(color));
  }
  assert.equal(brandCss(undefined), ":host { --sd-brand: #1f5fbf; }");
});

test("the tenant's text for the language, its primary language, else the widget's own", () => {
  const config = { texts: { de: { greeting: "Hallo!", name_label: "Ihr Name", email_label: "  " } } };
  assert.equal(tenantText(config, "de", "greeting", "Hello"), "Hallo!");
  assert.equal(tenantText(config, "de-AT", "name_label", "Name"), "Ihr Name");
  assert.equal(tenantText(config, "de", "email_label", "Email (optional)"), "Email (optional)");
  assert.equal(tenantText(config, "de", "question_label", "Your question"), "Your question");
  assert.equal(tenantText(config, "fr", "greeting", "Bonjour"), "Bonjour");
  assert.equal(tenantText({}, "de", "greeting", "Hello"), "Hello");
  assert.equal(tenantText(undefined, "de", "greeting", "Hello"), "Hello");
  // Keys of objects are not languages: no text comes from the prototype.
  assert.equal(tenantText(config, "constructor", "name", "Name"), "Name");
});
