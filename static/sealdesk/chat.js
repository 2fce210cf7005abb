// One device's view of one conversation, shared by the widget and the dashboard: applies the
// server's events strictly in order, verifies and decrypts them, keeps epochs in step with who
// joined, and keeps unsent messages until the server has them (docs/PROTOCOL.md).
// sealdesk_client/client.py (ConversationClient) does the same in Python.
//
// The server's notices are hints: who is in the conversation is what the epoch records say, and
// the customer is epoch 0's device. The customer's device, and staff devices that trust the
// organisation key, make epochs ("Who makes epochs"): a `joined` notice of a device without a
// certificate gets no key from them. Staff notes travel under staff keys the customer's device
// never holds ("Staff-only messages").

import {
  Certificate,
  DeviceKeys,
  Revocation,
  Rotation,
  Trust,
  revokedDevices,
  trustedOrgKeys,
  Envelope,
  EpochRecord,
  Member,
  ProtocolError,
  STAFF_TYPES,
  Wrap,
  encryptMessage,
  fingerprint,
  generateDevice,
  safetyNumber,
  makeEpoch,
  newEpochKey,
  wrapKey,
  ConversationState,
  MAX_BODY,
  MAX_PLAINTEXT,
} from "./protocol.js";
import { CLOSE, EPOCH, SEND, SYNC } from "./frames.js";
import { gettext, gettext_noop, language, ngettext } from "./i18n.js";
import { openStore } from "./store.js";

// What a refused event means, in words both the widget and the dashboard show in its place; the
// refusals only staff meet are added by staff-errors.js, which the widget does not load.
export const REFUSALS = {
  unknown_epoch: gettext_noop("A message names an encryption key this device does not have."),
  not_a_member: gettext_noop("A message comes from a device that is not in this conversation."),
  bad_signature: gettext_noop("A message is not signed by the device it names: it may have been altered."),
  replayed: gettext_noop("A message came again: the copy is not shown."),
  replayed_epoch: gettext_noop("A change of who is in this conversation came again: it changes nothing."),
  out_of_order: gettext_noop("A message is missing before this one: the server held one back."),
  undecryptable: gettext_noop("A message could not be decrypted."),
  malformed: gettext_noop("A message is not one this app can show."),
  bad_epoch: gettext_noop("A change of who is in this conversation was not signed by a member: it is refused."),
  bad_wrap: gettext_noop("A key sent to this device is not valid."),
  bad_transcript: gettext_noop("A message refers to messages this device never received: the server may have reordered or withheld some."),
  stale_epoch: gettext_noop("A message uses an older key than its sender had: it is refused."),
  not_barged: gettext_noop("A supervisor who only reads this conversation sent a message: it is not shown."),
  unsigned_close: gettext_noop("The server closed this conversation, but no one in it signed the close."),
};

/** Return what a device trusts from the organisation key PINNED (bytes) of TENANT: it and the
 * keys it handed over to by ORG's signed rotations, and the devices revoked by ORG's signed
 * revocations and by the EXTRA ones the device kept (ORG as the server's `org` payload). */
export async function orgTrust(tenant, pinned, org, extra = []) {
  const rotations = (org?.rotations ?? []).map((r) => Rotation.fromJSON(r));
  const trusted = await trustedOrgKeys(tenant, pinned, rotations);
  const revocations = [...(org?.revocations ?? []), ...extra].map((r) => Revocation.fromJSON(r));
  return new Trust(tenant, trusted, await revokedDevices(tenant, trusted, revocations));
}

/** Return the sentence for a refusal CODE, naming the code for support. */
export function refusalText(code) {
  return `${gettext(REFUSALS[code] ?? "Something received could not be verified.")} (${code})`;
}

const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** Make a fresh device for this browser, with a fingerprint and its public keys as JSON. */
export async function createDevice() {
  return decorate(await generateDevice());
}

function decorate(device) {
  return Object.assign(Object.create(device), {
    fingerprint: fingerprint(device.deviceId),
    publicJson: () => ({ sign_public: b64(device.signPublic), box_public: b64(device.boxPublic) }),
    keys: device,
  });
}

/** Return what IndexedDB keeps of a device: non-extractable CryptoKeys stay CryptoKeys. */
export async function storableDevice(device) {
  const keys = device.keys ?? device;
  return { signPublic: keys.signPublic, boxPublic: keys.boxPublic, secrets: keys.secrets };
}

/** Return the device that storableDevice kept. */
export async function restoreDevice(stored) {
  return decorate(new DeviceKeys(stored.signPublic, stored.boxPublic, stored.secrets));
}

// A device as a server notice describes it; its certificate, when it has one, says its role.
function memberOf(device, role) {
  let cert = null;
  try {
    cert = device.cert ? Certificate.fromJSON(device.cert) : null;
  } catch {
    cert = null; // checked, and refused, where it matters: Trust.check
  }
  return new Member(device.id, cert?.role ?? role, unb64(device.sign_public), unb64(device.box_public), cert);
}

const nowIso = () => new Date().toISOString();
const encoder = new TextEncoder();

/** How many more characters PLAINTEXT (a message as sendMessage takes it) may grow by and still
 * be sent: negative when it is too long. Receivers refuse a text or note body over MAX_BODY
 * characters (code points) and any plaintext over MAX_PLAINTEXT bytes of UTF-8 (docs/PROTOCOL.md),
 * so a page says so before sending rather than cut it. */
export function roomLeft(plaintext) {
  const sealed = { ...plaintext, sent_at: nowIso() };
  const bytes = MAX_PLAINTEXT - encoder.encode(JSON.stringify(sealed)).length;
  const bodied = plaintext.type === "text" || plaintext.type === "note" || plaintext.type === "rating_comment";
  return bodied ? Math.min(bytes, MAX_BODY - [...plaintext.body].length) : bytes;
}

