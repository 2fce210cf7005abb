// The Sealdesk chat widget. scripts/build-widget bundles it with what it imports into one file,
// served at <app>/widget/<version>/sealdesk-widget.js (chat/widget_files.py); a tenant's page
// embeds it with the tag that the admin shows, pinned by Subresource Integrity:
//   <script type="module" src="https://desk.example.com/widget/<version>/sealdesk-widget.js"
//           integrity="sha384-..." crossorigin="anonymous" data-sealdesk-widget="wid_..."
//           data-org-key="<organisation key fingerprint>"></script>
// With data-org-key, the widget lets into the conversation only agents' devices that the
// tenant's organisation key certified (docs/PROTOCOL.md, "Certified devices").
// Everything is encrypted here before it leaves the page (docs/PROTOCOL.md). It needs no inline
// script or style, no eval and no wasm: styles are a constructed stylesheet in a shadow root.

import { ConversationView, createDevice, lengthNote, listOf, orgTrust, refusalText, restoreDevice, roomLeft, storableDevice, tickText } from "../sealdesk/chat.js";
import { el } from "../sealdesk/dom.js";
import { sentence } from "../sealdesk/errors.js";
import { FileTransfer, humanSize, saveBlob } from "../sealdesk/files.js";
import { direction, gettext, language, ngettext } from "../sealdesk/i18n.js";
import { AUTH, EVENT, LEAVE_MESSAGE, QUEUE, RATE, RESUME, TYPING, WIDGET_FRAMES } from "../sealdesk/frames.js";
import { orgKeyId } from "../sealdesk/protocol.js";
import { Socket, socketUrl } from "../sealdesk/socket.js";
import { openStore } from "../sealdesk/store.js";
import { transcriptHtml, transcriptText } from "../sealdesk/transcript.js";
import { playChime, titleWith } from "../sealdesk/unread.js";
import { brandSheet, tenantText } from "./brand.js";
import { loadLanguage } from "./language.js";
import { RatingComment } from "./rating-comment.js";
import { NoticeOffer, askNotice, queueLine } from "./waiting.js";
import { WIDGET_CSS } from "./widget-style.js";

// The app's root, which may be a path: the bundle lies two levels below it, in widget/<version>/.
const SERVER = new URL("../../", import.meta.url).href;

// This bundle's own tag, whose URL is the bundle's; else the page's first widget tag.
function findWidgetTag() {
  for (const script of document.querySelectorAll("script[data-sealdesk-widget]")) {
    if (new URL(script.src, document.baseURI).href === import.meta.url) return script;
  }
  return document.querySelector("script[data-sealdesk-widget]");
}

const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

// The organisation key the snippet pins, by its fingerprint, among the keys the server names
// (the current one and those of its hand-overs, which orgTrust then checks), or null.
function pinnedKey(pin, org) {
  const wanted = pin.replaceAll(" ", "").toLowerCase();
  const named = org ? [org.key, ...(org.rotations ?? []).flatMap((r) => [r.old, r.new])] : [];
  return named.map(unb64).find((key) => orgKeyId(key) === wanted) ?? null;
}

const statusText = (state) =>
  ({ connecting: gettext("Connecting…"), open: gettext("Connected"), closed: gettext("Offline: reconnecting…") })[state];

class Widget {
  constructor(widgetId, orgKey) {
    this.widgetId = widgetId;
    this.orgKey = orgKey ?? null;
    this.pinned = null; // the organisation key the snippet pins, once the server named it
    this.api = new URL(`api/widget/${widgetId}/`, SERVER).href;
    // In the customer's language, right to left where it is written so (the shadow root follows).
    this.host = el("div", { id: "sealdesk-widget", lang: language(), dir: direction() });
    this.root = this.host.attachShadow({ mode: "open" });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(WIDGET_CSS);
    this.root.adoptedStyleSheets = [sheet];
    document.body.append(this.host);
    this.renderShell();
  }

  async start() {
    this.store = await openStore(`sealdesk-widget-${this.widgetId}`);
    const response = await fetch(`${this.api}config`, { credentials: "omit" });
    if (!response.ok) {
      this.fail(gettext("This chat is not available on this page."));
      return;
    }
    this.config = await response.json();
    this.root.adoptedStyleSheets = [...this.root.adoptedStyleSheets, brandSheet(this.config.brand)];
    this.title.textContent = gettext("Chat with {tenant}", { tenant: this.config.tenant.name });
    if (this.orgKey) {
      try {
        this.pinned = pinnedKey(this.orgKey, this.config.org);
      } catch {
        this.pinned = null;
      }
      if (!this.pinned) {
        // Fail closed: without the pinned key, nobody could be checked.
        this.fail(gettext("This chat cannot check {tenant}'s agents: the server does not name the organisation key this page pins.", { tenant: this.config.tenant.name }));
        return;
      }
    }
    const saved = await this.store.get("current");
    if (saved) await this.resume(saved);
    else this.showForm();
    if ((await this.store.get("open")) === true) this.toggle(true);
  }

