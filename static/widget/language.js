// The widget's language, and its strings loaded on demand. The bundle carries, for each language
// it has, the digest of that language's catalogue (scripts/build-widget): the widget fetches only
// the one its customer reads, and uses it only if its SHA-512 starts with that digest, so that
// a server cannot put other words in the mouth of a widget whose bytes the snippet pins.
import nacl from "../vendor/tweetnacl/nacl-fast.mjs";

import { chooseLanguage, useCatalogue } from "../sealdesk/i18n.js";

// Pseudo-locales test the layout; a widget shows them only when its snippet asks for one.
const PSEUDO = /-X[A-Z]$/;

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** The language to show: ASKED (the snippet's data-lang) if this build has it, else the first of
 * the browser's languages BROWSER it has, else English. CATALOGUES maps languages to digests. */
export function widgetLanguage(asked, browser, catalogues) {
  const real = Object.keys(catalogues).filter((tag) => !PSEUDO.test(tag));
  if (asked) {
    const chosen = chooseLanguage([asked], Object.keys(catalogues));
    if (chosen !== "en" || asked.toLowerCase().startsWith("en")) return chosen;
  }
  return chooseLanguage(browser, real);
}

/** Choose the language (widgetLanguage), fetch its catalogue from BASE (a URL ending in "/"),
 * check it against its digest and use it; return the language, or throw (English stays). */
export async function loadLanguage(asked, browser, catalogues, base, fetcher = fetch) {
  const language = widgetLanguage(asked, browser, catalogues);
  const name = catalogues[language];
  if (!name) return "en";
  const response = await fetcher(new URL(`${name}.json`, base), { credentials: "omit" });
  if (!response.ok) throw new Error(`the ${language} strings did not load (${response.status})`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (hex(nacl.hash(bytes).subarray(0, 32)) !== name) throw new Error(`the ${language} strings are not the ones this widget pins`);
  useCatalogue(language, JSON.parse(new TextDecoder().decode(bytes)));
  return language;
}
