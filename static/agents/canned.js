// Canned responses in the reply box: typing "/" then letters lists the shortcuts that match,
// with a preview of their text; arrow keys move, Enter or Tab picks, Escape closes. Picking puts
// the text into the draft in place of "/letters": nothing is sent until the agent sends.
// The responses are the tenant's configuration, in clear on the server like any admin setting;
// once in a message they are encrypted like anything typed (docs/THREAT_MODEL.md).
import { el } from "../sealdesk/dom.js";
import { gettext, ngettext } from "../sealdesk/i18n.js";

const PREVIEW = 140; // characters of a response's text shown in the list

/** Return the "/word" being typed just before CARET in TEXT, as {start, query}, or null.
 * The slash starts the draft or follows a space or a line break, so that a URL or a date such
 * as 1/2 opens nothing. */
export function slashQuery(text, caret) {
  const before = text.slice(0, caret);
  const found = /(?:^|\s)\/([a-z0-9_-]*)$/i.exec(before);
  if (!found) return null;
  return { start: caret - found[1].length - 1, query: found[1].toLowerCase() };
}

/** Return the responses whose shortcut starts with QUERY, then those whose shortcut or title
 * holds it elsewhere, each group in shortcut order. */
export function matching(responses, query) {
  const q = query.toLowerCase();
  const starts = responses.filter((r) => r.shortcut.toLowerCase().startsWith(q));
  const inside = responses.filter(
    (r) => !starts.includes(r) && (r.shortcut.toLowerCase().includes(q) || r.title.toLowerCase().includes(q)),
  );
  const byShortcut = (a, b) => a.shortcut.localeCompare(b.shortcut);
  return [...starts.sort(byShortcut), ...inside.sort(byShortcut)];
}

/** Return TEXT with RESPONSE's text in place of the characters from START to CARET, and the
 * caret after it. */
export function insertResponse(text, start, caret, response) {
  const value = text.slice(0, start) + response.text + text.slice(caret);
  return { value, caret: start + response.text.length };
}

/** Return the first characters of TEXT on one line, for the list's preview. */
export function preview(text) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > PREVIEW ? `${line.slice(0, PREVIEW - 1)}…` : line;
}

/** The list under the reply box INPUT: a listbox the box points into with aria-activedescendant
 * (the focus stays in the box, as screen readers expect of an autocomplete). LOAD returns the
 * agent's responses; ONPICK is called after a pick changed the draft. */
export class CannedPicker {
  constructor(input, { load, onPick = () => {} }) {
    this.input = input;
    this.load = load;
    this.onPick = onPick;
    this.responses = [];
    this.loadedAt = 0;
    this.shown = [];
    this.active = 0;
    this.slash = null;
    this.list = el("ul", { id: "canned-list", class: "canned-list", role: "listbox", "aria-label": gettext("Canned responses") });
    this.list.hidden = true;
    this.status = el("p", { id: "canned-status", class: "visually-hidden", role: "status", "aria-live": "polite" });
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", this.list.id);
    input.form.after(this.list, this.status);
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update());
    input.addEventListener("blur", () => window.setTimeout(() => this.close(), 150));
  }

  /** Fetch the responses again when they are older than a minute. */
  async refresh() {
    if (Date.now() - this.loadedAt < 60_000) return;
    this.loadedAt = Date.now();
    try {
      this.responses = await this.load();
    } catch {
      this.loadedAt = 0; // asked again on the next "/"
    }
  }

  async update() {
    const slash = slashQuery(this.input.value, this.input.selectionStart ?? this.input.value.length);
    if (!slash) return this.close();
    await this.refresh();
    // The draft may have changed while the responses loaded.
    const now = slashQuery(this.input.value, this.input.selectionStart ?? this.input.value.length);
    if (!now) return this.close();
    this.slash = now;
    this.shown = matching(this.responses, now.query);
    this.active = 0;
    this.render();
  }

  get open() {
    return !this.list.hidden;
  }

  render() {
    if (!this.shown.length) {
      this.list.hidden = true;
      this.input.removeAttribute("aria-activedescendant");
      this.status.textContent = this.responses.length ? gettext("No canned response matches.") : "";
      return;
    }
    this.list.replaceChildren(
      ...this.shown.map((response, i) =>
        el(
          "li",
          {
            id: `canned-option-${response.id}`,
            role: "option",
            "aria-selected": String(i === this.active),
            onmousedown: (event) => event.preventDefault(), // keep the focus in the box
            onclick: () => this.pick(i),
          },
          el("span", { class: "canned-shortcut", text: `/${response.shortcut}` }),
          el("span", { class: "canned-title", text: ` ${response.title}${response.team ? ` (${response.team})` : ""}` }),
          el("span", { class: "canned-preview", text: preview(response.text) }),
        ),
      ),
    );
    this.list.hidden = false;
    const active = this.list.children[this.active];
    this.input.setAttribute("aria-activedescendant", active.id);
    active.scrollIntoView?.({ block: "nearest" });
    this.status.textContent = ngettext(
      "{count} canned response: up and down to choose, Enter to insert, Escape to close.",
      "{count} canned responses: up and down to choose, Enter to insert, Escape to close.",
      this.shown.length,
    );
  }

  close() {
    this.list.hidden = true;
    this.shown = [];
    this.slash = null;
    this.input.removeAttribute("aria-activedescendant");
  }

  /** Handle a key pressed in the box while the list is open; return whether it was handled. */
  handleKey(event) {
    if (!this.open || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.shown.length) % this.shown.length;
      this.render();
    } else if (event.key === "Enter" || (event.key === "Tab" && !event.shiftKey)) {
      this.pick(this.active);
    } else if (event.key === "Escape") {
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  pick(index) {
    const response = this.shown[index];
    if (!response || !this.slash) return;
    const caret = this.input.selectionStart ?? this.input.value.length;
    const { value, caret: after } = insertResponse(this.input.value, this.slash.start, caret, response);
    this.input.value = value;
    this.input.setSelectionRange(after, after);
    this.close();
    this.status.textContent = gettext("Inserted /{shortcut}: edit it, then send.", { shortcut: response.shortcut });
    this.input.focus();
    this.onPick(response);
  }
}