  renderShell() {
    this.launcher = el("button", {
      class: "launcher",
      type: "button",
      "aria-expanded": "false",
      "aria-controls": "sealdesk-panel",
      text: gettext("Chat with us"),
      onclick: () => this.toggle(),
    });
    // Messages that came while the panel was closed or the page hidden: on the launcher and in
    // the page's title, until the customer looks.
    this.badge = el("span", { class: "badge", "aria-hidden": "true", hidden: true });
    this.launcher.append(this.badge);
    this.pageTitle = null;
    document.addEventListener("visibilitychange", () => this.markSeen());
    this.title = el("h2", { id: "sealdesk-title", text: gettext("Chat") });
    this.status = el("span", { class: "status", role: "status", "data-state": "idle" });
    this.body = el("div", { class: "body" });
    this.panel = el(
      "section",
      { id: "sealdesk-panel", class: "panel", role: "dialog", "aria-labelledby": "sealdesk-title", tabindex: "-1", hidden: true },
      el(
        "header",
        {},
        this.title,
        this.status,
        el("button", { type: "button", class: "minimize", "aria-label": gettext("Minimize chat"), text: "–", onclick: () => this.toggle(false) }),
      ),
      el("p", {
        class: "e2e",
        text: gettext("End-to-end encrypted: only you and the agents in this chat can read it."),
      }),
      this.body,
    );
    this.root.append(this.launcher, this.panel);
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.toggle(false);
    });
    this.panel.addEventListener("dragover", (event) => event.preventDefault());
    this.panel.addEventListener("drop", (event) => {
      event.preventDefault();
      this.sendFiles([...(event.dataTransfer?.files ?? [])]);
    });
  }

  toggle(open = this.panel.hidden) {
    this.panel.hidden = !open;
    this.launcher.setAttribute("aria-expanded", String(open));
    this.store?.put("open", open);
    if (open) this.focusFirst();
    else this.launcher.focus();
    this.markSeen();
  }

  // The others' messages after the last one the customer saw (saved.seen, a transcript position
  // kept across reloads): counted on the launcher and in the title, with a chime if asked for.
  unread() {
    const mine = this.device?.deviceId;
    const seen = this.saved?.seen ?? 0;
    return (this.view?.items ?? []).filter((item) => item.kind === "message" && item.sender !== mine && item.seq > seen);
  }

  markSeen() {
    const looking = !this.panel.hidden && !document.hidden;
    const unread = this.view ? this.unread() : [];
    if (looking && unread.length) {
      this.saved.seen = Math.max(...unread.map((item) => item.seq));
      this.store.put("current", this.saved);
    }
    this.showUnread(looking ? 0 : unread.length);
  }

  showUnread(count) {
    if (count > (this.unreadCount ?? 0) && this.saved?.sound) playChime();
    this.unreadCount = count;
    this.badge.hidden = !count;
    this.badge.textContent = String(count);
    const label = gettext("Chat with us");
    this.launcher.setAttribute("aria-label", count ? `${label} (${ngettext("{count} new message", "{count} new messages", count)})` : label);
    if (count && this.pageTitle === null) this.pageTitle = document.title;
    if (this.pageTitle !== null) document.title = titleWith(this.pageTitle, count);
    if (!count) this.pageTitle = null;
  }

  // Keyboard users land on the first field of whatever the panel shows now.
  focusFirst() {
    if (this.panel.hidden) return;
    (this.body.querySelector("input, textarea:not([hidden])") || this.panel).focus();
  }

  // What the tenant's supervision policy lets its supervisors do, said before the chat starts
  // (docs/PROTOCOL.md, "Supervisors"); nothing when they cannot open chats.
  disclosure() {
    const tenant = this.config.tenant.name;
    return {
      monitor: () => gettext("Supervisors at {tenant} may read this chat, from its start, to check its quality. You will see each one who opens it.", { tenant }),
      whisper: () => gettext("Supervisors at {tenant} may read this chat, from its start, and advise the agent privately. You will see each one who opens it.", { tenant }),
      barge: () => gettext("Supervisors at {tenant} may read this chat, from its start, advise the agent privately, and join in. You will see each one who opens it.", { tenant }),
    }[this.config.supervision]?.() ?? "";
  }

  // The tenant's own greeting or label KEY in the customer's language, else FALLBACK.
  tenantText(key, fallback) {
    return tenantText(this.config, language(), key, fallback);
  }

  fail(message) {
    this.body.replaceChildren(el("p", { class: "error", role: "alert", text: message }));
  }

  showForm(error = "") {
    const teams = this.config.teams;
    const field = (label, input) => el("label", {}, el("span", { text: label }), input);
    const name = el("input", { name: "name", autocomplete: "name", required: true, maxlength: "100" });
    const email = el("input", { name: "email", type: "email", autocomplete: "email", maxlength: "200" });
    // No maxlength: a paste past it would be cut without a word. The whole form must fit one
    // message, which the submit checks with a plain sentence.
    const question = el("textarea", { name: "question", required: true, rows: "3" });
    const problem = el("p", { class: "error", role: "alert", text: error });
    problem.hidden = !error;
    const team = el(
      "select",
      { name: "team" },
      ...teams.map((t) => el("option", { value: String(t.id), text: t.name })),
    );
    // Outside the team's business hours: a message instead of a chat, where one can be left.
    const hours = el("p", { class: "hours", role: "status" });
    const questionLabel = el("span", { text: gettext("Your question") });
    const submit = el("button", { type: "submit", class: "primary", text: gettext("Start chat") });
    const chosen = () => teams.find((t) => String(t.id) === team.value) ?? teams[0];
    const showHours = () => {
      const t = chosen();
      const closed = t && !t.open;
      const message = closed && this.canLeaveMessage(t);
      hours.hidden = !closed;
      const then = message ? gettext("Leave a message and we will answer it here.") : gettext("Please come back then.");
      hours.textContent = closed ? [gettext("{team} is closed now.", { team: t.name }), opensText(t.opens_at), then].filter(Boolean).join(" ") : "";
      questionLabel.textContent = message ? gettext("Your message") : this.tenantText("question_label", gettext("Your question"));
      submit.textContent = message ? gettext("Leave a message") : gettext("Start chat");
      submit.disabled = Boolean(closed && !message);
    };
    team.addEventListener("change", showHours);
    const form = el(
      "form",
      { class: "prechat" },
      el("p", { text: this.tenantText("greeting", gettext("Tell us who you are and how we can help.")) }),
      ...(this.disclosure() ? [el("p", { class: "disclosure", text: this.disclosure() })] : []),
      field(this.tenantText("name_label", gettext("Name")), name),
      field(this.tenantText("email_label", gettext("Email (optional)")), email),
      ...(teams.length > 1 ? [field(gettext("Department"), team)] : []),
      hours,
      el("label", {}, questionLabel, question),
      problem,
      submit,
    );
    showHours();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      const t = chosen();
      const prechat = { name: name.value.trim(), email: email.value.trim(), question: question.value.trim() };
      const { over, text } = lengthNote(roomLeft({ type: "prechat", ...prechat }));
      if (over) {
        problem.textContent = text;
        problem.hidden = false;
        button.disabled = false;
        question.focus();
        return;
      }
      this.startConversation(Number(t?.id), prechat, Boolean(t && !t.open)).catch((failure) => {
        if (!form.isConnected) return this.showForm(failure.message); // failed after the form went
        // The same form, with what the customer typed: only the reason is new.
        problem.textContent = failure.message;
        problem.hidden = false;
        button.disabled = false;
      });
    });
    this.body.replaceChildren(form);
    this.focusFirst();
  }

  // Whether a message can be left for TEAM: someone of it has an approved browser, and this
  // page pins the organisation key, so that only those browsers can read it.
  canLeaveMessage(team) {
    return Boolean(team?.messages && this.pinned);
  }

  async startConversation(team, prechat, message = false) {
    const device = await createDevice();
    const response = await fetch(`${this.api}conversations`, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      // pins: whether this widget checks agents' certificates, so that its chat can go back to
      // a queue after its agents left (docs/PROTOCOL.md, "Back to a queue").
      // message: left for the team, outside its hours (docs/PROTOCOL.md, "Messages left").
      body: JSON.stringify({ team, device: device.publicJson(), language: browserLanguage(), pins: Boolean(this.pinned), message }),
    });
    const reply = await response.json();
    if (!response.ok) throw new Error(sentence(reply.code, response.headers.get("Retry-After")));
    const saved = {
      conversation: reply.conversation,
      token: reply.token,
      device: await storableDevice(device),
      outbox: [],
      prechat,
    };
    await this.store.put("current", saved);
    await this.resume(saved, device);
  }

  async resume(saved, device = null) {
    this.saved = saved;
    this.device = device || (await restoreDevice(saved.device));
    this.previews = new Map();
    this.files = new FileTransfer(`${this.api}uploads`, () => ({
      Authorization: `Bearer ${saved.token}`,
      "X-Sealdesk-Conversation": saved.conversation.id,
    }));
    this.showConversation();
    const conversation = saved.conversation;
    // Revocations this widget applied before are kept with the conversation: a page load the
    // server leaves them out of must not let the device back in.
    const { tenant, org } = this.config;
    const trust = this.pinned && (await orgTrust(tenant.id, this.pinned, org, saved.revocations ?? []));
    this.view = new ConversationView({
      device: this.device,
      tenant: conversation.tenant,
      conversation: conversation.id,
      // This browser's own device, from its own keys: not the server's word for it.
      customerDevice: { id: this.device.deviceId, ...this.device.publicJson() },
      trust,
      outbox: saved.outbox,
      onRevocation: (revocation) => {
        this.saved.revocations = [...(this.saved.revocations ?? []), revocation];
        this.store.put("current", this.saved);
      },
      onChange: () => this.renderMessages(),
      onOutbox: (outbox) => {
        this.saved.outbox = outbox;
        this.store.put("current", this.saved);
      },
    });
    this.socket = new Socket(socketUrl(SERVER, `ws/widget/${this.widgetId}/`), WIDGET_FRAMES, {
      onState: (state) => this.showStatus(state),
      onRefused: () => this.fail(gettext("This page may not use this chat.")),
      onFrame: (frame) => this.onFrame(frame),
      onOpen: async () => {
        const hello = await this.socket.request({
          type: AUTH,
          conversation: conversation.id,
          token: saved.token,
        });
        this.waitSeconds = hello.wait_seconds;
        this.showState(hello.conversation.state, hello.queue_position);
        this.view.quietJoins = Boolean(hello.conversation.message);
        await this.view.connected(this.socket);
        // Who the customer talks to, from the epochs just read (the server's state line alone
        // would only say "an agent", as after a reload).
        if (hello.conversation.state === "active") this.showAgent();
        this.unparkIfWritten();
        if (this.saved.prechat) {
          const prechat = this.saved.prechat;
          // onOutbox stores the outbox without it, in the same write: never sent twice.
          delete this.saved.prechat;
          await this.view.sendMessage({ type: "prechat", ...prechat });
        }
      },
    });
  }

  onFrame(frame) {
    if (!this.view) return; // a frame still on its way when the customer started anew
    if (frame.type === EVENT) {
      const applied = this.view.onEvent(frame.event);
      if (frame.event.kind === "joined" || frame.event.kind === "epoch") applied.then(() => this.showAgent(frame.event));
      if (frame.event.kind === "message") applied.then(() => this.unparkIfWritten());
      if (frame.event.kind === "closed") this.showState("closed");
      if (frame.event.kind === "parked") this.showState("parked");
      if (frame.event.kind === "queued") this.showState("queued");
    } else if (frame.type === QUEUE) {
      this.waitSeconds = frame.wait_seconds;
      this.showState("queued", frame.position);
    } else if (frame.type === TYPING) {
      this.showTyping();
    }
  }

  // The customer of a parked chat wrote since it was parked (online, offline, or just as it was
  // parked): it goes back to the queue. Asked again after every reconnect and message until the
  // server says so with its queued event.
  unparkIfWritten() {
    if (!this.parked || !this.view?.wroteSinceParked() || !this.socket?.connected) return;
    this.socket
      .request({ type: RESUME, conversation: this.view.conversation })
      .then((reply) => this.parked && ((this.waitSeconds = reply.wait_seconds), this.showState("queued", reply.position)))
      .catch(() => {}); // tried again on the next message or reconnect
  }

  showStatus(state) {
    this.status.dataset.state = state;
    this.status.textContent = statusText(state);
  }

  // Who the customer talks to: the agents in the latest epoch, by the names their certificates
  // give ("verified by" the tenant) where the snippet pins the organisation key.
  showAgent(event = null) {
    if (this.closed || !this.view) return;
    const latest = this.view.state.latestEpoch;
    const members = latest === null ? [] : this.view.state.membersOf(latest);
    // A message left for the team has every browser of the team in its epoch: it is taken once
    // one of them joins as the chat's agent, or makes the next epoch (docs/PROTOCOL.md).
    // The team's browsers a message is left for are named joining once as it is left; a second
    // join of one of them is its agent picking the message up.
    const joiner = event?.kind === "joined" ? event.body?.device?.id : null;
    const again = Boolean(joiner && this.joins?.has(joiner));
    if (joiner) (this.joins ??= new Set()).add(joiner);
    if (this.stateName === "message") {
      const me = this.device.deviceId;
      const rejoined = again && members.some((m) => m.deviceId === joiner);
      const byStaff = latest !== null && this.view.epochs.get(latest)?.creator !== me;
      if (!rejoined && !byStaff) return;
      this.stateName = "active";
    }
    const agents = members.filter((m) => m.role === "agent");
    const supervisors = members.filter((m) => m.role === "supervisor");
    const name = (m) =>
      m.cert && this.view.trust ? gettext("{name} (verified by {tenant})", { name: m.cert.name, tenant: this.config.tenant.name }) : this.view.nameOf(m.deviceId);
    // Every supervisor who can read is named, in every state, whatever the server says (the
    // epoch lists it).
    this.readers = supervisors.map((m) => ` ${gettext("{name}, a supervisor, can read this conversation.", { name: name(m) })}`).join("");
    if (!agents.length) return this.stateName && this.showState(this.stateName, this.position); // waiting, or parked
    this.showState("active", 0, listOf(agents.map(name)));
    this.safety.textContent = this.view.safetyNumber() ?? "";
  }

  showState(state, position = 0, agentName = "") {
    this.closed = state === "closed";
    this.parked = state === "parked";
    this.stateName = state;
    this.position = position;
    if (state === "queued") {
      this.stateLine.textContent = queueLine(position, this.waitSeconds);
    } else if (state === "message") {
      const team = this.saved?.conversation.team.name ?? gettext("The team");
      this.stateLine.textContent = gettext("Your message is with {team}. An agent will answer it here: come back to this page in this browser to read the answer.", { team });
    } else if (state === "parked") {
      this.stateLine.textContent = gettext("This chat is on hold. Write when you are ready, and an agent will pick it up.");
    } else if (state === "active") {
      this.stateLine.textContent = agentName ? gettext("You are chatting with {name}.", { name: agentName }) : gettext("You are chatting with an agent.");
    } else {
      this.stateLine.textContent = gettext("This conversation has ended.");
    }
    if (!this.closed) this.stateLine.textContent += this.readers ?? "";
    this.composer.hidden = this.closed;
    this.endButton.hidden = this.closed;
    this.offerMessage(state === "queued");
    this.notice.show(state === "message", Boolean(this.saved?.notify));
    this.showRating();
  }

  // After the tenant's longest wait in the queue, the customer may leave a message instead.
  offerMessage(waiting) {
    window.clearTimeout(this.messageTimer);
    this.messageButton.hidden = true;
    const after = this.config.message_after_seconds;
    const team = this.config.teams.find((t) => t.id === this.saved?.conversation.team.id);
    // A chat that had an agent waits for the next one: its history is not for the whole team.
    if (!waiting || !after || this.view?.hadStaff() || !this.canLeaveMessage(team)) return;
    const waited = (Date.now() - Date.parse(this.saved.conversation.created_at)) / 1000;
    this.messageTimer = window.setTimeout(() => {
      if (this.stateName === "queued") this.messageButton.hidden = false;
    }, Math.max(0, after - waited) * 1000);
  }

  async leaveMessage() {
    this.messageButton.disabled = true;
    this.view.quietJoins = true; // the team's browsers are named next: nobody joins to chat
    try {
      const reply = await this.socket.request({ type: LEAVE_MESSAGE, conversation: this.view.conversation });
      this.showState(reply.conversation.state);
      this.composer.querySelector("textarea").focus();
    } catch (error) {
      this.view.quietJoins = false;
      this.showError(error);
    } finally {
      this.messageButton.disabled = false;
    }
  }

  // Once the chat has ended, the customer may rate it, once, from 1 to 5: a score the server
  // stores in clear for the tenant's reports (docs/PROTOCOL.md, "Widget socket"); no comment.
  showRating() {
    this.rating.hidden = !this.closed;
    if (!this.closed) return;
    const rated = this.saved.rated;
    for (const button of this.rating.querySelectorAll("button")) {
      button.disabled = Boolean(rated);
      button.setAttribute("aria-pressed", String(Number(button.value) === rated));
    }
    if (rated) this.ratingStatus.textContent = gettext("Thank you: you rated this chat {score} out of 5.", { score: rated });
    this.ratingComment.show(Boolean(rated), Boolean(this.saved.commented));
  }

  async rate(score) {
    try {
      const reply = await this.socket.request({ type: RATE, conversation: this.saved.conversation.id, score });
      this.saved.rated = reply.score;
    } catch (error) {
      if (error.code !== "already_rated") {
        this.ratingStatus.textContent = error.message;
        return;
      }
      this.saved.rated = score; // from another tab, or before a reload
    }
    await this.store.put("current", this.saved);
    this.showRating();
  }

  showConversation() {
    this.stateLine = el("p", { class: "state", role: "status", tabindex: "-1", text: gettext("Starting…") });
    // In a log of its own (an <ol> is a list); focusable, so that a keyboard can scroll it.
    this.list = el("ol", { class: "messages", tabindex: "0" });
    this.typing = el("p", { class: "typing", "aria-live": "polite", hidden: true, text: gettext("The agent is typing…") });
    // No maxlength, which would cut a long paste without a word: a count near the limit, and a
    // plain sentence past it, which keeps the message from going.
    this.lengthLine = el("p", { id: "sealdesk-length", class: "length", "aria-live": "polite" });
    const input = el("textarea", {
      "aria-label": gettext("Your message"),
      "aria-describedby": "sealdesk-length",
      rows: "2",
      placeholder: gettext("Write a message…"),
    });
    const showLength = () => {
      const note = lengthNote(roomLeft({ type: "text", body: input.value.trim() }));
      this.lengthLine.textContent = note.text;
      this.lengthLine.classList.toggle("over", note.over);
      return note;
    };
    input.addEventListener("input", () => {
      showLength();
      this.sendTyping();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        this.composer.requestSubmit();
      }
    });
    const picker = el("input", { type: "file", class: "visually-hidden", tabindex: "-1", "aria-hidden": "true", multiple: true });
    picker.addEventListener("change", () => {
      this.sendFiles([...picker.files]);
      picker.value = "";
    });
    input.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length) {
        event.preventDefault();
        this.sendFiles(files);
      }
    });
    this.composer = el(
      "form",
      { class: "composer" },
      input,
      el("button", { type: "button", class: "attach", "aria-label": gettext("Attach a file"), text: "+", onclick: () => picker.click() }),
      picker,
      el("button", { type: "submit", class: "primary", text: gettext("Send") }),
    );
    this.transfers = el("ul", { class: "transfers", "aria-live": "polite" });
    this.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = input.value.trim();
      if (!body || showLength().over) return;
      input.value = "";
      showLength();
      // A parked chat goes back to the queue as its customer writes (docs/PROTOCOL.md).
      this.view.sendMessage({ type: "text", body }).then(() => this.unparkIfWritten()).catch((error) => {
        if (!input.value) input.value = body; // nothing typed is lost
        this.showError(error);
      });
    });
    this.endButton = el("button", { type: "button", class: "link", text: gettext("End chat"), onclick: () => this.askToEnd(true) });
    // Ending is asked first: it cannot be undone, and the agent sees who ended the chat.
    this.keepButton = el("button", { type: "button", class: "secondary", text: gettext("Keep chatting"), onclick: () => this.askToEnd(false) });
    this.confirmEnd = el("div", { class: "confirm-end", role: "group", "aria-labelledby": "sealdesk-end-label", hidden: true },
      el("p", { id: "sealdesk-end-label", text: gettext("End this chat? You cannot write in it afterwards, and the agent sees that you ended it.") }),
      el("button", { type: "button", class: "primary", text: gettext("Yes, end the chat"), onclick: () => this.endChat() }),
      this.keepButton);
    this.messageButton = el("button", { type: "button", class: "secondary", hidden: true, text: gettext("Leave a message instead"), onclick: () => this.leaveMessage() });
    const fresh = el("button", { type: "button", class: "link", text: gettext("Start a new conversation"), onclick: () => this.newConversation() });
    // Under a message left: to be told by e-mail once the answer is here (./waiting.js).
    this.notice = new NoticeOffer(async (email) => {
      const kept = await askNotice(this.socket, this.view.conversation, email);
      this.saved.notify = kept; // not the address: only whether the server keeps one
      await this.store.put("current", this.saved);
      return kept;
    });
    this.ratingStatus = el("p", { class: "rating-status", role: "status", "aria-live": "polite" });
    // After the score, an optional comment sealed for the people in the chat (./rating-comment.js).
    this.ratingComment = new RatingComment(() => this.view, async () => {
      this.saved.commented = true;
      await this.store.put("current", this.saved);
    });
    this.rating = el("div", { class: "rating", role: "group", "aria-labelledby": "sealdesk-rating-label", hidden: true },
      el("p", { id: "sealdesk-rating-label", text: gettext("How was this chat? Rate it from 1 (poor) to 5 (very good).") }),
      el("div", { class: "scores" },
        ...[1, 2, 3, 4, 5].map((score) => el("button", { type: "button", value: String(score), "aria-pressed": "false", text: String(score), onclick: () => this.rate(score) }))),
      this.ratingStatus);
    this.safety = el("code", { class: "safety", text: "" });
    this.fingerprint = el("details", { class: "fingerprint" },
      el("summary", { text: gettext("Your chat key") }),
      el("code", { class: "own-key", text: this.device.fingerprint }),
      el("p", { text: gettext("Safety number of this conversation (the agent sees the same):") }),
      this.safety);
    this.body.replaceChildren(
      this.stateLine,
      this.messageButton,
      el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": gettext("Messages") }, this.list),
      this.typing,
      this.transfers,
      this.rating,
      this.composer,
      this.lengthLine,
      // After the composer (hidden once the chat ended): focusFirst lands on the message box.
      this.notice.element,
      this.ratingComment.element,
      this.confirmEnd,
      el("div", { class: "actions" }, this.endButton, fresh),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "link", text: gettext("Transcript (text)"), onclick: () => this.transcript("txt") }),
        el("button", { type: "button", class: "link", text: gettext("Transcript (printable page)"), onclick: () => this.transcript("html") }),
        this.soundToggle()),
      this.fingerprint,
    );
    this.focusFirst();
  }

  renderMessages() {
    const mine = this.device.deviceId;
    // What the agent was typing has arrived, or the chat ended: the typing line goes.
    const last = this.view.items.at(-1);
    if (this.closed || (last?.sender && last.sender !== mine)) this.typing.hidden = true;
    this.list.replaceChildren(
      ...this.view.items.filter((item) => item.kind !== "receipt").map((item) => {
        if (item.kind === "message" && item.content.type === "file") return this.renderFile(item);
        if (item.kind === "message") {
          const who = item.sender === mine ? "me" : "them";
          const text = item.content.type === "prechat" ? item.content.question : item.content.body;
          const row = el("li", { class: `message ${who}` }, this.byline(item), el("span", { class: "text", text }));
          if (who === "me") row.append(el("span", { class: "tick", text: ` ${tickText(this.view.tickOf(item.senderSeq))}` }));
          return row;
        }
        if (item.kind === "warning") return el("li", { class: "warning", role: "alert", text: refusalText(item.content.code) });
        if (item.kind === "held") return el("li", { class: "notice", text: gettext("A message is waiting for its key…") });
        if (item.kind === "unsent") return el("li", { class: "warning", role: "alert", text: gettext("A message was not sent: {reason}", { reason: sentence(item.content.code) }) });
        return el("li", { class: "notice", text: item.content.text });
      }),
      ...this.view.pending().map(({ content }) =>
        el("li", { class: "message me" },
          el("span", { class: "text", text: content?.body ?? content?.question ?? gettext("A message typed before the reload") }),
          el("span", { class: "pending", text: ` ${gettext("(sending…)")}` }))),
    );
    this.list.scrollTop = this.list.scrollHeight;
    this.typing.hidden = true;
    if (!this.panel.hidden && !document.hidden) this.view.markRead().catch(() => {});
    this.markSeen();
  }

  // Who wrote a message and when, above it: the time its sender signed into it, survives reloads.
  byline(item) {
    const line = el("span", { class: "byline" }, el("span", { text: this.view.nameOf(item.sender) }));
    const at = new Date(item.content.sent_at ?? Number.NaN);
    if (!Number.isNaN(at.getTime())) {
      const text = at.toLocaleTimeString(language(), { hour: "2-digit", minute: "2-digit" });
      line.append(" · ", el("time", { datetime: at.toISOString(), title: at.toLocaleString(language()), text }));
    }
    line.append(el("span", { class: "visually-hidden", text: ": " }));
    return line;
  }

  renderFile(item) {
    const file = item.content;
    const who = item.sender === this.device.deviceId ? "me" : "them";
    this.preview(file);
    const row = el("li", { class: `message file ${who}` }, this.byline(item),
      el("span", { class: "text", text: `${file.name} (${humanSize(file.size)}) ` }),
      el("button", { type: "button", class: "link", text: gettext("Download {file}", { file: file.name }), onclick: () => this.downloadFile(file) }));
    if (this.previews.get(file.file)) row.append(el("img", { class: "preview", src: this.previews.get(file.file), alt: file.name }));
    return row;
  }

  // An image's preview, fetched and decrypted once per page load (so again after a reload) when
  // it is small enough; a larger one shows once downloaded.
  preview(file) {
    if (this.previews.has(file.file) || !PREVIEWED.test(file.mime) || file.size > PREVIEW_BYTES) return;
    this.previews.set(file.file, null);
    this.files.download(file).then((blob) => {
      this.previews.set(file.file, URL.createObjectURL(blob));
      this.renderMessages();
    }).catch(() => this.previews.delete(file.file));
  }

  // Progress rows sit outside the message list, which re-renders on every event.
  transferRow(label) {
    const bar = el("progress", { max: "1", value: "0", "aria-label": label });
    const row = el("li", {}, el("span", { text: `${label} ` }), bar);
    this.transfers.append(row);
    return { row, bar };
  }

  sendFiles(files) {
    if (!this.view || this.closed) return;
    for (const file of files) {
      const controller = new AbortController();
      const { row, bar } = this.transferRow(gettext("Sending {file}", { file: file.name }));
      row.append(el("button", { type: "button", class: "link", text: gettext("Cancel"), onclick: () => controller.abort() }));
      this.files
        .upload(this.view, file, { signal: controller.signal, onProgress: (done) => { bar.value = done; } })
        .then(() => row.remove())
        .catch((error) => {
          row.replaceChildren(el("span", { class: "warning", role: "alert", text: gettext("{file} was not sent: {reason}", { file: file.name, reason: error.message }) }));
          window.setTimeout(() => row.remove(), 8000);
        });
    }
  }

  async downloadFile(file) {
    const controller = new AbortController();
    const { row, bar } = this.transferRow(gettext("Downloading {file}", { file: file.name }));
    row.append(el("button", { type: "button", class: "link", text: gettext("Cancel"), onclick: () => controller.abort() }));
    try {
      const blob = await this.files.download(file, { signal: controller.signal, onProgress: (done) => { bar.value = done; } });
      saveBlob(blob, file.name, row);
      row.remove();
      if (file.mime.startsWith("image/")) {
        this.previews.set(file.file, URL.createObjectURL(blob));
        this.renderMessages();
      }
    } catch (error) {
      row.replaceChildren(el("span", { class: "warning", role: "alert", text: gettext("{file} was not downloaded: {reason}", { file: file.name, reason: error.message }) }));
    }
  }

  // The transcript, made here from what this browser decrypted: the server could not make it.
  transcript(kind) {
    const title = gettext("Chat with {tenant}", { tenant: this.config.tenant.name });
    const date = new Date().toISOString().slice(0, 10); // today's: nothing of the server's in it
    const [text, type] = kind === "html" ? [transcriptHtml(this.view, title), "text/html"] : [transcriptText(this.view, title), "text/plain"];
    saveBlob(new Blob([text], { type: `${type};charset=utf-8` }), `chat-${date}.${kind}`, this.body);
  }

  // A chime for new messages while the chat is out of sight: off unless the customer turns it on.
  soundToggle() {
    const box = el("input", { type: "checkbox" });
    box.checked = Boolean(this.saved.sound);
    box.addEventListener("change", () => {
      this.saved.sound = box.checked;
      this.store.put("current", this.saved);
    });
    return el("label", { class: "sound" }, box, el("span", { text: gettext("Sound for new messages") }));
  }

  showTyping() {
    if (this.closed) return; // nobody types in an ended chat
    this.typing.hidden = false;
    window.clearTimeout(this.typingTimer);
    this.typingTimer = window.setTimeout(() => {
      this.typing.hidden = true;
    }, 4000);
  }

  sendTyping() {
    if (this.closed) return;
    const now = Date.now();
    if (now - (this.lastTyping || 0) < 2000) return;
    this.lastTyping = now;
    this.socket?.send({ type: TYPING, conversation: this.saved.conversation.id });
  }

  showError(error) {
    this.stateLine.textContent = gettext("Not sent: {reason}", { reason: error.message });
  }

  askToEnd(asking) {
    this.confirmEnd.hidden = !asking;
    this.endButton.hidden = asking || this.closed;
    (asking ? this.keepButton : this.endButton).focus();
  }

  async endChat() {
    this.confirmEnd.hidden = true;
    try {
      await this.view.close();
    } catch (error) {
      this.endButton.hidden = this.closed;
      this.showError(error);
      return;
    }
    this.showState("closed");
    // Focus stays in the chat, on what comes next: the rating.
    (this.rating.querySelector("button:not([disabled])") ?? this.stateLine).focus();
  }

  async newConversation() {
    this.socket?.stop();
    this.view?.stop();
    await this.store.delete("current");
    this.view = null;
    this.showForm();
  }
}