/** What a composer shows of the room left for BODY: nothing while there is plenty, a count near
 * the limit, and a plain sentence past it (`over` true: the message cannot go as it is). */
export function lengthNote(room) {
  if (room >= 1000) return { text: "", over: false };
  if (room >= 0) return { text: ngettext("{count} character left.", "{count} characters left.", room), over: false };
  return {
    text: ngettext(
      "This message is {count} character too long to send in one go: shorten it, or send it in two parts.",
      "This message is {count} characters too long to send in one go: shorten it, or send it in two parts.",
      -room,
    ),
    over: true,
  };
}

/** A message's tick (ConversationView.tickOf) in words. */
export function tickText(tick) {
  const words = {
    sending: gettext_noop("sending"),
    sent: gettext_noop("sent"),
    delivered: gettext_noop("delivered"),
    read: gettext_noop("read"),
    "not delivered": gettext_noop("not delivered"),
  };
  return gettext(words[tick] ?? tick);
}

/** NAMES as a list in words: "Ann", "Ann and Bo", "Ann, Bo and Cy", in this page's language. */
export function listOf(names) {
  try {
    return new Intl.ListFormat(language(), { type: "conjunction" }).format(names);
  } catch {
    return names.join(", ");
  }
}

export class ConversationView {
  // device: this browser's DeviceKeys (decorated); customerDevice: the conversation's customer
  // device as the server describes it; outbox: [{seq, envelope}] kept across reloads; trust: the
  // organisation keys this browser pinned (protocol.js Trust), or null where the tenant has
  // none, which leaves agents' devices trusted on first use.
  // onRevocation: called with each revocation the organisation signed that this view applied,
  // for the widget to keep (the server could leave it out of the next page load).
  constructor({ device, tenant, conversation, customerDevice, outbox = [], trust = null, onChange = () => {}, onOutbox = () => {}, onRevocation = () => {} }) {
    this.device = device;
    this.keys = device.keys ?? device;
    this.tenant = tenant;
    this.conversation = conversation;
    this.customerDevice = customerDevice.id;
    this.trust = trust;
    this.onRevocation = onRevocation;
    this.state = new ConversationState(tenant, conversation, this.keys, customerDevice.id, trust);
    this.members = new Map([[customerDevice.id, memberOf(customerDevice, "customer")]]);
    this.names = new Map();
    // Devices whose name is their certificate's, checked against the organisation keys this
    // device trusts; any other staff name is the server's word (senderOf says which).
    this.certified = new Set();
    this.joined = [];
    // Set where a conversation was left as a message (docs/PROTOCOL.md, "Messages left"):
    // claimed, by the dashboard that picked it up, so that its next epoch keeps the chat to
    // itself (unclaimed()); quietJoins, by the widget, so that the team's browsers it is
    // encrypted to do not show as people who joined.
    this.claimed = false;
    this.quietJoins = false;
    // Staff devices that signed a leave since an epoch last added them: the next epoch leaves
    // them out (docs/PROTOCOL.md, "Leaving").
    this.departed = new Set();
    // Supervisors that signed a barge since an epoch last added them: only these write to the
    // customer (docs/PROTOCOL.md, "Supervisors"); the others whisper, or leave.
    this.barged = new Set();
    this.parkedSeq = 0; // the event of the latest park, until the chat is queued again
    this.epochs = new Map();
    this.items = [];
    this.held = [];
    // Staff notes waiting for their epoch's staff key; they hold nothing else back.
    this.heldStaff = [];
    // Which devices each epoch's staff key was wrapped to, as the events show: who is owed one.
    this.staffWrapped = new Map(); // epoch -> Set(device)
    this.lastSeq = 0;
    this.closed = false;
    // Who signed the close, when a member did (docs/PROTOCOL.md, "Closing").
    this.closedBy = null;
    // Transcript positions: where each of this device's messages sits, and how far each other
    // device has said it got (any message of it) and read (its read receipts).
    this.mine = new Map(); // seq -> { position, time }
    this.reached = new Map(); // device -> position
    this.read = new Map(); // device -> position
    this.receipted = { delivered: 0, read: 0 }; // what this device's receipts said
    this.lastFromOthers = 0; // position of the latest message of another member
    this.receiptTimer = 0;
    this.outbox = new Map(outbox.map((entry) => [entry.seq, entry.envelope]));
    // Receipts waiting in the outbox: sent again like messages, never shown as one.
    this.quiet = new Set(outbox.filter((entry) => entry.quiet).map((entry) => entry.seq));
    // What this page sent and the server has not confirmed, for showing as "sending…";
    // after a reload only the encrypted envelopes remain, and are sent all the same.
    this.unconfirmed = new Map();
    this.sentSeq = Math.max(0, ...this.outbox.keys());
    // Many events arrive together after a reload: draw at most every 100 ms, not once each.
    // While a sync catches up on many events, nothing is drawn until it is done.
    this.onChange = () => {
      if (this.drawing || this.catchingUp || this.stopped) return;
      this.drawing = window.setTimeout(() => {
        this.drawing = 0;
        onChange();
      }, 100);
    };
    this.catchingUp = false;
    // After catching up, draw at once: the person is waiting for exactly that.
    this.drawNow = () => {
      window.clearTimeout(this.drawing);
      this.drawing = 0;
      if (!this.stopped) onChange();
    };
    this.drawing = 0;
    this.stopped = false;
    // A supervisor who monitors (docs/PROTOCOL.md, "Supervisors") sends no receipts.
    this.silent = false;
    this.onOutbox = onOutbox;
    this.socket = null;
    this.queue = Promise.resolve();
  }

  /** The page let this conversation go: no more drawing, and no receipt still waiting to be sent. */
  stop() {
    this.stopped = true;
    window.clearTimeout(this.drawing);
    clearTimeout(this.receiptTimer);
    this.drawing = 0;
    this.receiptTimer = 0;
  }

