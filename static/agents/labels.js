// What the dashboard writes next to messages and offers: who sent a message and on whose word,
// when its sender signed it, and how long a customer has waited.
import { gettext } from "../sealdesk/i18n.js";

/** Return the name to show for a sender as ConversationView.senderOf describes it: "You", the
 * customer's own name, a colleague's certified name, or, when only the server names the
 * device, that name marked as the server's. */
export function senderLabel({ name, source }) {
  if (source === "self") return gettext("You");
  if (source === "server") return gettext("{name} (named by the server, not verified)", { name });
  return name;
}

/** Return how to show SENT_AT (the sender's signed ISO time) in LOCALE: {datetime, text, title},
 * the time alone for today and with the date before, or null when it is not a time. */
export function timeLabel(sentAt, locale = undefined, now = new Date()) {
  const at = new Date(typeof sentAt === "string" ? sentAt : Number.NaN);
  if (Number.isNaN(at.getTime())) return null;
  const today = at.toDateString() === now.toDateString();
  const time = { hour: "2-digit", minute: "2-digit" };
  const text = today ? at.toLocaleTimeString(locale, time) : at.toLocaleString(locale, { dateStyle: "short", timeStyle: "short" });
  return { datetime: at.toISOString(), text, title: at.toLocaleString(locale, { dateStyle: "full", timeStyle: "medium" }) };
}

/** Return how long since ISO, as people read a wait: "45 s", "3 min 05 s", "1 h 02 min". */
export function waited(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  if (seconds < 60) return gettext("{seconds} s", { seconds });
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return gettext("{minutes} min {seconds} s", { minutes, seconds: pad(seconds % 60) });
  return gettext("{hours} h {minutes} min", { hours: Math.floor(minutes / 60), minutes: pad(minutes % 60) });
}
