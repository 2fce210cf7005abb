// The agent dashboard: presence, offers, conversations and the end-to-end encrypted chat view.
// Frames are in docs/PROTOCOL.md, Part 2; decryption happens here only (static/sealdesk/chat.js).
import "./catalogue.js";
import { CannedPicker } from "./canned.js";
import { senderLabel, timeLabel, waited } from "./labels.js";
import { SHORTCUTS, nextOf, oldestOffer, shortcutOf } from "./shortcuts.js";
import { LocalIndex, fold } from "../sealdesk/archive.js";
import { createDevice, lengthNote, orgTrust, refusalText, restoreDevice, roomLeft, storableDevice } from "../sealdesk/chat.js";
import { el } from "../sealdesk/dom.js";
import { sentence } from "../sealdesk/errors.js";
import "../sealdesk/staff-errors.js";
import { StaffView } from "../sealdesk/staff-view.js"; // the sentences of the codes only staff meet
import { FileTransfer, humanSize, saveBlob } from "../sealdesk/files.js";
import { AGENT_FRAMES, BARGE, CONVERSATION, ERROR, EVENT, HELLO, INVITATION, INVITE, LEFT, MESSAGES, MONITOR, OFFER, OFFER_ACCEPT, OFFER_DECLINE, OFFER_GONE, PRESENCE, TYPING } from "../sealdesk/frames.js";
import { Trust, fingerprint, orgKeyId } from "../sealdesk/protocol.js";
import { Socket, socketUrl } from "../sealdesk/socket.js";
import { OfflineMessages } from "./offline.js";
import { openStore } from "../sealdesk/store.js";
import { Attention, chime } from "./attention.js";
import { gettext, language, ngettext } from "../sealdesk/i18n.js";

const root = document.querySelector(".dashboard");
const presenceForm = document.getElementById("presence-form");
const connection = document.getElementById("connection");
const csrfToken = presenceForm.querySelector("input[name=csrfmiddlewaretoken]").value;
const $ = (id) => document.getElementById(id);

const CONNECTION_TEXT = { connecting: gettext("Connecting…"), open: gettext("Connected"), closed: gettext("Offline: reconnecting…") };

const offers = new Map();
const conversations = new Map(); // id -> { summary, view, unread, seen, left, handingOver }
const invitations = new Map(); // offer id -> the invitation this agent made
// What this page itself asked, by offer id: only a transfer asked here is finished without a
// click (a frame the server made up, or one from before a reload, does not make anyone leave).
const askedHere = new Map(); // offer id -> purpose
let selected = null;
let device = null;
let socket = null;
let trust = null; // the organisation keys this browser pinned, once it was certified
const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

// Presence.

function showPresence(presence) {
  presenceForm.dataset.presence = presence;
  for (const button of presenceForm.querySelectorAll("button[name=presence]")) {
    button.setAttribute("aria-pressed", String(button.value === presence));
  }
}

presenceForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const presence = event.submitter?.value;
  if (!presence) return;
  const previous = presenceForm.dataset.presence;
  showPresence(presence);
  const body = new FormData(presenceForm);
  body.set("presence", presence);
  fetch(presenceForm.action, { method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(async (response) => {
      const reply = await response.json();
      if (!response.ok) throw new Error(sentence(reply.code));
      showPresence(reply.presence);
      explainAway(null, reply.presence);
    })
    .catch((error) => {
      showPresence(previous);
      showProblem(error.message);
    });
});

// An offer that timed out sets the agent Away where the tenant says so (docs/PROTOCOL.md,
// "Routing and membership"): the page says why, whichever of the two frames comes first.
const AWAY_AFTER_MISSED = gettext("A chat offer timed out before you answered it, so your status is now Away. Choose Available to take chats again.");
const seen = { missed: 0, away: 0 };
function explainAway(what, presence) {
  if (what) seen[what] = Date.now();
  if (presence === "away" && Math.abs(seen.missed - seen.away) < 5000) showProblem(AWAY_AFTER_MISSED);
  else if (presence !== "away" && $("device-error").textContent === AWAY_AFTER_MISSED) showProblem("");
}

function showProblem(message) {
  const box = $("device-error");
  box.textContent = message;
  box.hidden = !message;
}

// This browser's keys: made once, private halves kept in IndexedDB, public halves registered.

async function ensureDevice() {
  const store = await openStore("sealdesk-agent");
  const key = `device-${root.dataset.agentId}`;
  const stored = await store.get(key);
  let mine = stored ? await restoreDevice(stored) : await createDevice();
  let reply = await register(mine);
  if (!reply.ok && (await reply.clone().json()).code === "device_exists") {
    mine = await createDevice(); // these keys were revoked or taken: start afresh
    reply = await register(mine);
  }
  if (!reply.ok) throw new Error(sentence((await reply.json()).code));
  await store.put(key, await storableDevice(mine));
  return mine;
}

function register(candidate) {
  return fetch(root.dataset.devicesUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify({ ...candidate.publicJson(), label: navigator.userAgent.slice(0, 200) }),
  });
}

// Certification. Once the tenant has an organisation key, this browser takes chats only with a
// certificate a tenant admin signed for it; it pins the key that signed it and from then on
// trusts that key and the keys it signed a hand-over to, whatever the server says
// (docs/THREAT_MODEL.md says what that does and does not protect).

function showDeviceState(text, alarm = false) {
  const box = $("device-state");
  box.hidden = !text;
  box.textContent = text ?? "";
  box.classList.toggle("alarm", alarm);
}

async function pinned(tenant, cert) {
  const store = await openStore("sealdesk-agent");
  const key = `org-${tenant}`;
  const kept = await store.get(key);
  if (kept) return unb64(kept);
  if (!cert) return null;
  await store.put(key, cert.org_key); // the first certificate this browser got pins its key
  return unb64(cert.org_key);
}

