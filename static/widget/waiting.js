// The widget while its customer waits: the place in the queue with the server's estimated wait,
// and, once a message is left, the offer to be told by e-mail when the answer is here
// (docs/PROTOCOL.md, "Waiting" and "E-mail notice").

import { el } from "../sealdesk/dom.js";
import { NOTIFY } from "../sealdesk/frames.js";
import { gettext, ngettext } from "../sealdesk/i18n.js";

/** The waiting customer's line: the place POSITION (0: not known) and the estimated wait in
 * seconds WAIT (null: the server has no recent figure), rounded as a person would say it. */
export function queueLine(position, wait) {
  const place = position
    ? gettext("You are number {position} in the queue.", { position })
    : gettext("You are in the queue.");
  return `${place} ${waitText(wait)}`;
}

export function waitText(wait) {
  if (wait === null || wait === undefined) {
    return gettext("There is no estimate of the wait yet: an agent will be with you as soon as one is free.");
  }
  if (wait < 60) return gettext("Estimated wait: less than a minute.");
  const minutes = Math.round(wait / 60);
  if (minutes < 90) return ngettext("Estimated wait: about {count} minute.", "Estimated wait: about {count} minutes.", minutes);
  const hours = Math.round(minutes / 60);
  return ngettext("Estimated wait: about {count} hour.", "Estimated wait: about {count} hours.", hours);
}

/** The offer, under a message left, to hear by e-mail once the answer is here. SEND(email)
 * asks the server to keep (or, empty, forget) the address and resolves to whether it keeps one;
 * KEPT says it kept one before (a reload). */
export class NoticeOffer {
  constructor(send) {
    this.send = send;
    this.input = el("input", { type: "email", name: "email", autocomplete: "email", "aria-describedby": "sealdesk-notice-why" });
    this.status = el("p", { class: "notice-status", role: "status", "aria-live": "polite" });
    this.fields = el("div", { class: "notice-fields", hidden: true },
      el("label", {}, gettext("Your e-mail address"), this.input),
      el("button", { type: "submit", class: "secondary", text: gettext("Tell me by e-mail") }));
    this.box = el("input", { type: "checkbox", onchange: () => this.toggle() });
    // novalidate: the server checks the address, and its refusal reads as the rest of the widget.
    this.element = el("form", { class: "notice-offer", novalidate: true, hidden: true, onsubmit: (event) => this.submit(event) },
      el("label", { class: "check" }, this.box, gettext("Tell me by e-mail when the answer is here")),
      el("p", { id: "sealdesk-notice-why", class: "disclosure", text: gettext("We keep this address only to send you that one notice, and erase it then. Unlike your messages, it is not encrypted: the server can read it.") }),
      this.fields,
      this.status);
  }

  show(shown, kept = false) {
    this.element.hidden = !shown;
    if (kept) this.done();
  }

  async toggle() {
    this.fields.hidden = !this.box.checked;
    if (this.box.checked) {
      this.input.focus();
    } else if (this.kept) {
      await this.request("");
    }
  }

  async submit(event) {
    event.preventDefault();
    const email = this.input.value.trim();
    if (!email) {
      this.status.textContent = gettext("Enter your e-mail address, or untick the box.");
      return;
    }
    await this.request(email);
  }

  async request(email) {
    try {
      this.kept = await this.send(email);
      if (this.kept) this.done();
      else this.status.textContent = gettext("We will not write to you.");
    } catch (error) {
      this.status.textContent = error.message; // the address stays in the field to correct
    }
  }

  done() {
    this.kept = true;
    this.box.checked = true;
    this.fields.hidden = true;
    this.status.textContent = gettext("We will write to you once, when the answer is here. Untick the box to cancel.");
  }
}

/** Ask the server over SOCKET to keep EMAIL for CONVERSATION's notice; resolve to whether it
 * keeps one. */
export async function askNotice(socket, conversation, email) {
  const reply = await socket.request({ type: NOTIFY, conversation, email });
  return reply.notify;
}
