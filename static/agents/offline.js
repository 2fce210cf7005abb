// The dashboard's offline messages (docs/PROTOCOL.md, "Messages left"): messages customers left
// for the agent's teams while no one could answer, listed as metadata. A message opens only in a
// browser it was encrypted to; picking it up makes it a chat with this agent, which the dashboard
// then follows like an accepted offer.
import { el } from "../sealdesk/dom.js";
import { sentence } from "../sealdesk/errors.js";
import "../sealdesk/staff-errors.js"; // the sentences of the codes only staff meet
import { PICK_UP } from "../sealdesk/frames.js";
import { gettext } from "../sealdesk/i18n.js";

/** When a message was left, as a line of its row: the time today, else the day and time. */
export function leftWhen(iso, now = new Date()) {
  const when = new Date(iso);
  const today = when.toDateString() === now.toDateString();
  return today
    ? gettext("today at {time}", { time: when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) })
    : when.toLocaleString([], { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

export class OfflineMessages {
  // list, empty, status: the section's elements; socket(): the open socket or null.
  constructor({ list, empty, status, socket }) {
    Object.assign(this, { list, empty, status, socket });
    this.messages = [];
  }

  show(messages) {
    this.messages = messages;
    this.render();
  }

  render() {
    this.list.replaceChildren(
      ...this.messages.map((message) => {
        const row = el(
          "li",
          { "data-message": message.id },
          el("strong", { text: `${message.team.name}` }),
          el("div", { class: "meta", text: gettext("Left {when}", { when: leftWhen(message.left_at ?? message.created_at) }) }),
        );
        if (message.readable) {
          row.append(el("button", { type: "button", class: "primary", text: gettext("Pick up"), onclick: (event) => this.pickUp(message, event.target) }));
        } else {
          row.append(el("p", { class: "meta", text: gettext("Encrypted to other browsers of your team: this browser was approved after it was left, or is not approved.") }));
        }
        return row;
      }),
    );
    this.empty.hidden = this.messages.length > 0;
  }

  async pickUp(message, button) {
    const socket = this.socket();
    if (!socket?.connected) {
      this.status.textContent = gettext("Not connected: try again in a moment.");
      return;
    }
    button.disabled = true;
    try {
      // The server answers with the conversation, which the dashboard follows (its
      // `conversation` frame), and sends every agent of the team the shorter list.
      await socket.request({ type: PICK_UP, conversation: message.id });
      this.status.textContent = "";
    } catch (error) {
      this.status.textContent = sentence(error.code);
      button.disabled = false;
    }
  }
}
