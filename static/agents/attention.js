// What draws an agent back to the dashboard: unread counts in the tab's title and favicon, a
// chime, and desktop notifications, for messages that arrive in chats not in view or while the
// tab is hidden. The bookkeeping and the texts are pure functions (tests/js/attention.test.mjs);
// the dashboard (dashboard.js) tells this module each chat's unread count.
import { gettext } from "../sealdesk/i18n.js";
import { playChime, titleWith } from "../sealdesk/unread.js";

const MUTED_KEY = "sealdesk-muted";

export { titleWith };

/** Return the text of the favicon's badge: the count, or "99+" past 99. */
export function badgeText(count) {
  return count > 99 ? "99+" : String(count);
}

/** Return a desktop notification's title and options for a message from NAME in chat ID. It
 * never carries the message: a notification shows on a locked screen (README, "Attention"). */
export function notificationFor(name, id) {
  return { title: gettext("New message from {name}", { name }), options: { body: gettext("Open Sealdesk to read it."), tag: `message-${id}` } };
}

/** Unread messages per chat, as the dashboard counts them, and how many of them just arrived. */
export class UnreadBook {
  constructor() {
    this.counts = new Map(); // chat id -> unread count last noted
  }

  /** Note that chat ID has UNREAD unread messages; return how many arrived since the last note.
   * The first note of a chat is its starting point: what a (re)load caught up on is counted
   * unread, as its badge says, but did not just arrive. */
  note(id, unread) {
    const before = this.counts.get(id);
    this.counts.set(id, unread);
    return before === undefined ? 0 : Math.max(0, unread - before);
  }

  /** Take the unread counts of the chats listed now, [[id, unread], ...]: a count that went down
   * (the chat was opened) is the new starting point, a chat no longer listed is forgotten.
   * Return the total unread. */
  settle(listed) {
    const ids = new Set(listed.map(([id]) => id));
    for (const id of this.counts.keys()) if (!ids.has(id)) this.counts.delete(id);
    for (const [id, unread] of listed) {
      if (this.counts.has(id) && unread < this.counts.get(id)) this.counts.set(id, unread);
    }
    return listed.reduce((total, [, unread]) => total + unread, 0);
  }
}

/** Return whether sounds are muted in this browser. */
export function muted(storage = globalThis.localStorage) {
  try {
    return storage?.getItem(MUTED_KEY) === "1";
  } catch {
    return false; // storage refused (a privacy setting): sounds stay on
  }
}

function setMuted(value, storage = globalThis.localStorage) {
  try {
    if (value) storage.setItem(MUTED_KEY, "1");
    else storage.removeItem(MUTED_KEY);
  } catch {
    // Not remembered, but this page still follows the button.
  }
}

/** Play a short chime, unless sounds are muted: for new offers and for messages. */
export function chime() {
  if (!muted()) playChime();
}

// The favicon with a red badge, drawn on a canvas into a data: URL (the CSP's img-src allows
// data:). The plain icon is drawn under it once it has loaded.
function badgedIcon(base, count) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  const context = canvas.getContext("2d");
  if (base?.complete && base.naturalWidth) context.drawImage(base, 0, 0, 64, 64);
  else {
    context.fillStyle = "#1f5fbf";
    context.fillRect(0, 0, 64, 64);
  }
  const text = badgeText(count);
  context.fillStyle = "#b42318";
  context.beginPath();
  context.arc(42, 22, 22, 0, 2 * Math.PI);
  context.fill();
  context.fillStyle = "#ffffff";
  context.font = `bold ${text.length > 2 ? 18 : 28}px sans-serif`;
  context.textAlign = "center";
  context.textBaseline = "middle";
  context.fillText(text, 42, 23);
  return canvas.toDataURL("image/png");
}

/** The page's side of it: title, favicon, chime, notifications and the mute button. */
export class Attention {
  // muteButton: a toggle button (aria-pressed) for all the dashboard's sounds; open(id): show chat ID.
  constructor({ muteButton, open }) {
    this.book = new UnreadBook();
    this.base = document.title;
    this.open = open;
    this.icon = document.querySelector("link[rel=icon]");
    this.plainIcon = { href: this.icon?.href, type: this.icon?.type };
    this.baseImage = new Image();
    this.baseImage.src = this.plainIcon.href ?? "";
    this.total = 0;
    this.muteButton = muteButton;
    muteButton.setAttribute("aria-pressed", String(muted()));
    muteButton.addEventListener("click", () => {
      setMuted(!muted());
      muteButton.setAttribute("aria-pressed", String(muted()));
    });
  }

  /** Chat ID of customer NAME now has UNREAD unread messages: chime and notify for new ones. */
  note(id, unread, name) {
    if (!this.book.note(id, unread)) return;
    chime();
    if ("Notification" in window && Notification.permission === "granted" && (document.hidden || !document.hasFocus())) {
      const { title, options } = notificationFor(name, id);
      const shown = new Notification(title, options);
      shown.onclick = () => {
        window.focus();
        this.open(id);
        shown.close();
      };
    }
  }

  /** Show the total unread of the chats listed now ([[id, unread], ...]) in title and favicon. */
  show(listed) {
    const total = this.book.settle(listed);
    if (total === this.total) return;
    this.total = total;
    document.title = titleWith(this.base, total);
    if (!this.icon) return;
    if (total) {
      this.icon.type = "image/png";
      this.icon.href = badgedIcon(this.baseImage, total);
    } else {
      this.icon.type = this.plainIcon.type;
      this.icon.href = this.plainIcon.href;
    }
  }
}