  // Every change runs after the previous one, in the order it was asked for.
  // QUIET: the caller shows what went wrong (a message not sent), so nothing is logged here.
  serial(step, quiet = false) {
    const run = this.queue.then(step);
    this.queue = run.catch((error) => {
      // A dropped connection interrupts a step; connected() resumes from the last event.
      if (error.code !== "disconnected" && !quiet) console.warn(`Sealdesk: ${error.message}`);
    });
    return run;
  }

  /** The customer's device: the creator of epoch 0 once it is accepted, else the server's word. */
  get customerId() {
    return this.epochs.get(0)?.creator ?? this.customerDevice;
  }

  /** The customer's fingerprint, computed from epoch 0's keys; null before epoch 0 arrives. */
  customerFingerprint() {
    const record = this.epochs.get(0);
    return record ? fingerprint(record.members[0].deviceId) : null;
  }

  /** Return how to name a sender: "You", the customer's own pre-chat name, or a name a
   * `joined` notice gave (a hint of the server's, until agent devices are certified). */
  nameOf(deviceId) {
    if (deviceId === this.keys.deviceId) return gettext("You");
    if (deviceId === this.customerId) {
      const form = this.items.find((i) => i.kind === "message" && i.sender === deviceId && i.content.type === "prechat");
      return form?.content.name || gettext("Customer");
    }
    return this.names.get(deviceId) ?? gettext("Agent");
  }

  /** Return who sent from DEVICEID and on whose word: {name, source}, where source is "self"
   * (this device), "customer" (the customer's own signed pre-chat name), "certificate" (a
   * certificate checked against the organisation keys this device trusts) or "server" (a
   * `joined` notice's name, which only the server vouches for). */
  senderOf(deviceId) {
    const name = this.nameOf(deviceId);
    if (deviceId === this.keys.deviceId) return { name, source: "self" };
    if (deviceId === this.customerId) return { name, source: "customer" };
    return { name, source: this.certified.has(deviceId) ? "certificate" : "server" };
  }

  /** Return the safety number of the latest epoch: both sides compute it from the members'
   * keys, so people who read the same one out to each other share the same members. */
  safetyNumber() {
    const latest = this.state.latestEpoch;
    return latest === null ? null : safetyNumber(this.state.membersOf(latest));
  }

  /** Return "sending", "sent", "delivered", "read" or "not delivered" for this device's
   * message SEQ, from the transcript positions other members' messages and receipts name. */
  tickOf(seq, now = Date.now()) {
    const at = this.mine.get(seq);
    if (at === undefined) return "sending";
    const latest = this.state.latestEpoch;
    const members = latest === null ? [] : this.state.membersOf(latest);
    const others = members.map((m) => m.deviceId).filter((id) => id !== this.keys.deviceId);
    const all = (seen) => others.length > 0 && others.every((id) => (seen.get(id) ?? 0) >= at.position);
    if (all(this.read)) return "read";
    if (all(this.reached)) return "delivered";
    return others.length && now - at.time > UNDELIVERED_MS ? "not delivered" : "sent";
  }

  /** Catch up after (re)connecting: fetch what was missed, resend the outbox, fix the epoch. */
  connected(socket) {
    this.socket = socket;
    return this.serial(async () => {
      await this.syncNow();
      for (const [seq, envelope] of [...this.outbox].sort((a, b) => a[0] - b[0])) {
        try {
          await this.socket.request(this.sendFrame(seq, envelope));
        } catch (error) {
          if (error.code === "disconnected" || error.code === "timeout") throw error;
          // Refused for good (the chat closed meanwhile, say): show it as not sent, go on.
          if (!this.quiet.has(seq)) this.place({ seq: Number.MAX_SAFE_INTEGER - this.items.length, kind: "unsent", sender: this.keys.deviceId, content: { code: error.code, detail: error.detail } });
        }
        this.outbox.delete(seq);
        this.unconfirmed.delete(seq);
        this.onOutbox(this.outboxList());
        this.onChange();
      }
      await this.keepEpochCurrent();
      await this.shareStaffKeys();
    });
  }

  /** Read the conversation as it stands, for history: fetch and apply every event, and send
   * nothing (no receipt, epoch or key share) whatever the events say. */
  readAll(socket) {
    this.socket = socket;
    this.silent = true;
    return this.serial(() => this.syncNow());
  }

  /** Apply a broadcast event, or fetch what came before it when it skips ahead. */
  onEvent(event) {
    return this.serial(async () => {
      if (event.seq <= this.lastSeq) return;
      if (event.seq === this.lastSeq + 1) await this.apply(event);
      else await this.syncNow();
      await this.keepEpochCurrent();
      await this.shareStaffKeys();
    });
  }

  async syncNow() {
    const ask = (after) => this.socket.request({ type: SYNC, conversation: this.conversation, after });
    let next = ask(this.lastSeq);
    try {
      for (;;) {
        const reply = await next;
        // The next batch is asked for before this one is checked: the server reads it meanwhile.
        const last = reply.events.at(-1)?.seq ?? this.lastSeq;
        next = reply.more ? ask(last) : null;
        next?.catch(() => {}); // awaited below, or dropped with a failed step
        this.catchingUp ||= reply.more || reply.events.length > 20;
        const before = this.lastSeq;
        await this.applyBatch(reply.events);
        // A batch that brought nothing new ends the catching up, instead of asking forever.
        if (!next || this.lastSeq === before) return;
        // Events that did not follow on (a server that skips) are asked for again from here.
        if (this.lastSeq !== last) next = ask(this.lastSeq);
      }
    } finally {
      if (this.catchingUp) {
        this.catchingUp = false;
        this.drawNow();
      }
    }
  }