// Build the trust of this browser from HELLO: null while the tenant has no organisation key and
// this browser pinned none, which leaves agents' devices trusted on first use.
async function trustFrom(hello) {
  const tenant = hello.tenant.id;
  const pin = await pinned(tenant, hello.device?.cert ?? null);
  if (pin === null) {
    if (hello.org && !hello.device?.cert) {
      showDeviceState(gettext("This browser is waiting for a tenant admin's approval before it takes chats. Its fingerprint is {fingerprint}: ask an admin to approve the device with exactly this fingerprint.", { fingerprint: device.fingerprint }));
      waitForApproval();
    }
    return null;
  }
  const pinnedTrust = await orgTrust(tenant, pin, hello.org);
  const current = hello.org?.key;
  if (!current || !pinnedTrust.orgKeys.some((key) => b64(key) === current)) {
    showDeviceState(gettext("Warning: the organisation key changed without a hand-over signed by the key this browser trusts ({fingerprint}). Devices certified by the new key are refused here. Tell your admin. If your organisation replaced a key it lost, clear this site's data in this browser to trust the new one: it then makes a new device for your admin to approve.", { fingerprint: fingerprint(orgKeyId(pin)) }), true);
  } else if (!hello.device?.cert) {
    showDeviceState(gettext("This browser is waiting for a tenant admin's approval before it takes chats. Its fingerprint is {fingerprint}.", { fingerprint: device.fingerprint }));
    waitForApproval();
  } else {
    showDeviceState(null);
  }
  return pinnedTrust;
}

let approvalTimer = 0;
function waitForApproval() {
  if (approvalTimer) return;
  approvalTimer = window.setInterval(async () => {
    const reply = await register(device).catch(() => null);
    const registered = reply?.ok ? await reply.json() : null;
    if (registered?.device?.cert) window.location.reload(); // connect again, certified
  }, 5000);
}

// Offers: a sound (attention.js, silenced by the mute button) and, once allowed, a desktop
// notification for each new one.

const notifyButton = $("enable-notifications");
if ("Notification" in window && Notification.permission === "default") {
  notifyButton.hidden = false;
  notifyButton.addEventListener("click", async () => {
    await Notification.requestPermission();
    notifyButton.hidden = true;
  });
}

function announceOffer(offer) {
  chime();
  if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
    new Notification(gettext("A chat is waiting"), { body: gettext("{team}: accept it in Sealdesk.", { team: offer.team }), tag: `offer-${offer.id}` });
  }
}

function secondsLeft(offer) {
  return Math.max(0, Math.round((Date.parse(offer.expires_at) - Date.now()) / 1000));
}

// What an offer asks: a routed chat that a customer waits (its team is the card's next line); an
// invitation who asks and why.
function offerTitle(offer) {
  if (offer.purpose === "transfer") return gettext("{name} hands you a chat ({team})", { name: offer.by?.display_name ?? gettext("A colleague"), team: offer.team });
  if (offer.purpose === "conference") return gettext("{name} asks you to join a chat ({team})", { name: offer.by?.display_name ?? gettext("A colleague"), team: offer.team });
  return gettext("A customer is waiting");
}

// An offer's card: its team, how long the customer has waited (ticking), and, once the
// customer's browser sent its pre-chat form, that it is encrypted and read after accepting: the
// offer carries routing metadata only. Cards are kept between ticks, so that the keyboard focus
// on a card's button stays; only the ticking line changes, outside the list's announcements.
const offerCards = new Map(); // offer id -> { offer, node }

function offerCard(offer) {
  const wait = el("span", { class: "offer-wait" });
  const node = el(
    "li",
    { "data-offer": offer.id },
    el("strong", { text: offerTitle(offer) }),
    el("div", { class: "offer-team", text: gettext("Team: {team}", { team: offer.team }) }),
    el("div", { class: "meta", "aria-live": "off" }, wait),
  );
  if (offer.prechat) node.append(el("p", { class: "offer-prechat", text: gettext("Pre-chat details are encrypted: you read them once you accept") }));
  node.append(
    el(
      "div",
      { class: "buttons" },
      el("button", { type: "button", class: "primary accept", text: gettext("Accept"), onclick: () => answerOffer(offer, OFFER_ACCEPT) }),
      el("button", { type: "button", text: gettext("Decline"), onclick: () => answerOffer(offer, OFFER_DECLINE) }),
    ),
  );
  return node;
}

function renderOffers() {
  for (const [id, card] of offerCards) {
    if (offers.get(id) !== card.offer) offerCards.delete(id);
  }
  const oldest = oldestOffer(offers.values());
  const nodes = [...offers.values()].map((offer) => {
    let card = offerCards.get(offer.id);
    if (!card) {
      card = { offer, node: offerCard(offer) };
      offerCards.set(offer.id, card);
    }
    card.node.querySelector(".offer-wait").textContent = gettext("Waiting {waited} · {seconds} s left to accept", { waited: waited(offer.waiting_since), seconds: secondsLeft(offer) });
    const accept = card.node.querySelector("button.accept");
    if (offer === oldest) accept.setAttribute("aria-keyshortcuts", "Alt+A");
    else accept.removeAttribute("aria-keyshortcuts");
    return card.node;
  });
  const list = $("offers");
  if (nodes.length !== list.children.length || nodes.some((node, i) => list.children[i] !== node)) list.replaceChildren(...nodes);
  $("offers-empty").hidden = offers.size > 0;
}

function answerOffer(offer, type) {
  if (!socket?.send({ type, offer: offer.id })) showProblem(gettext("Not connected: try again in a moment."));
}

window.setInterval(() => offers.size && renderOffers(), 1000);

// Conversations.

// Unread counts in the title and favicon, a chime and notifications (attention.js).
const attention = new Attention({ muteButton: $("mute-sounds"), open: (id) => select(id) });

function follow(summary) {
  let entry = conversations.get(summary.id);
  if (!entry) {
    entry = { summary, unread: 0, seen: 0 };
    entry.view = new StaffView({
      device,
      tenant: summary.tenant,
      conversation: summary.id,
      customerDevice: summary.customer_device,
      trust,
      onChange: () => changed(entry),
    });
    conversations.set(summary.id, entry);
  }
  entry.summary = summary;
  // A supervisor who monitors sends no receipts: the customer's browser would show them.
  entry.view.silent = monitoring(entry);
  renderConversations();
  // A message left for the team: this browser keeps the chat to itself (docs/PROTOCOL.md,
  // "Messages left"); its next epoch leaves out the team's other browsers.
  if (summary.message && mySeat(entry)?.role === "agent") entry.view.claimed = true;
  entry.view.answering = Boolean(summary.notify);
  if (socket?.connected) entry.view.connected(socket);
  if (!selected) select(summary.id);
  return entry;
}

function customerName(entry) {
  return entry.view.nameOf(entry.view.customerId);
}

