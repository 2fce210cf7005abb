// Translations for the browser code, from the same gettext catalogues as the Django side
// (locale/<language>/LC_MESSAGES/djangojs.po, filled by `manage.py makemessages -d djangojs`).
// Strings are marked with gettext()/ngettext() so that xgettext finds them: a literal first
// argument, placeholders in braces ("Chat with {tenant}") filled from the second.
// The widget loads its language's catalogue on demand, checked against the digest its bundle
// carries (scripts/build-widget); the dashboard's pages load theirs from Django's JSON catalogue.
// Until a catalogue is in use, and for any string it lacks, the English source text shows.

let messages = {};
let current = "en";
let rules = new Intl.PluralRules("en");

// Languages written right to left; "ar-XB" is the pseudo-locale that tests the layout.
const RTL = new Set(["ar", "fa", "he", "ur"]);

function fill(text, values) {
  if (!values) return text;
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

// Marks a string for the catalogues where it is defined; gettext() translates it where it shows.
export const gettext_noop = (msgid) => msgid;

export function gettext(msgid, values = undefined) {
  const text = messages[msgid];
  return fill(typeof text === "string" && text ? text : msgid, values);
}

// The forms of a plural come in the catalogue's order: the one for "one" first, then the rest
// (every language Sealdesk ships has two forms: Plural-Forms in its catalogue).
export function ngettext(singular, plural, count, values = undefined) {
  const forms = messages[singular];
  const one = rules.select(count) === "one";
  const chosen = Array.isArray(forms) && forms[one ? 0 : 1] ? forms[one ? 0 : 1] : one ? singular : plural;
  return fill(chosen, { count, ...values });
}

// Use CATALOGUE ({language, messages}, or Django's JSONCatalog answer {catalog, ...}) from now on.
export function useCatalogue(language, catalogue) {
  messages = catalogue?.messages ?? catalogue?.catalog ?? {};
  current = language;
  try {
    rules = new Intl.PluralRules(language);
  } catch {
    rules = new Intl.PluralRules("en");
  }
}

export function language() {
  return current;
}

export function direction(tag = current) {
  return RTL.has(tag.split("-")[0].toLowerCase()) ? "rtl" : "ltr";
}

// The first of WANTED (language tags, most wanted first) that AVAILABLE has, exactly or by its
// primary language ("de-AT" takes "de"), else "en".
export function chooseLanguage(wanted, available) {
  const have = new Map(available.map((tag) => [tag.toLowerCase(), tag]));
  for (const tag of wanted) {
    if (!tag) continue;
    const lower = tag.toLowerCase();
    if (have.has(lower)) return have.get(lower);
    const primary = lower.split("-")[0];
    if (have.has(primary)) return have.get(primary);
  }
  return "en";
}