  // A batch's signatures are checked at once (as soon as their epoch record is accepted), then
  // every event is applied in order as before.
  async applyBatch(events) {
    const envelopes = new Map();
    for (const event of events) {
      if (event.kind !== "message") continue;
      try {
        envelopes.set(event.seq, Envelope.fromJSON(event.body));
      } catch {
        // applyMessage parses it again and shows the refusal in its place.
      }
    }
    this.state.prepare([...envelopes.values()]);
    for (const event of events) {
      await this.apply(event, envelopes.get(event.seq));
      if (event.kind === "epoch") this.state.prepare([...envelopes.values()]);
    }
  }

  async apply(event, parsed = null) {
    if (event.seq !== this.lastSeq + 1) return;
    this.lastSeq = event.seq;
    const { kind, body } = event;
    if (kind === "message") await this.applyMessage(event, parsed);
    else if (kind === "epoch") await this.applyEpoch(event);
    else if (kind === "share") await this.applyWraps(event.seq, body.wraps);
    else if (kind === "joined") await this.applyJoined(event.seq, body);
    else if (kind === "left") await this.applyLeft(event.seq, body);
    else if (kind === "queued") {
      this.parkedSeq = 0;
      this.notice(event.seq, body.reason === "transfer" ? gettext("The chat was sent to the {team} queue.", { team: body.team.name }) : gettext("The chat is back in the queue."));
    }
    else if (kind === "parked") {
      // Where the park stands in the log: what this device writes after it brings the chat back.
      this.parkedSeq = event.seq;
      this.notice(event.seq, gettext("{name} parked the chat until the customer writes again.", { name: body.by.display_name }));
    }
    else if (kind === "closed") {
      this.closed = true;
      // Only the server says so when nobody in the conversation signed a close.
      if (this.closedBy === null) this.warn(event.seq, null, "unsigned_close");
      else this.notice(event.seq, gettext("The conversation has ended."));
    }
    this.onChange();
  }

  // A hint: the device enters only through an epoch record the customer's browser makes (see
  // applyEpoch's notice). With a trusted organisation key, only a device whose certificate holds
  // now is a candidate, under the name its certificate gives.
  async applyJoined(seq, body) {
    let member;
    try {
      member = memberOf(body.device, body.role);
      // Keys that are not the device's id's, or a certificate of another device: refused.
      member.validate();
      if (member.role === "customer") throw new ProtocolError("bad_epoch");
      if (this.trust) await this.trust.check(member, Math.floor(Date.now() / 1000));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.warn(seq, null, error.code === "bad_epoch" ? "uncertified" : error.code);
      return;
    }
    const name = this.trust && member.cert ? member.cert.name : body.name;
    this.members.set(member.deviceId, member);
    this.names.set(member.deviceId, name);
    if (this.trust && member.cert) this.certified.add(member.deviceId);
    else this.certified.delete(member.deviceId);
    this.joined = [...this.joined.filter((id) => id !== member.deviceId), member.deviceId];
    // Joined again after an epoch left it out (asked back in): a candidate again.
    if (!this.latestMembers().some((m) => m.deviceId === member.deviceId)) this.departed.delete(member.deviceId);
    // A message left for a team names every browser it goes to: nobody joined to chat (the
    // epoch's notice still lists each device that can read).
    if (!this.quietJoins) this.notice(seq, gettext("{name} joined the chat.", { name }));
  }

  // A device left. Only a revocation the organisation signed removes it from the next epoch;
  // without one, this is the server's word and changes nothing.
  async applyLeft(seq, body) {
    // Its signed leave came first and showed already.
    if (this.departed.has(body.device) && !body.revocation) return;
    let revoked = null;
    if (this.trust && body.revocation) {
      try {
        const revocation = Revocation.fromJSON(body.revocation);
        revoked = (await revokedDevices(this.tenant, this.trust.orgKeys, [revocation])).get(body.device) ?? null;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
      }
    }
    if (revoked === null) {
      this.notice(seq, gettext("The server says {name}'s device left; nothing signed says so.", { name: this.nameOf(body.device) }));
      return;
    }
    this.trust.revoked.set(body.device, Math.min(revoked, this.trust.revoked.get(body.device) ?? revoked));
    this.onRevocation(body.revocation);
    this.joined = this.joined.filter((id) => id !== body.device);
    this.notice(seq, gettext("{name}'s device was revoked by the organisation.", { name: this.nameOf(body.device) }));
  }

  // Items stay in seq order; an item replaces the placeholder of its seq. Events come in
  // order, so this nearly always appends.
  place(item) {
    const items = this.items;
    let i = items.length;
    while (i > 0 && items[i - 1].seq > item.seq) i--;
    if (i > 0 && items[i - 1].seq === item.seq) items[i - 1] = item;
    else items.splice(i, 0, item);
  }

  notice(seq, text) {
    this.place({ seq, kind: "notice", content: { text } });
  }

  warn(seq, sender, code) {
    this.place({ seq, kind: "warning", sender, content: { code } });
  }

  async applyEpoch(event) {
    let record;
    try {
      record = EpochRecord.fromJSON(event.body.record);
      const before = this.state.latestEpoch;
      await this.state.acceptEpoch(record);
      // A record held already, shown again: its members changed nothing now.
      if (this.state.latestEpoch === before) throw new ProtocolError("replayed_epoch");
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.warn(event.seq, event.sender, error.code);
      return;
    }
    const before = record.epoch > 0 ? this.state.membersOf(record.epoch - 1) : [];
    this.epochs.set(record.epoch, record);
    const had = new Set(before.map((m) => m.deviceId));
    const has = new Set(record.members.map((m) => m.deviceId));
    this.joined = this.joined.filter((id) => !had.has(id) || has.has(id));
    for (const id of had) if (!has.has(id)) this.barged.delete(id);
    for (const m of record.members) {
      if (!had.has(m.deviceId)) this.departed.delete(m.deviceId);
      if (m.cert && this.trust) {
        this.names.set(m.deviceId, m.cert.name);
        this.certified.add(m.deviceId);
      }
    }
    this.memberNotice(event.seq, before, record.members);
    await this.applyWraps(event.seq, event.body.wraps);
  }