function changed(entry) {
  // What someone was typing has arrived (or the chat ended): the typing line goes.
  const last = entry.view.items.at(-1);
  if (selected === entry.summary.id && (entry.view.closed || (last && last.sender && last.sender !== device?.deviceId))) hideTyping();
  // What others wrote: the customer's and colleagues' messages, and colleagues' notes.
  const fromCustomer = entry.view.items.filter((i) => (i.kind === "message" || i.kind === "note") && i.sender !== device.deviceId).length;
  if (selected === entry.summary.id && !document.hidden) entry.seen = fromCustomer;
  entry.unread = fromCustomer - entry.seen;
  if (!readOnly(entry)) attention.note(entry.summary.id, entry.unread, customerName(entry));
  renderConversations();
  if (selected === entry.summary.id) renderChat();
  handOver(entry);
}

const offline = new OfflineMessages({
  list: $("offline-list"),
  empty: $("offline-empty"),
  status: $("offline-status"),
  socket: () => socket,
});

function renderConversations() {
  const open = [...conversations.values()].filter((e) => !readOnly(e));
  attention.show(open.map((e) => [e.summary.id, e.unread]));
  $("conversations").replaceChildren(
    ...open.map((entry) =>
      el(
        "li",
        { "aria-current": String(selected === entry.summary.id) },
        el(
          "button",
          { type: "button", onclick: () => select(entry.summary.id) },
          el("span", { text: `${customerName(entry)} · ${entry.summary.team.name}` }),
          el("span", { class: "unread", "aria-label": ngettext("{count} unread message", "{count} unread messages", entry.unread), text: entry.unread ? String(entry.unread) : "" }),
        ),
      ),
    ),
  );
  $("conversations-empty").hidden = open.length > 0;
}

/** Whether a conversation is only read here: ended, left, or opened from the history. */
function readOnly(entry) {
  return entry.view.closed || Boolean(entry.left) || Boolean(entry.history);
}

function select(id) {
  if (selected !== id) {
    loadColleagues().catch(() => {});
    staffMode = false; // each chat starts in replies to its customer
    // A draft per conversation: what was typed for one customer never waits in another's box.
    const input = $("composer-input");
    const leaving = conversations.get(selected);
    if (leaving) leaving.draft = input.value;
    input.value = conversations.get(id)?.draft ?? "";
    showLength();
    canned.close(); // its list belonged to the draft that left
    hideTyping();
  }
  selected = id;
  const entry = conversations.get(id);
  entry.seen += entry.unread;
  entry.unread = 0;
  renderConversations();
  renderChat();
}

function renderChat() {
  const entry = conversations.get(selected);
  $("chat").hidden = !entry;
  $("chat-empty").hidden = Boolean(entry);
  if (!entry) return;
  const reading = readOnly(entry);
  $("chat-heading").textContent = entry.history
    ? gettext("Earlier chat with {customer}", { customer: customerName(entry) })
    : gettext("Chat with {customer}", { customer: customerName(entry) });
  // Computed here from the keys of epoch 0, never taken from the server.
  $("customer-fingerprint").textContent = entry.view.customerFingerprint() ?? gettext("not known until the customer's key arrives");
  $("safety-number").textContent = entry.view.safetyNumber() ?? gettext("not known yet");
  const nodes = [
    ...shownItems(entry).map((item) => (item.kind === "held-run" ? heldRun(item) : cachedItem(entry, item))),
    ...entry.view.pending().map(({ content }) =>
      el("li", { class: content?.type === "note" ? "note me" : "message me" },
        el("span", { class: "byline" }, el("span", { class: "sender", text: gettext("You") }), el("span", { class: "visually-hidden", text: ": " })),
        el("span", { text: content?.body ?? gettext("A message typed before the reload") }), el("span", { class: "pending", text: ` ${gettext("(sending…)")}` }))),
  ];
  // Only what changed is replaced: a long conversation is not rebuilt on every event.
  const list = $("messages");
  let same = 0;
  while (same < nodes.length && list.children[same] === nodes[same]) same++;
  while (list.children.length > same) list.lastElementChild.remove();
  list.append(...nodes.slice(same));
  list.scrollTop = list.scrollHeight;
  const watching = monitoring(entry);
  const supervising = mySeat(entry)?.role === "supervisor";
  $("composer").hidden = reading || (watching && !mayWhisper());
  $("attach").hidden = watching;
  $("note-button").hidden = watching;
  showComposerMode(entry);
  $("barge").hidden = !watching || root.dataset.supervision !== "barge";
  $("monitoring").hidden = !watching || reading;
  $("ended").hidden = !reading;
  $("ended").textContent = entry.view.closed
    ? gettext("This conversation has ended: you can read it, and nothing more can be sent.")
    : gettext("You left this conversation: you can read it up to when you left.");
  if (reading) hideTyping();
  $("wrap-up").hidden = reading || supervising;
  $("invite").hidden = reading || supervising;
  // The only agent leaves through a transfer, a queue or parking; a supervisor may always leave.
  const alone = !otherAgents(entry).length;
  $("leave").hidden = reading || (alone && !supervising);
  $("requeue").hidden = reading || supervising || !alone;
  renderInvitation();
  if (!document.hidden) entry.view.markRead().catch(() => {});
}

// What the chat view lists: no receipts, and in a chat only read here, each run of messages this
// browser holds no key for as one line (they were written after it left, or never to it).
function shownItems(entry) {
  const items = entry.view.items.filter((item) => item.kind !== "receipt");
  if (!readOnly(entry)) return items;
  const shown = [];
  for (const item of items) {
    const last = shown.at(-1);
    if (item.kind !== "held") shown.push(item);
    else if (last?.kind === "held-run") last.count += 1;
    else shown.push({ kind: "held-run", seq: item.seq, count: 1 });
  }
  return shown;
}

function heldRun({ count }) {
  const text = ngettext(
    "{count} message this browser holds no key for: written after you left, or never encrypted to this browser.",
    "{count} messages this browser holds no key for: written after you left, or never encrypted to this browser.",
    count,
  );
  return el("li", { class: "held-run", text });
}

// The node of each item, kept while what it shows is the same (a message's tick may change).
const rendered = new WeakMap();
function cachedItem(entry, item) {
  const tick = item.kind === "message" && item.sender === device.deviceId ? entry.view.tickOf(item.senderSeq) : "";
  const who = item.sender ? senderLabel(entry.view.senderOf(item.sender)) : "";
  const key = `${tick} ${previews.has(item.content?.file) ? "preview" : ""} ${who}`;
  const known = rendered.get(item);
  if (known?.key === key) return known.node;
  const node = renderItem(entry, item);
  rendered.set(item, { key, node });
  return node;
}

