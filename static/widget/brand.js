// The tenant's look and words in the widget, from its config (docs/PROTOCOL.md, "Widget API"):
// a brand colour and launcher side as custom properties that widget-style.js reads, and the
// tenant's own greeting and pre-chat labels per language. The server is not trusted with the
// page: only a "#rrggbb" colour and a known side reach the stylesheet, anything else keeps
// Sealdesk's own.

const DEFAULT_COLOR = "#1f5fbf";
const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;

// The stylesheet's text for BRAND ({color, position}, or nothing).
export function brandCss(brand) {
  const color = HEX_COLOR.test(brand?.color ?? "") ? brand.color : DEFAULT_COLOR;
  // The launcher and panel sit at the bottom right unless the tenant chose left.
  const side = brand?.position === "left" ? " --sd-left: 20px; --sd-right: auto;" : "";
  return `:host { --sd-brand: ${color};${side} }`;
}

// A constructed stylesheet for BRAND, adopted after the widget's own (no inline style: CSP).
export function brandSheet(brand) {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(brandCss(brand));
  return sheet;
}

// The tenant's text KEY for LANGUAGE ("de", or "de-AT" falling back to "de"), else FALLBACK:
// the widget's own, already in the customer's language.
export function tenantText(config, language, key, fallback) {
  const texts = config?.texts ?? {};
  const tag = String(language ?? "");
  for (const wanted of [tag, tag.split("-")[0]]) {
    const text = Object.hasOwn(texts, wanted) ? texts[wanted]?.[key] : undefined;
    if (typeof text === "string" && text.trim()) return text;
  }
  return fallback;
}