  // Every change of who can read appears in the conversation, with the devices' fingerprints.
  memberNotice(seq, before, after) {
    const had = new Set(before.map((m) => m.deviceId));
    const has = new Set(after.map((m) => m.deviceId));
    const whose = { agent: gettext_noop("the agent's device {key}"), supervisor: gettext_noop("the supervisor's device {key}"), customer: gettext_noop("the customer's device {key}") };
    const label = (m) => gettext(m.deviceId === this.keys.deviceId ? "your device {key}" : (whose[m.role] ?? whose.agent), { key: fingerprint(m.deviceId) });
    const added = after.filter((m) => !had.has(m.deviceId)).map(label);
    const removed = before.filter((m) => !has.has(m.deviceId)).map(label);
    const parts = [];
    if (added.length) parts.push(gettext("added {devices}", { devices: added.join(", ") }));
    if (removed.length) parts.push(gettext("removed {devices}", { devices: removed.join(", ") }));
    const talking = this.talkingTo(before, after);
    if (parts.length) this.place({ seq, kind: "members", content: { text: gettext("Encryption: {changes}.", { changes: parts.join("; ") }) + talking, added, removed } });
  }

  // The customer is told whom it now talks to when the agents in the conversation changed (not
  // when the first agent comes in: the widget says so already), and who else can now read.
  talkingTo(before, after) {
    if (this.keys.deviceId !== this.customerId) return "";
    const reading = after.filter((m) => m.role === "supervisor" && !before.some((b) => b.deviceId === m.deviceId));
    const supervisors = reading.map((m) => ` ${gettext("{name}, a supervisor, can now read this conversation.", { name: this.nameOf(m.deviceId) })}`).join("");
    return this.agentsTalking(before, after) + supervisors;
  }

  // Whether a staff wrap names a wrapper who is staff in its epoch or in the latest one: only
  // then does it count as shared with its recipient (a forged one would stop the real share).
  staffWrapper(wrap) {
    const staffIn = (epoch) => this.state.membersOf(epoch).some((m) => m.deviceId === wrap.wrapper && m.role !== "customer");
    try {
      return staffIn(wrap.epoch) || staffIn(this.state.latestEpoch);
    } catch {
      return false; // an epoch this device has not accepted
    }
  }

  // Whom the customer now talks to, when the agents changed.
  agentsTalking(before, after) {
    const staff = (members) => members.filter((m) => m.role === "agent").map((m) => m.deviceId);
    const was = staff(before);
    const now = staff(after);
    const same = now.length === was.length && now.every((id) => was.includes(id));
    // The chat's first agent the widget announces itself; one after a park or a transfer to a
    // queue (when no agent was in) is told here.
    const latest = this.state.latestEpoch;
    const hadAgent = [...this.epochs.values()].some((r) => r.epoch < latest && r.members.some((m) => m.role === "agent"));
    if ((!was.length && !hadAgent) || !now.length || same) return "";
    // Who stays first, then who came.
    const order = [...was.filter((id) => now.includes(id)), ...now.filter((id) => !was.includes(id))];
    return ` ${gettext("You are now talking to {names}.", { names: listOf([...new Set(order.map((id) => this.nameOf(id)))]) })}`;
  }

  async applyWraps(seq, wraps) {
    for (const raw of wraps) {
      let wrap;
      try {
        wrap = Wrap.fromJSON(raw);
        if (wrap.staff && this.staffWrapper(wrap)) {
          if (!this.staffWrapped.has(wrap.epoch)) this.staffWrapped.set(wrap.epoch, new Set());
          this.staffWrapped.get(wrap.epoch).add(wrap.recipient);
        }
        if (wrap.recipient !== this.keys.deviceId) continue;
        await this.state.acceptWrap(wrap);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.warn(seq, wrap?.wrapper ?? null, error.code);
      }
    }
    // Messages waiting for a key that just arrived are opened now, in order.
    while (this.held.length && this.state.keyOf(this.held[0].envelope.epoch) !== null) {
      await this.openMessage(this.held.shift());
    }
    const ready = this.heldStaff.filter((w) => this.state.staffKeyOf(w.envelope.epoch) !== null);
    this.heldStaff = this.heldStaff.filter((w) => !ready.includes(w));
    for (const waiting of ready) await this.openMessage(waiting);
  }

  // A message enters the transcript when it arrives, in server order, whether or not its key is
  // here yet; a history share comes after the messages it unlocks, so those (and all after, to
  // keep the order shown) wait for it.
  async applyMessage(event, parsed = null) {
    let envelope;
    try {
      envelope = parsed ?? Envelope.fromJSON(event.body);
      await this.state.witness(envelope);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.warn(event.seq, event.sender, error.code);
      return;
    }
    const position = this.state.transcript.length;
    const seen = this.state.transcript.position(envelope.after);
    if (envelope.sender === this.keys.deviceId) {
      this.mine.set(envelope.seq, { position, time: Date.now() });
      await this.ackUpTo(envelope.seq);
    } else {
      // Its sender had the transcript up to SEEN: everything there reached it.
      this.reached.set(envelope.sender, Math.max(this.reached.get(envelope.sender) ?? 0, seen));
    }
    const waiting = { event, envelope, position, seen };
    if (envelope.staff) {
      // The customer's device holds no staff key: the note keeps its place in the transcript,
      // and nothing of it is shown.
      if (!this.state.isStaff) return;
      if (this.state.staffKeyOf(envelope.epoch) === null) {
        this.heldStaff.push(waiting);
        // Its writer shared the key with every staff member of its epoch before writing: one of
        // them without it was kept from it (a later colleague waits for a member's share).
        const mine = this.trust !== null && this.state.membersOf(envelope.epoch).some((m) => m.deviceId === this.keys.deviceId);
        if (mine) this.warn(event.seq, envelope.sender, "withheld_staff_key");
        else this.place({ seq: event.seq, kind: "held", content: { staff: true } });
        return;
      }
      await this.openMessage(waiting);
      return;
    }
    if (this.held.length || this.state.keyOf(envelope.epoch) === null) {
      this.held.push(waiting);
      this.place({ seq: event.seq, kind: "held" });
      return;
    }
    await this.openMessage(waiting);
  }