// Who wrote an item and when, above its text: the name as this browser verified it (see
// labels.js), and the time its sender signed into it (docs/PROTOCOL.md, "Plaintext types"),
// in this agent's locale.
function byline(entry, item, prefix = "") {
  const who = senderLabel(entry.view.senderOf(item.sender));
  const line = el("span", { class: "byline" }, el("span", { class: "sender", text: `${prefix}${who}` }));
  const when = timeLabel(item.content?.sent_at);
  if (when) line.append(" · ", el("time", { datetime: when.datetime, title: when.title, text: when.text }));
  line.append(el("span", { class: "visually-hidden", text: ": " }));
  return line;
}

function renderItem(entry, item) {
  if (item.kind === "message" && item.content.type === "file") return renderFile(entry, item);
  if (item.kind === "message") {
    const mine = item.sender === device.deviceId;
    if (item.content.type === "rating_comment") {
      // The customer's comment on its rating, after the end: sealed for the people in the chat.
      return el("li", { class: "message them rating-comment" }, byline(entry, item),
        el("span", { text: gettext("Rating comment: {comment}", { comment: item.content.body }) }));
    }
    if (item.content.type === "prechat") {
      const { name, email, question } = item.content;
      return el("li", { class: "message prechat" }, byline(entry, item, `${gettext("Pre-chat form")} · `),
        el("strong", { text: `${name}${email ? ` <${email}>` : ""}` }), el("br"), el("span", { text: question }));
    }
    const row = el("li", { class: `message ${mine ? "me" : "them"}` }, byline(entry, item), el("span", { text: item.content.body }));
    if (mine) row.append(el("span", { class: "tick", text: ` ${entry.view.tickOf(item.senderSeq)}` }));
    return row;
  }
  if (item.kind === "warning") {
    return el("li", { class: "warning", role: "alert", text: refusalText(item.content.code) });
  }
  if (item.kind === "note") {
    // Staff only (docs/PROTOCOL.md, "Staff-only messages"): never sealed for the customer.
    return el("li", { class: "note" },
      el("span", { class: "note-label", text: `${gettext("Staff note")} · ` }),
      byline(entry, item),
      el("span", { text: item.content.body }));
  }
  if (item.kind === "held" && item.content?.staff) return el("li", { class: "notice", text: gettext("A staff note waits for a colleague's browser to share its key…") });
  if (item.kind === "held") return el("li", { class: "notice", text: gettext("Waiting for the customer's browser to share the key…") });
  if (item.kind === "unsent") return el("li", { class: "warning", role: "alert", text: gettext("A message was not sent: {reason}", { reason: sentence(item.content.code) }) });
  return el("li", { class: "notice", text: item.content.text });
}

// Files: attach button, drag and drop onto the chat, or paste into the reply box.

const transfer = new FileTransfer("/dashboard/uploads", () => ({
  "X-CSRFToken": csrfToken,
  "X-Sealdesk-Device": device?.deviceId ?? "",
}));
const previews = new Map(); // file id -> object URL of a decrypted image

function sendFiles(files) {
  const entry = conversations.get(selected);
  if (!entry || readOnly(entry)) return;
  if (monitoring(entry)) return showProblem(gettext("You are monitoring this chat: barge in to send files."));
  for (const file of files) {
    const controller = new AbortController();
    const bar = el("progress", { max: "1", value: "0", "aria-label": gettext("Uploading {file}", { file: file.name }) });
    const row = el("li", {}, el("span", { text: `${file.name} (${humanSize(file.size)}) ` }), bar,
      el("button", { type: "button", class: "link", text: gettext("Cancel"), onclick: () => controller.abort() }));
    $("transfers").append(row);
    transfer
      .upload(entry.view, file, { signal: controller.signal, onProgress: (done) => { bar.value = done; } })
      .then(() => row.remove())
      .catch((error) => {
        row.replaceChildren(el("span", { class: "warning", role: "alert", text: gettext("{file} was not sent: {reason}", { file: file.name, reason: error.message }) }));
        window.setTimeout(() => row.remove(), 8000);
      });
  }
}

$("attach").addEventListener("click", () => $("attach-input").click());
$("attach-input").addEventListener("change", (event) => {
  sendFiles([...event.target.files]);
  event.target.value = "";
});
$("chat").addEventListener("dragover", (event) => event.preventDefault());
$("chat").addEventListener("drop", (event) => {
  event.preventDefault();
  sendFiles([...(event.dataTransfer?.files ?? [])]);
});
$("composer-input").addEventListener("paste", (event) => {
  const files = [...(event.clipboardData?.files ?? [])];
  if (files.length) {
    event.preventDefault();
    sendFiles(files);
  }
});

// Progress rows live in #transfers, which re-rendering the messages leaves alone.
async function downloadFile(file) {
  const controller = new AbortController();
  const bar = el("progress", { max: "1", value: "0", "aria-label": gettext("Downloading {file}", { file: file.name }) });
  const row = el("li", {}, el("span", { text: `${gettext("Downloading {file}", { file: file.name })} ` }), bar,
    el("button", { type: "button", class: "link", text: gettext("Cancel"), onclick: () => controller.abort() }));
  $("transfers").append(row);
  try {
    const blob = await transfer.download(file, { signal: controller.signal, onProgress: (done) => { bar.value = done; } });
    saveBlob(blob, file.name, row);
    row.remove();
    if (file.mime.startsWith("image/")) {
      previews.set(file.file, URL.createObjectURL(blob));
      renderChat();
    }
  } catch (error) {
    row.replaceChildren(el("span", { class: "warning", role: "alert", text: gettext("{file} was not downloaded: {reason}", { file: file.name, reason: error.message }) }));
  }
}

function renderFile(entry, item) {
  const file = item.content;
  const mine = item.sender === device.deviceId;
  const row = el("li", { class: `message file ${mine ? "me" : "them"}` }, byline(entry, item),
    el("span", { text: `${file.name} (${humanSize(file.size)}) ` }),
    el("button", { type: "button", text: gettext("Download {file}", { file: file.name }), onclick: () => downloadFile(file) }));
  if (previews.has(file.file)) row.append(el("img", { class: "preview", src: previews.get(file.file), alt: file.name }));
  return row;
}

// The reply box writes to the customer, or, with Staff note pressed, a note only the staff in
// the chat read: encrypted to the staff devices of the conversation (and to colleagues who join
// it later), never to the customer's. The mode stays until it is turned off, so that a second
// note is never sent to the customer by mistake; the box and the button say which it is.
let staffMode = false;