const PREVIEWED = /^image\/(png|jpeg|gif|webp)$/;
const PREVIEW_BYTES = 5_000_000;

// When a closed team opens next, in the customer's own time, or nothing if it never says.
function opensText(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  const soon = when - Date.now() < 6 * 86_400_000;
  const options = soon ? { weekday: "long", hour: "2-digit", minute: "2-digit" } : { dateStyle: "medium", timeStyle: "short" };
  return gettext("It opens {when} (your time).", { when: when.toLocaleString(language(), options) });
}

// The browser's language, for routing to an agent who speaks it (the server checks the same form).
function browserLanguage() {
  const tag = navigator.language || "";
  return /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$/.test(tag) && tag.length <= 35 ? tag : "";
}

// The languages this build has catalogues for, each pinned by its digest (scripts/build-widget).
// eslint-disable-next-line no-undef
const CATALOGUES = typeof SEALDESK_CATALOGUES === "undefined" ? {} : SEALDESK_CATALOGUES;

const tag = findWidgetTag();
const widgetId = tag?.dataset.sealdeskWidget;
if (widgetId) {
  // The snippet's language (data-lang) if it sets one, else the browser's; English when this
  // build has neither, or its catalogue does not arrive as pinned.
  loadLanguage(tag.dataset.lang, navigator.languages ?? [navigator.language], CATALOGUES, new URL("../i18n/", import.meta.url))
    .catch((error) => console.warn(`Sealdesk widget: ${error.message}; it shows in English.`))
    .then(() => {
      const widget = new Widget(widgetId, tag.dataset.orgKey);
      widget.start().catch((error) => {
        console.error(`Sealdesk widget: ${error.message}`);
        widget.fail(gettext("The chat could not start. Please reload the page."));
      });
    });
}