  async openMessage({ event, envelope, position, seen }) {
    let plaintext;
    try {
      plaintext = await this.state.open(envelope);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.warn(event.seq, event.sender, error.code);
      return;
    }
    const fromOther = envelope.sender !== this.keys.deviceId;
    // A supervisor who monitors whispers, signs a barge to write to the customer, or leaves:
    // anything else of it is refused, whatever the server let through.
    const role = this.state.recordOf(envelope.epoch).member(envelope.sender)?.role;
    if (role === "supervisor" && !this.barged.has(envelope.sender) && !QUIET_SUPERVISOR.includes(plaintext.type)) {
      if (plaintext.type !== "receipt") this.warn(event.seq, event.sender, "not_barged");
      return;
    }
    if (plaintext.type === "barge") {
      // Only a supervisor's barge means anything; anyone else's changes nothing.
      if (role === "supervisor") {
        this.barged.add(envelope.sender);
        this.notice(event.seq, gettext("{name}, a supervisor, joined the conversation.", { name: this.nameOf(envelope.sender) }));
      }
      return;
    }
    if (plaintext.type === "receipt") {
      if (fromOther && plaintext.state === "read") {
        this.read.set(envelope.sender, Math.max(this.read.get(envelope.sender) ?? 0, seen));
      }
      // A receipt of this device's, from before a reload: what it covered is not owed again.
      if (!fromOther) this.receiptSaid(plaintext.state, seen);
      this.place({ seq: event.seq, kind: "receipt", sender: envelope.sender, content: plaintext });
      return;
    }
    // A rating comment is the customer's, once the chat ended: from anyone else, or before, it is
    // refused (docs/PROTOCOL.md, "Widget socket").
    if (plaintext.type === "rating_comment" && (envelope.sender !== this.customerId || !(this.closed || this.closedBy))) {
      this.warn(event.seq, event.sender, "malformed");
      return;
    }
    if (plaintext.type === "close") {
      this.closedBy = envelope.sender;
      this.notice(event.seq, (envelope.sender === this.keys.deviceId ? gettext("You ended the conversation.") : gettext("{name} ended the conversation.", { name: this.nameOf(envelope.sender) })));
      return;
    }
    if (plaintext.type === "note") {
      this.place({ seq: event.seq, kind: "note", sender: envelope.sender, senderSeq: envelope.seq, content: plaintext });
      return;
    }
    if (plaintext.type === "leave") {
      // The customer leaves by closing; only staff leave a conversation that goes on.
      if (envelope.sender !== this.customerId) this.departed.add(envelope.sender);
      this.notice(event.seq, (envelope.sender === this.keys.deviceId ? gettext("You left the conversation.") : gettext("{name} left the conversation.", { name: this.nameOf(envelope.sender) })));
      return;
    }
    if (fromOther) {
      this.lastFromOthers = position;
      this.scheduleReceipt();
    }
    this.place({ seq: event.seq, kind: "message", sender: envelope.sender, senderSeq: envelope.seq, content: plaintext });
  }

  async ackUpTo(seq) {
    let changed = false;
    for (const pending of [...this.outbox.keys()]) {
      if (pending <= seq) changed = this.outbox.delete(pending) || changed;
      if (pending <= seq) this.quiet.delete(pending);
      this.unconfirmed.delete(pending);
    }
    if (changed) this.onOutbox(this.outboxList());
  }

  outboxList() {
    return [...this.outbox].map(([seq, envelope]) => ({ seq, envelope, quiet: this.quiet.has(seq) }));
  }

  /** Return the messages not yet confirmed by the server, with their text where known. */
  pending() {
    const shown = [...this.outbox.keys()].filter((seq) => !this.quiet.has(seq));
    return shown.sort((a, b) => a - b).map((seq) => ({ seq, content: this.unconfirmed.get(seq) ?? null }));
  }

  // Epochs follow membership (docs/PROTOCOL.md, "Epochs" and "Who makes epochs"). The customer
  // makes epoch 0 alone. After it, the next epoch is made by the customer's device, or by a staff
  // device of the latest epoch whose browser trusts the organisation key, when a device joined or
  // a member left. Where a browser trusts the organisation key, a device enters only with a
  // certificate that key signed; a widget that pins none takes the first agent device a
  // `joined` notice names, on the server's word, and nobody after (docs/THREAT_MODEL.md). A
  // dashboard without a trusted organisation key makes no epochs, so a notice naming a device
  // the server holds gets no key from it.
  //
  // The next epoch keeps the latest one's members, whatever notices a page load gets or misses,
  // except those who signed a leave and those the organisation revoked.
  currentMembers() {
    const latest = this.state.latestEpoch;
    if (latest === null) return [this.members.get(this.customerDevice)];
    const dropped = this.unclaimed();
    const kept = this.state.membersOf(latest).filter((m) => !this.gone(m.deviceId) && !dropped.has(m.deviceId));
    // Without a pinned key, only the chat's first agent, on the server's word: after agents
    // left (a transfer to a queue, a park), the next one needs a pinned widget or a member
    // who trusts the organisation key (docs/PROTOCOL.md, "Back to a queue").
    const candidates = this.trust ? this.joined : this.hadStaff() ? [] : this.joined.slice(0, 1);
    // While a claim leaves devices out, it lets none in: the pick-up keeps the chat to its picker.
    const added = dropped.size ? [] : candidates.filter((id) => !this.gone(id) && !kept.some((m) => m.deviceId === id));
    return [...kept, ...added.map((id) => this.members.get(id))];
  }