function staffOnly(entry) {
  return staffMode || monitoring(entry);
}

function showComposerMode(entry) {
  const staff = staffOnly(entry);
  const supervising = mySeat(entry)?.role === "supervisor";
  $("note-button").setAttribute("aria-pressed", String(staffMode));
  $("note-button").textContent = supervising ? gettext("Whisper") : gettext("Staff note");
  $("send-button").textContent = staff ? (supervising ? gettext("Whisper to the agents") : gettext("Send to staff")) : gettext("Send");
  $("composer-input").classList.toggle("staff-mode", staff);
  $("composer-input").placeholder = staff ? gettext("A note only staff in this chat read (never the customer)…") : gettext("Write a reply, or drop or paste a file…");
}

$("note-button").addEventListener("click", () => {
  staffMode = !staffMode;
  const entry = conversations.get(selected);
  if (entry) showComposerMode(entry);
  $("composer-input").focus();
});

// No maxlength on the reply box, which would cut a long paste without a word: a count near the
// limit and a plain sentence past it, which keeps the reply from going (chat.js roomLeft).
function showLength() {
  const note = lengthNote(roomLeft({ type: "text", body: $("composer-input").value.trim() }));
  $("composer-length").textContent = note.text;
  $("composer-length").classList.toggle("over", note.over);
  return note;
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("composer-input");
  const body = input.value.trim();
  const entry = conversations.get(selected);
  if (!body || !entry || readOnly(entry) || showLength().over) return;
  input.value = "";
  showLength();
  const staff = staffOnly(entry);
  const sent = staff ? entry.view.sendNote(body) : entry.view.sendMessage({ type: "text", body });
  sent.catch((error) => {
    if (!input.value) input.value = body; // nothing typed is lost
    showProblem(staff ? gettext("Note not sent: {reason}", { reason: error.message }) : gettext("Not sent: {reason}", { reason: error.message }));
  });
});

// Canned responses (canned.js): "/" and letters list them; a pick goes into the draft only.
const canned = new CannedPicker($("composer-input"), {
  load: async () => {
    const reply = await fetch(root.dataset.cannedUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!reply.ok) throw new Error(sentence((await reply.json()).code));
    return (await reply.json()).responses;
  },
});

