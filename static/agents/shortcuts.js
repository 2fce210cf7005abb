// The dashboard's keyboard shortcuts: Alt with a letter, which typing never produces, so that
// none fires while the agent writes in the reply box. The physical key (event.code) is read,
// not the character: on a Mac, Alt with a letter types a symbol instead.
import "./catalogue.js";
import { gettext } from "../sealdesk/i18n.js";

/** What each shortcut does, with the keys the help line and aria-keyshortcuts name. */
export const SHORTCUTS = Object.freeze([
  { action: "accept", code: "KeyA", keys: "Alt+A", label: gettext("accept the oldest offer") },
  { action: "next", code: "KeyN", keys: "Alt+N", label: gettext("next conversation") },
  { action: "close", code: "KeyC", keys: "Alt+C", label: gettext("close the chat in view (after a wrap-up)") },
]);

/** Return the action of a keydown EVENT ("accept", "next" or "close"), or null: Alt alone with
 * one of the letters, never with Ctrl, Meta or Shift, never a key held down. */
export function shortcutOf(event) {
  if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.repeat) return null;
  return SHORTCUTS.find((s) => s.code === event.code)?.action ?? null;
}

/** Return the offer waiting longest (the earliest `waiting_since`, then the lowest id), or null. */
export function oldestOffer(offers) {
  let oldest = null;
  for (const offer of offers) {
    const since = Date.parse(offer.waiting_since);
    const best = oldest && Date.parse(oldest.waiting_since);
    if (!oldest || since < best || (since === best && offer.id < oldest.id)) oldest = offer;
  }
  return oldest;
}

/** Return the id after CURRENT in IDS, from the first again after the last; the first when
 * CURRENT is not among them; null when there are none. */
export function nextOf(ids, current) {
  if (!ids.length) return null;
  const at = ids.indexOf(current);
  return ids[(at + 1) % ids.length];
}
