// The page's translations, loaded before any module of the dashboard's pages renders: the page
// names Django's JSON catalogue (locale/*/LC_MESSAGES/djangojs.po, in the language Django chose
// from the browser's Accept-Language) in a data-catalogue-url attribute, and <html lang> says
// which language that is. Modules that word strings at load time import this one first, so its
// top-level await holds them until the catalogue is in use. Without a page (Node's tests) or
// without an answer, the English source text shows.
import { useCatalogue } from "../sealdesk/i18n.js";

const source = globalThis.document?.querySelector("[data-catalogue-url]");
if (source) {
  const language = document.documentElement.lang || "en";
  try {
    const reply = await fetch(source.dataset.catalogueUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (reply.ok) useCatalogue(language, await reply.json());
  } catch {
    // English, as the page would be without translations: the dashboard still works.
  }
}