  // The devices a claim leaves out (StaffView, staff-view.js): none for a customer.
  unclaimed() {
    return new Set();
  }

  /** Whether an epoch this device accepted before epoch BEFORE (any, by default) had staff in
   * it: an agent or a supervisor has been in the conversation. */
  hadStaff(before = Infinity) {
    return [...this.epochs.values()].some((record) => record.epoch < before && record.members.some((m) => m.role !== "customer"));
  }

  /** Whether DEVICE signed a leave since it was last added, or the organisation revoked it. */
  gone(deviceId) {
    return this.departed.has(deviceId) || (this.trust !== null && this.trust.revoked.has(deviceId));
  }

  /** The members of the latest epoch this device accepted; none before epoch 0. */
  latestMembers() {
    const latest = this.state.latestEpoch;
    return latest === null ? [] : this.state.membersOf(latest);
  }

  /** Whether a member of the latest epoch besides this device is gone (see gone()). */
  leaverInLatest() {
    return this.latestMembers().some((m) => m.deviceId !== this.keys.deviceId && this.gone(m.deviceId));
  }

  /** Whether this device may make the next epoch: the customer's, or a trusting staff member's
   * that stays in it. */
  maySetMembers() {
    const me = this.keys.deviceId;
    if (me === this.customerDevice) return true;
    if (this.trust === null || this.departed.has(me)) return false;
    return this.latestMembers().some((m) => m.deviceId === me && m.role !== "customer");
  }

  needsEpoch() {
    const latest = this.state.latestEpoch;
    if (this.closed || !this.maySetMembers()) return false;
    if (latest === null) return true;
    const have = new Set(this.state.membersOf(latest).map((m) => m.deviceId));
    const want = this.currentMembers().map((m) => m.deviceId);
    const same = want.length === have.size && want.every((id) => have.has(id));
    return !same && this.state.keyOf(latest) !== null;
  }

  async keepEpochCurrent() {
    // Epoch 0 first, then one for whoever joined meanwhile: at most a few rounds.
    for (let round = 0; round < 3 && this.socket?.connected && this.needsEpoch(); round++) {
      try {
        await this.makeEpoch();
      } catch (error) {
        if (error.code !== "epoch_conflict") throw error;
        await this.syncNow();
      }
    }
  }

  async makeEpoch() {
    const latest = this.state.latestEpoch;
    const previous = latest === null ? null : this.epochs.get(latest);
    const members = this.currentMembers();
    const record = await makeEpoch(this.keys, this.tenant, this.conversation, previous, members);
    const key = newEpochKey();
    const wraps = [];
    for (const member of members) {
      wraps.push(await wrapKey(this.keys, member, this.tenant, this.conversation, record.epoch, key));
    }
    if (previous) {
      // Newcomers' history shares travel in the same event as the epoch, so that they cannot
      // be lost between two requests (docs/PROTOCOL.md, "Key wraps").
      const before = new Set(this.state.membersOf(previous.epoch).map((m) => m.deviceId));
      for (const member of members.filter((m) => !before.has(m.deviceId))) {
        for (const epoch of [...this.epochs.keys()].sort((a, b) => a - b)) {
          const old = this.state.keyOf(epoch);
          if (old) wraps.push(await wrapKey(this.keys, member, this.tenant, this.conversation, epoch, old));
        }
      }
    }
    const stored = await this.socket.request({
      type: EPOCH,
      conversation: this.conversation,
      record: record.toJSON(),
      wraps: wraps.map((w) => w.toJSON()),
    });
    if (this.lastSeq < stored.seq) await this.syncNow();
  }

  /** Encrypt, sign and send a message; offline, it waits in the outbox for the connection.
   *
   * Tabs of one browser share the device and its sender numbers: the number is taken and the
   * message sent under a Web Lock, and the last number the server acknowledged is kept in
   * IndexedDB, so that two connected tabs never send the same number or let a later one
   * overtake an earlier one. Only acknowledged numbers are shared: a message that never reaches
   * the server cannot hold back the other tabs' numbers. */
  // CARRIER: a frame the envelope travels in instead of SEND (a leave travels in LEAVE).
  sendMessage(plaintext, carrier = null) {
    const staff = STAFF_TYPES.includes(plaintext.type);
    return this.serial(async () => {
      // Someone who left (or was revoked) is still in the latest epoch: the key changes first,
      // so that nothing written from now on reaches them (docs/PROTOCOL.md, "Leaving").
      if (this.leaverInLatest() && this.socket?.connected) await this.keepEpochCurrent();
      if (staff) await this.ensureStaffKey();
      return withSenderLock(`sealdesk-seq:${this.keys.deviceId}:${this.conversation}`, (shared) => this.sealAndSend(plaintext, shared, carrier, staff));
    }, true);
  }

  // Staff keys are staff's (StaffView, staff-view.js).
  async ensureStaffKey() {
    throw new Error("Only staff write notes.");
  }

  // Sharing staff keys is staff's (StaffView, staff-view.js): nothing to do for a customer.
  async shareStaffKeys() {}

  // The SEND frame of this device's message SEQ (StaffView marks an answer).
  sendFrame(seq, envelope) {
    return { type: SEND, conversation: this.conversation, envelope };
  }