$("composer-input").addEventListener("keydown", (event) => {
  if (canned.handleKey(event)) return;
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

let lastTyping = 0;
$("composer-input").addEventListener("input", () => {
  showLength();
  const typingIn = conversations.get(selected);
  if (Date.now() - lastTyping < 2000 || !typingIn || typingIn.view.silent || readOnly(typingIn)) return;
  lastTyping = Date.now();
  socket?.send({ type: TYPING, conversation: selected });
});

$("wrap-up").addEventListener("submit", async (event) => {
  event.preventDefault();
  const disposition = $("disposition").value;
  if (!disposition || !selected) return;
  try {
    await conversations.get(selected).view.close({ disposition });
  } catch (error) {
    showProblem(gettext("Not closed: {reason}", { reason: error.message }));
  }
});

// Keyboard shortcuts (shortcuts.js): Alt with a letter, which typing in the reply box never is.
// Close takes the button's path: the first Alt+C goes to the wrap-up, a second one there, once
// a wrap-up is chosen, closes, so that no chat closes with another's wrap-up by mistake.
$("shortcuts-help").replaceChildren(
  `${gettext("Keys:")} `,
  ...SHORTCUTS.flatMap((s, i) => [i ? " · " : "", el("kbd", { text: s.keys }), ` ${s.label}`]),
  " · ", el("kbd", { text: "/" }), ` ${gettext("in the reply box: canned responses")}`,
);
$("wrap-up").querySelector("button[type=submit]").setAttribute("aria-keyshortcuts", "Alt+C");

function shortcutSays(text) {
  $("shortcut-status").textContent = text;
}

document.addEventListener("keydown", (event) => {
  const action = shortcutOf(event);
  if (!action) return;
  event.preventDefault();
  if (action === "accept") {
    const offer = oldestOffer(offers.values());
    if (offer) answerOffer(offer, OFFER_ACCEPT);
    else shortcutSays(gettext("No chat is waiting for you."));
  } else if (action === "next") {
    const open = [...conversations.values()].filter((e) => !readOnly(e)).map((e) => e.summary.id);
    const next = nextOf(open, selected);
    if (next === null) return shortcutSays(gettext("You have no active conversation."));
    select(next);
    shortcutSays(gettext("Now in the chat with {customer}.", { customer: customerName(conversations.get(next)) }));
    if (!$("composer").hidden) $("composer-input").focus();
  } else if (action === "close") {
    const wrapUp = $("wrap-up");
    if (!selected || $("chat").hidden || wrapUp.hidden) return shortcutSays(gettext("No chat in view that you can close."));
    if (wrapUp.contains(document.activeElement) && $("disposition").value) return wrapUp.requestSubmit();
    $("disposition").focus();
    shortcutSays(gettext("Choose a wrap-up, then press Alt+C again or Close conversation."));
  }
});

let typingTimer = 0;
function hideTyping() {
  window.clearTimeout(typingTimer);
  $("typing").hidden = true;
}

function showTyping(conversationId, role) {
  const entry = conversations.get(conversationId);
  if (conversationId !== selected || !entry || entry.view.closed) return;
  $("typing").textContent = role === "customer" ? gettext("The customer is typing…") : gettext("A colleague is typing…");
  $("typing").hidden = false;
  window.clearTimeout(typingTimer);
  typingTimer = window.setTimeout(() => {
    $("typing").hidden = true;
  }, 4000);
}

// Asking a colleague in: a conference (both stay) or a warm transfer (this agent leaves once
// the colleague's device is in the conversation's latest epoch; docs/PROTOCOL.md, "Leaving").

async function loadColleagues() {
  const reply = await fetch(root.dataset.colleaguesUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!reply.ok) return;
  const { colleagues } = await reply.json();
  const select = $("invite-agent");
  const chosen = select.value;
  select.replaceChildren(
    el("option", { value: "", text: gettext("Choose…") }),
    ...colleagues.map((c) => el("option", { value: String(c.id), text: `${c.display_name} (${c.can_join ? gettext("can take it") : PRESENCE_TEXT[c.presence] ?? c.presence})` })),
  );
  select.value = chosen;
}

$("invite-agent").addEventListener("focus", () => loadColleagues().catch(() => {}));

$("invite").addEventListener("submit", async (event) => {
  event.preventDefault();
  const purpose = event.submitter?.value;
  const agent = Number($("invite-agent").value);
  if (!agent || !selected || !purpose) return;
  const entry = conversations.get(selected);
  const note = $("invite-note").value.trim();
  try {
    // The note goes first, as a staff note: the colleague reads it with the history their
    // device is given on joining; the server and the customer never can.
    if (note) {
      const name = $("invite-agent").selectedOptions[0]?.text.replace(/ \(.*\)$/, "") ?? "";
      await entry.view.sendNote(purpose === "transfer"
        ? gettext("Transfer note for {name}: {note}", { name, note })
        : gettext("Conference note for {name}: {note}", { name, note }));
      $("invite-note").value = "";
    }
    const reply = await socket.request({ type: INVITE, conversation: selected, agent, purpose });
    askedHere.set(reply.invitation.offer, purpose);
    onInvitation(reply.invitation);
    showProblem("");
  } catch (error) {
    showProblem(gettext("Not asked: {reason}", { reason: error.message }));
  }
});

// Sending the chat back to a queue (docs/PROTOCOL.md, "Back to a queue"): to a team's queue
// (a cold transfer) or parked until the customer writes. Either signs this device's leave.
$("requeue").addEventListener("submit", async (event) => {
  event.preventDefault();
  const entry = conversations.get(selected);
  const team = Number($("queue-team").value);
  if (!entry || !team) return;
  await requeue(entry, () => entry.view.transferToQueue(team), gettext("Not transferred"));
});

$("park").addEventListener("click", async () => {
  const entry = conversations.get(selected);
  if (entry) await requeue(entry, () => entry.view.park(), gettext("Not parked"));
});

async function requeue(entry, step, failure) {
  entry.leaving = true;
  try {
    await step();
    onLeft(entry.summary.id);
    showProblem("");
  } catch (error) {
    showProblem(`${failure}: ${error.message}`);
  } finally {
    entry.leaving = false;
  }
}

$("leave").addEventListener("click", () => {
  const entry = conversations.get(selected);
  if (entry) leave(entry);
});

// Supervisors (docs/PROTOCOL.md, "Supervisors"): a board of their teams, chats they open to
// read (monitor), whispers (staff notes) and barging in, as the tenant's policy allows.

/** This person's place in a conversation, from the server's record. */
function mySeat(entry) {
  const me = Number(root.dataset.agentId);
  return entry.summary.members?.find((m) => m.agent?.id === me && !m.left_at) ?? null;
}

/** Whether this person is a supervisor who monitors the chat and has not barged in. */
function monitoring(entry) {
  const seat = mySeat(entry);
  return seat?.role === "supervisor" && !seat.barged_at;
}

const mayWhisper = () => ["whisper", "barge"].includes(root.dataset.supervision);

const POLICY_TEXT = {
  off: gettext("Your organisation does not let supervisors open chats."),
  monitor: gettext("You may open your teams' chats to read them."),
  whisper: gettext("You may open your teams' chats to read them and whisper to their agents."),
  barge: gettext("You may open your teams' chats, whisper to their agents and barge in."),
};

const PRESENCE_TEXT = { available: gettext("Available"), away: gettext("Away"), offline: gettext("Offline") };

async function refreshBoard() {
  const reply = await fetch(root.dataset.boardUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!reply.ok) return;
  const board = await reply.json();
  $("board-policy").textContent = POLICY_TEXT[board.supervision] ?? "";
  const since = (iso) => {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 60) return gettext("{seconds} s", { seconds });
    const minutes = Math.floor(seconds / 60);
    return minutes < 60 ? gettext("{minutes} min", { minutes }) : gettext("{hours} h {minutes} min", { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
  };
  $("board-queues").replaceChildren(
    ...board.queues.map((q) =>
      el("li", { text: q.oldest
        ? gettext("{queue}: {waiting} waiting (longest {longest}), {active} in progress", { queue: q.name, waiting: q.waiting, longest: since(q.oldest), active: q.active })
        : gettext("{queue}: {waiting} waiting, {active} in progress", { queue: q.name, waiting: q.waiting, active: q.active }) }),
    ),
  );
  // Each agent's state and chats in hand against their maximum, refreshed with the board.
  $("board-agents").replaceChildren(
    ...(board.agents ?? []).map((a) =>
      el("li", { class: `presence-${a.presence}`, "data-agent": String(a.id), text: gettext("{agent}: {presence}, {chats} of {most} chats", { agent: a.display_name, presence: PRESENCE_TEXT[a.presence] ?? a.presence, chats: a.chats, most: a.max_concurrent_chats }) }),
    ),
  );
  $("board-chats").replaceChildren(
    ...board.conversations.map((chat) => {
      const who = chat.agents.length ? chat.agents.join(", ") : gettext("no agent yet");
      const state = chat.state === "queued" ? gettext("waiting {time}", { time: since(chat.created_at) }) : gettext("with {agents}", { agents: who });
      const readers = chat.supervisors.length ? ` · ${gettext("read by {supervisors}", { supervisors: chat.supervisors.join(", ") })}` : "";
      const row = el("li", { "data-conversation": chat.id },
        el("span", { text: `${chat.team} · ${state}${readers}` }));
      if (chat.state === "active" && !chat.mine && board.supervision !== "off") {
        row.append(el("button", { type: "button", text: gettext("Monitor"), onclick: () => monitor(chat.id) }));
      }
      return row;
    }),
  );
  $("board-empty").hidden = board.conversations.length > 0;
}

async function monitor(id) {
  try {
    const reply = await socket.request({ type: MONITOR, conversation: id });
    select(follow(reply.conversation).summary.id);
    showProblem("");
    refreshBoard().catch(() => {});
  } catch (error) {
    showProblem(gettext("Not opened: {reason}", { reason: error.message }));
  }
}

$("barge").addEventListener("click", async () => {
  const entry = conversations.get(selected);
  if (!entry) return;
  try {
    const reply = await socket.request({ type: BARGE, conversation: entry.summary.id });
    // Signed, so that every member's browser shows what follows from him (docs/PROTOCOL.md).
    await entry.view.sendMessage({ type: "barge" });
    follow(reply.conversation);
    renderChat();
  } catch (error) {
    showProblem(gettext("Not barged in: {reason}", { reason: error.message }));
  }
});

// The board shows first once the socket is open (start(), below), so that its buttons work
// when it appears; then it refreshes every few seconds.
if (root.dataset.boardUrl) window.setInterval(() => refreshBoard().catch(() => {}), 3000);

// The agents' devices of the latest epoch besides this one that have not left (a supervisor
// who monitors takes no chat over).
function otherAgents({ view }) {
  return view.latestMembers().filter((m) => m.role === "agent" && m.deviceId !== device?.deviceId && !view.gone(m.deviceId));
}

function onInvitation(invitation) {
  invitations.set(invitation.offer, invitation);
  const entry = conversations.get(invitation.conversation);
  if (entry && invitation.state === "accepted" && askedHere.get(invitation.offer) === "transfer") {
    entry.handingOver = true;
    handOver(entry);
  }
  renderInvitation();
}

const INVITATION_TEXT = {
  pending: (i) => (i.purpose === "transfer"
    ? gettext("Waiting for {name} to take over…", { name: i.agent.display_name })
    : gettext("Waiting for {name} to join…", { name: i.agent.display_name })),
  accepted: (i) => {
    if (i.purpose !== "transfer") return gettext("{name} joined.", { name: i.agent.display_name });
    if (askedHere.get(i.offer) === "transfer") return gettext("{name} took the chat: handing it over…", { name: i.agent.display_name });
    return gettext("{name} took the chat: choose Leave conversation to hand it over.", { name: i.agent.display_name });
  },
  declined: (i) => gettext("{name} declined.", { name: i.agent.display_name }),
  expired: (i) => gettext("{name} did not answer in time.", { name: i.agent.display_name }),
  rescinded: (i) => gettext("The request to {name} was withdrawn.", { name: i.agent.display_name }),
};

function renderInvitation() {
  const latest = [...invitations.values()].filter((i) => i.conversation === selected).at(-1);
  const line = $("invitation");
  line.hidden = !latest;
  line.textContent = latest ? INVITATION_TEXT[latest.state](latest) : "";
}

// A warm transfer's giver leaves once another agent is in the latest epoch.
function handOver(entry) {
  if (entry.handingOver && !entry.leaving && !entry.left && !entry.view.closed && otherAgents(entry).length) leave(entry);
}

async function leave(entry) {
  entry.leaving = true;
  try {
    await entry.view.leave();
    onLeft(entry.summary.id);
  } catch (error) {
    showProblem(gettext("Could not leave: {reason}", { reason: error.message }));
  } finally {
    entry.leaving = false;
  }
}

function onLeft(id) {
  const entry = conversations.get(id);
  if (!entry || entry.left) return;
  entry.left = true;
  entry.view.stop();
  finished(entry);
  if (selected === id) selected = [...conversations.values()].find((e) => !e.view.closed && !e.left)?.summary.id ?? null;
  renderConversations();
  renderChat();
}

// The socket.

function onFrame(frame) {
  switch (frame.type) {
    case HELLO:
      onHello(frame);
      break;
    case PRESENCE:
      showPresence(frame.presence);
      explainAway(frame.presence === "away" ? "away" : null, frame.presence);
      break;
    case OFFER: {
      // An offer told again (its pre-chat arrived) is the same chat: no second chime.
      const known = offers.has(frame.offer.id);
      offers.set(frame.offer.id, frame.offer);
      renderOffers();
      if (!known) announceOffer(frame.offer);
      break;
    }
    case OFFER_GONE:
      offers.delete(frame.offer);
      renderOffers();
      if (frame.reason === "expired") explainAway("missed", presenceForm.dataset.presence);
      break;
    case CONVERSATION:
      select(follow(frame.conversation).summary.id);
      break;
    case EVENT: {
      const entry = conversations.get(frame.conversation);
      const applied = entry?.view.onEvent(frame.event);
      if (frame.event.kind === "closed" && entry) applied.then(() => finished(entry)).catch(() => {});
      if (frame.event.kind === "closed" && frame.conversation === selected) renderChat();
      break;
    }
    case TYPING:
      showTyping(frame.conversation, frame.role);
      break;
    case INVITATION:
      onInvitation(frame.invitation);
      break;
    case MESSAGES:
      offline.show(frame.messages);
      break;
    case LEFT:
      onLeft(frame.conversation);
      break;
    case ERROR:
      showProblem(sentence(frame.code));
      break;
  }
}

async function onHello(frame) {
  showPresence(frame.presence);
  offers.clear();
  for (const offer of frame.offers) offers.set(offer.id, offer);
  renderOffers();
  try {
    trust = device ? await trustFrom(frame) : null;
  } catch (error) {
    // Fail closed: records that do not parse leave only the key this browser pinned trusted.
    const pin = device ? await pinned(frame.tenant.id, null) : null;
    trust = pin ? new Trust(frame.tenant.id, [pin]) : null;
    showDeviceState(gettext("The organisation's records could not be checked: {reason}", { reason: error.message }), true);
  }
  for (const summary of frame.conversations) follow(summary);
  for (const invitation of frame.invitations) onInvitation(invitation);
  offline.show(frame.messages);
  if (!history.loaded) loadHistory(true).catch((error) => historyStatus(gettext("History not loaded: {reason}", { reason: error.message })));
}

// History (docs/PROTOCOL.md, "History on the device"): the conversations this person took part in
// and no longer works on, which the server lists as metadata only. This browser opens each one it
// was in and reads it as any member does, from the keys its epochs gave this device; it keeps a
// searchable copy sealed under this device's own key, so that searching never asks the server.

const SEARCH_LIMIT = 500; // the most recent conversations a search reads
const history = { rows: new Map(), offset: 0, more: false, loaded: false, results: null, query: "", index: null };

function historyStatus(text) {
  $("history-status").textContent = text;
}

function localIndex() {
  history.index ??= LocalIndex.open(device).catch((error) => {
    history.index = null;
    throw error;
  });
  return history.index;
}

async function loadHistory(reset = false) {
  const offset = reset ? 0 : history.offset;
  const reply = await fetch(`${root.dataset.historyUrl}?offset=${offset}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await reply.json();
  if (!reply.ok) throw new Error(sentence(body.code));
  if (reset) history.rows.clear();
  for (const summary of body.conversations) history.rows.set(summary.id, summary);
  history.offset = offset + body.conversations.length;
  history.more = body.more;
  history.loaded = true;
  if (device) await localIndex().catch(() => null);
  renderHistory();
}

function readableHere(summary) {
  return Boolean(device) && summary.my_devices.includes(device.deviceId);
}

// The words of QUERY in TEXT, marked.
function marked(text, query) {
  const words = fold(query).split(" ").filter(Boolean).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (!words.length) return [text];
  const parts = text.split(new RegExp(`(${words.join("|")})`, "giu"));
  return parts.map((part, i) => (i % 2 ? el("mark", { text: part }) : part));
}

async function renderHistory() {
  const index = device ? await localIndex().catch(() => null) : null;
  const row = (summary, lines = []) => {
    const kept = index?.get(summary.id);
    const title = `${kept?.customer ?? gettext("Customer")} · ${summary.team.name}`;
    const agents = [...new Set(summary.members.filter((m) => m.agent && m.role !== "customer").map((m) => m.agent.display_name))];
    const when = summary.closed_at ? gettext("Closed {when}", { when: new Date(summary.closed_at).toLocaleString(language()) }) : gettext("Goes on without you");
    const item = el("li", { "data-conversation": summary.id, "aria-current": String(selected === summary.id) });
    if (readableHere(summary)) item.append(el("button", { type: "button", class: "open", text: title, onclick: () => openHistory(summary) }));
    else item.append(el("strong", { text: title }));
    item.append(el("span", { class: "meta", text: [when, agents.join(", "), summary.disposition_label].filter(Boolean).join(" · ") }));
    if (!readableHere(summary)) {
      item.append(el("span", { class: "unreadable", text: summary.my_devices.length
        ? gettext("Readable only in the browser you used for it: this browser was not in the chat.")
        : gettext("You were not in this chat: it was never encrypted to you.") }));
    }
    for (const line of lines) item.append(el("span", { class: "hit" }, `${line.who}: `, ...marked(line.text, history.query)));
    return item;
  };
  const list = $("history-list");
  if (history.results) {
    list.replaceChildren(...history.results.filter(({ entry }) => history.rows.has(entry.id)).map(({ entry, lines }) => row(history.rows.get(entry.id), lines)));
  } else {
    list.replaceChildren(...[...history.rows.values()].map((summary) => row(summary)));
    if (!history.rows.size) historyStatus(gettext("No earlier conversations yet."));
  }
  $("history-more").hidden = !history.more || Boolean(history.results);
}

$("history-more").addEventListener("click", () => loadHistory().catch((error) => historyStatus(gettext("Not loaded: {reason}", { reason: error.message }))));

// Read a conversation of the history that this browser can read, and keep it in the index.
async function readIntoIndex(summary) {
  const index = await localIndex();
  const live = conversations.get(summary.id);
  let view = live?.view;
  if (!view) {
    view = new StaffView({ device, tenant: summary.tenant, conversation: summary.id, customerDevice: summary.customer_device, trust });
    await view.readAll(socket);
  }
  index.put(summary, view);
  return view;
}

async function openHistory(summary) {
  let entry = conversations.get(summary.id);
  if (!entry) {
    entry = { summary, unread: 0, seen: 0, history: true };
    entry.view = new StaffView({ device, tenant: summary.tenant, conversation: summary.id, customerDevice: summary.customer_device, trust, onChange: () => changed(entry) });
    conversations.set(summary.id, entry);
    select(summary.id);
    try {
      await entry.view.readAll(socket);
      await remember(entry);
    } catch (error) {
      showProblem(gettext("Not opened: {reason}", { reason: error.message }));
    }
  }
  select(summary.id);
  renderHistory();
}

// A chat that ended or that this person left: into the index, and to the top of the history.
async function remember(entry) {
  if (!device) return;
  try {
    const index = await localIndex();
    if (index.has(entry.summary.id, entry.view.lastSeq)) return; // kept as it stands already
    index.put({ ...entry.summary, closed_at: entry.summary.closed_at ?? new Date().toISOString() }, entry.view);
    await index.save();
  } catch (error) {
    historyStatus(gettext("This browser could not keep a searchable copy: {reason}", { reason: error.message }));
  }
}

function finished(entry) {
  remember(entry).then(() => loadHistory(true)).catch(() => {});
}

async function search(query) {
  history.query = query;
  if (!query) {
    history.results = null;
    historyStatus(gettext("Searching happens in this browser: your words never reach the server."));
    return renderHistory();
  }
  if (!device) return historyStatus(gettext("This browser holds no chat keys, so it cannot search."));
  while (history.more && history.rows.size < SEARCH_LIMIT) await loadHistory();
  const readable = [...history.rows.values()].filter(readableHere);
  const index = await localIndex();
  const missing = readable.filter((summary) => !index.has(summary.id, summary.last_seq));
  for (const [done, summary] of missing.entries()) {
    historyStatus(gettext("Reading {done} of {total} conversations in this browser…", { done: done + 1, total: missing.length }));
    await readIntoIndex(summary);
  }
  if (missing.length) await index.save();
  if (history.query !== query) return; // a newer search took over
  history.results = index.search(query);
  const shown = history.results.filter(({ entry }) => history.rows.has(entry.id)).length;
  const values = { query, readable: readable.length };
  historyStatus(shown
    ? ngettext(
      "{count} conversation matches “{query}” among the {readable} earlier conversations this browser can read.",
      "{count} conversations match “{query}” among the {readable} earlier conversations this browser can read.",
      shown, values)
    : gettext("Nothing matches “{query}” among the {readable} earlier conversations this browser can read.", values));
  return renderHistory();
}

$("history-search").addEventListener("submit", (event) => {
  event.preventDefault();
  search($("history-query").value.trim()).catch((error) => historyStatus(gettext("Search stopped: {reason}", { reason: error.message })));
});
$("history-query").addEventListener("input", () => {
  if (!$("history-query").value && history.results) search("").catch(() => {});
});

document.addEventListener("visibilitychange", () => {
  const entry = conversations.get(selected);
  if (entry && !document.hidden) changed(entry);
});

async function start() {
  try {
    device = await ensureDevice();
  } catch (error) {
    showProblem(gettext("This browser cannot hold chat keys, so chats cannot be accepted here: {reason}", { reason: error.message }));
  }
  const path = `${root.dataset.socketPath}${device ? `?device=${device.deviceId}` : ""}`;
  socket = new Socket(socketUrl(window.location.href, path), AGENT_FRAMES, {
    onState: (state) => {
      connection.dataset.state = state;
      connection.textContent = CONNECTION_TEXT[state];
      if (state === "open" && root.dataset.boardUrl) refreshBoard().catch(() => {});
    },
    onRefused: () => window.location.reload(),
    onFrame,
  });
}

start();
