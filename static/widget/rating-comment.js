// The comment a customer may add to its rating once the chat ended: sealed in this browser under
// the conversation's latest epoch, like a message, so only the people who were in the chat read
// it; the server stores it once, after the score (docs/PROTOCOL.md, "Widget socket").

import { lengthNote, roomLeft } from "../sealdesk/chat.js";
import { el } from "../sealdesk/dom.js";
import { COMMENT } from "../sealdesk/frames.js";
import { gettext } from "../sealdesk/i18n.js";

export class RatingComment {
  /** VIEW() returns the conversation's view; DONE() records that the comment went. */
  constructor(view, done) {
    this.view = view;
    this.doneCallback = done;
    this.input = el("textarea", { rows: "2", "aria-describedby": "sealdesk-comment-why" });
    this.status = el("p", { class: "comment-status", role: "status", "aria-live": "polite" });
    this.button = el("button", { type: "submit", class: "secondary", text: gettext("Send comment") });
    this.element = el("form", { class: "rating-comment", hidden: true, onsubmit: (event) => this.submit(event) },
      el("label", {}, gettext("Add a comment (optional)"), this.input),
      el("p", { id: "sealdesk-comment-why", class: "disclosure", text: gettext("Encrypted like your messages: only the people who were in this chat can read it.") }),
      this.button,
      this.status);
  }

  /** Offer the comment once the chat is RATED, until it is COMMENTED. */
  show(rated, commented) {
    this.element.hidden = !rated;
    if (commented) this.sent();
  }

  async submit(event) {
    event.preventDefault();
    const body = this.input.value.trim();
    if (!body) {
      this.status.textContent = gettext("Write your comment first.");
      return;
    }
    const plaintext = { type: "rating_comment", body };
    const room = roomLeft(plaintext);
    if (room < 0) {
      this.status.textContent = lengthNote(room).text; // nothing is cut: it stays to shorten
      return;
    }
    this.button.disabled = true;
    try {
      const view = this.view();
      await view.sendMessage(plaintext, { type: COMMENT, conversation: view.conversation });
      await this.doneCallback();
      this.sent();
    } catch (error) {
      this.status.textContent = error.message; // the comment stays in the box
      this.button.disabled = false;
    }
  }

  sent() {
    this.input.disabled = true;
    this.button.hidden = true;
    this.status.textContent = gettext("Thank you for your comment.");
  }
}