  async sealAndSend(plaintext, shared, carrier, staff = false) {
    // A receipt that waited behind this device's leave is not owed any more.
    if (plaintext.type === "receipt" && this.departed.has(this.keys.deviceId)) return null;
    const epoch = this.state.latestEpoch;
    const key = epoch === null ? null : staff ? this.state.staffKeyOf(epoch) : this.state.keyOf(epoch);
    if (key === null) throw new Error("The conversation key has not arrived yet.");
    if (this.leaverInLatest()) throw new Error("someone left, and the key has not changed yet: try again in a moment");
    const own = this.state.lastSeqOf(this.keys.deviceId);
    const acknowledged = await shared.get();
    this.sentSeq = Math.max(this.sentSeq, own, acknowledged) + 1;
    const seq = this.sentSeq;
    const record = this.epochs.get(epoch);
    const content = { ...plaintext, sent_at: nowIso() };
    const context = [this.tenant, this.conversation, record, key, seq, content];
    const envelope = (await encryptMessage(this.keys, ...context, { after: this.state.after, staff })).toJSON();
    if (carrier) {
      // Stored with what it carries, or not at all: nothing waits in the outbox.
      let reply;
      try {
        reply = await this.socket.request({ ...carrier, envelope });
      } catch (error) {
        this.sentSeq = seq - 1; // refused with what it carried: the number is free again
        throw error;
      }
      await shared.set(seq);
      return reply;
    }
    this.outbox.set(seq, envelope);
    if (plaintext.type === "receipt") this.quiet.add(seq);
    else this.unconfirmed.set(seq, plaintext);
    this.onOutbox(this.outboxList());
    this.onChange();
    if (this.socket?.connected) {
      try {
        await this.socket.request(this.sendFrame(seq, envelope));
      } catch (error) {
        if (error.code === "disconnected" || error.code === "timeout") throw error; // resent later
        // Refused for good (the chat closed, say): the number is free again, nothing waits.
        this.outbox.delete(seq);
        this.quiet.delete(seq);
        this.unconfirmed.delete(seq);
        if (this.sentSeq === seq) this.sentSeq = seq - 1;
        this.onOutbox(this.outboxList());
        this.onChange();
        throw error;
      }
      await shared.set(seq); // above the number read: this tab has held the lock since
    }
    return null;
  }
}

// Receipts and closing (docs/PROTOCOL.md, "Receipts" and "Closing").
Object.assign(ConversationView.prototype, {
  /** Send a delivery receipt soon after messages of others arrived, once for a burst. */
  scheduleReceipt() {
    if (this.receiptTimer || this.closed || this.stopped) return;
    this.receiptTimer = setTimeout(() => {
      this.receiptTimer = 0;
      this.sendReceipt("delivered").catch(() => {});
    }, RECEIPT_DELAY_MS);
  },

  /** Say that this person has seen everything so far (the page shows the conversation). */
  markRead() {
    return this.sendReceipt("read");
  },

  // A receipt names the transcript it was written after. None is owed for what an earlier
  // receipt of this device covered, and receipts answer no receipt.
  async sendReceipt(state) {
    const said = this.receipted[state];
    // While messages wait for their key, the transcript holds what this person has not seen.
    if (this.held.length || this.closed || this.silent || !this.socket?.connected || this.lastFromOthers <= said) return;
    // A device that left (or was left out) owes nobody a receipt: one after its leave would be
    // refused, and the gap it leaves would hold back its next leave at every member.
    const me = this.keys.deviceId;
    if (this.departed.has(me) || !this.latestMembers().some((m) => m.deviceId === me)) return;
    this.receiptSaid(state, this.lastFromOthers);
    await this.sendMessage({ type: "receipt", state });
  },

  // This device said STATE of everything up to POSITION; a read receipt says delivered too.
  receiptSaid(state, position) {
    this.receipted[state] = Math.max(this.receipted[state], position);
    if (state === "read") this.receipted.delivered = Math.max(this.receipted.delivered, position);
  },

  /** Whether this device wrote (a message, not a receipt) after the chat was parked, or has
   * such a message waiting to be sent: the chat then goes back to its queue. */
  wroteSinceParked() {
    if (!this.parkedSeq) return false;
    const mine = (item) => item.kind === "message" && item.sender === this.keys.deviceId && item.seq > this.parkedSeq;
    return this.items.some(mine) || this.pending().length > 0;
  },

  /** End the conversation: a close signed into the transcript first, then the server's close. */
  async close(extra = {}) {
    const latest = this.state.latestEpoch;
    if (!this.closed && latest !== null && this.state.keyOf(latest) !== null) {
      await this.sendMessage({ type: "close" });
    }
    return this.socket.request({ type: CLOSE, conversation: this.conversation, ...extra });
  },
});

const RECEIPT_DELAY_MS = 400;
// What a supervisor who has not barged in may sign (docs/PROTOCOL.md, "Supervisors").
const QUIET_SUPERVISOR = Object.freeze(["note", "leave", "barge"]);
const UNDELIVERED_MS = 60_000;

// The last acknowledged sender numbers, in IndexedDB: unlike localStorage, whose writes reach
// other tabs later, a committed IndexedDB write is what the next tab holding the lock reads.
let numbers = null;

// Run STEP holding the lock NAME across this browser's tabs (Web Locks), giving it the last
// acknowledged sender number stored under NAME. Without Web Locks or IndexedDB (old or
// locked-down browsers) it runs alone in this tab, as before.
async function withSenderLock(name, step) {
  const store = () => (numbers ??= openStore("sealdesk-seq"));
  const shared = {
    async get() {
      try {
        return Number(await (await store()).get(name)) || 0;
      } catch {
        return 0;
      }
    },
    async set(value) {
      try {
        await (await store()).put(name, value);
      } catch {
        // Storage refused: this tab still counts on its own.
      }
    },
  };
  const locks = globalThis.navigator?.locks;
  if (!locks) return step(shared);
  return locks.request(name, () => step(shared));
}
