// One device's view of one conversation, shared by the widget and the dashboard: applies the
// server's events strictly in order, verifies and decrypts them, keeps epochs in step with who
// joined, and keeps unsent messages until the server has them (docs/PROTOCOL.md).
// sealdesk_client/client.py (ConversationClient) does the same in Python.

import {
  DeviceKeys,
  Envelope,
  EpochRecord,
  Member,
  ProtocolError,
  Wrap,
  encryptMessage,
  fingerprint,
  generateDevice,
  makeEpoch,
  newEpochKey,
  wrapKey,
  ConversationState,
} from "./protocol.js";
import { EPOCH, SEND, SYNC } from "./frames.js";
import { openStore } from "./store.js";

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

function memberOf(device, role) {
  return new Member(device.id, role, unb64(device.sign_public), unb64(device.box_public));
}

const nowIso = () => new Date().toISOString();

export class ConversationView {
  // device: this browser's DeviceKeys (decorated); customerDevice: the conversation's customer
  // device as the server describes it; outbox: [{seq, envelope}] kept across reloads.
  constructor({ device, tenant, conversation, customerDevice, outbox = [], onChange = () => {}, onOutbox = () => {} }) {
    this.device = device;
    this.keys = device.keys ?? device;
    this.tenant = tenant;
    this.conversation = conversation;
    this.customerDevice = customerDevice.id;
    this.state = new ConversationState(tenant, conversation, this.keys, customerDevice.id);
    this.members = new Map([[customerDevice.id, memberOf(customerDevice, "customer")]]);
    this.names = new Map([[customerDevice.id, "Customer"]]);
    this.joined = [];
    this.epochs = new Map();
    this.items = [];
    this.held = [];
    this.lastSeq = 0;
    this.closed = false;
    this.outbox = new Map(outbox.map((entry) => [entry.seq, entry.envelope]));
    // What this page sent and the server has not confirmed, for showing as "sending…";
    // after a reload only the encrypted envelopes remain, and are sent all the same.
    this.unconfirmed = new Map();
    this.sentSeq = Math.max(0, ...this.outbox.keys());
    // Many events arrive together after a reload: draw at most every 100 ms, not once each.
    this.onChange = () => {
      if (this.drawing) return;
      this.drawing = window.setTimeout(() => {
        this.drawing = 0;
        onChange();
      }, 100);
    };
    this.drawing = 0;
    this.onOutbox = onOutbox;
    this.socket = null;
    this.queue = Promise.resolve();
  }

  // Every change runs after the previous one, in the order it was asked for.
  serial(step) {
    const run = this.queue.then(step);
    this.queue = run.catch((error) => {
      // A dropped connection interrupts a step; connected() resumes from the last event.
      if (error.code !== "disconnected") console.warn(`Sealdesk: ${error.message}`);
    });
    return run;
  }

  nameOf(deviceId) {
    return this.names.get(deviceId) ?? "Agent";
  }

  /** Catch up after (re)connecting: fetch what was missed, resend the outbox, fix the epoch. */
  connected(socket) {
    this.socket = socket;
    return this.serial(async () => {
      await this.syncNow();
      for (const [seq, envelope] of [...this.outbox].sort((a, b) => a[0] - b[0])) {
        try {
          await this.socket.request({ type: SEND, conversation: this.conversation, envelope });
        } catch (error) {
          if (error.code === "disconnected" || error.code === "timeout") throw error;
          // Refused for good (the chat closed meanwhile, say): show it as not sent, go on.
          this.place({ seq: Number.MAX_SAFE_INTEGER - this.items.length, kind: "unsent", sender: this.keys.deviceId, content: { code: error.code, detail: error.detail } });
        }
        this.outbox.delete(seq);
        this.unconfirmed.delete(seq);
        this.onOutbox(this.outboxList());
        this.onChange();
      }
      await this.keepEpochCurrent();
    });
  }

  /** Apply a broadcast event, or fetch what came before it when it skips ahead. */
  onEvent(event) {
    return this.serial(async () => {
      if (event.seq <= this.lastSeq) return;
      if (event.seq === this.lastSeq + 1) await this.apply(event);
      else await this.syncNow();
      await this.keepEpochCurrent();
    });
  }

  async syncNow() {
    for (;;) {
      const reply = await this.socket.request({
        type: SYNC,
        conversation: this.conversation,
        after: this.lastSeq,
      });
      for (const event of reply.events) await this.apply(event);
      if (!reply.more) return;
    }
  }

  async apply(event) {
    if (event.seq !== this.lastSeq + 1) return;
    this.lastSeq = event.seq;
    const { kind, body } = event;
    if (kind === "message") await this.applyMessage(event);
    else if (kind === "epoch") await this.applyEpoch(event);
    else if (kind === "share") await this.applyWraps(event.seq, body.wraps);
    else if (kind === "joined") {
      this.members.set(body.device.id, memberOf(body.device, body.role));
      this.names.set(body.device.id, body.name);
      this.joined.push(body.device.id);
      this.notice(event.seq, `${body.name} joined the chat.`);
    } else if (kind === "closed") {
      this.closed = true;
      this.notice(event.seq, "The conversation has ended.");
    }
    this.onChange();
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
      await this.state.acceptEpoch(record);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.warn(event.seq, event.sender, error.code);
      return;
    }
    this.epochs.set(record.epoch, record);
    await this.applyWraps(event.seq, event.body.wraps);
  }

  async applyWraps(seq, wraps) {
    for (const raw of wraps) {
      let wrap;
      try {
        wrap = Wrap.fromJSON(raw);
        if (wrap.recipient !== this.keys.deviceId) continue;
        await this.state.acceptWrap(wrap);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.warn(seq, wrap?.wrapper ?? null, error.code);
      }
    }
    // Messages waiting for a key that just arrived are opened now, in order.
    while (this.held.length && this.state.keyOf(this.held[0].body.epoch) !== null) {
      await this.openMessage(this.held.shift());
    }
  }

  async applyMessage(event) {
    const epoch = event.body?.epoch;
    const latest = this.state.latestEpoch;
    // A history share comes after the messages it unlocks: hold them (and all after, to keep
    // each sender's order) until it arrives.
    const waiting = Number.isInteger(epoch) && latest !== null && epoch <= latest && this.state.keyOf(epoch) === null;
    if (this.held.length || waiting) {
      this.held.push(event);
      this.place({ seq: event.seq, kind: "held" });
      return;
    }
    await this.openMessage(event);
  }

  async openMessage(event) {
    try {
      const envelope = Envelope.fromJSON(event.body);
      const plaintext = await this.state.receive(envelope);
      if (envelope.sender === this.keys.deviceId) await this.ackUpTo(envelope.seq);
      this.place({ seq: event.seq, kind: "message", sender: envelope.sender, content: plaintext });
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.warn(event.seq, event.sender, error.code);
    }
  }

  async ackUpTo(seq) {
    let changed = false;
    for (const pending of [...this.outbox.keys()]) {
      if (pending <= seq) changed = this.outbox.delete(pending) || changed;
      this.unconfirmed.delete(pending);
    }
    if (changed) this.onOutbox(this.outboxList());
  }

  outboxList() {
    return [...this.outbox].map(([seq, envelope]) => ({ seq, envelope }));
  }

  /** Return the messages not yet confirmed by the server, with their text where known. */
  pending() {
    return [...this.outbox.keys()].sort((a, b) => a - b).map((seq) => ({ seq, content: this.unconfirmed.get(seq) ?? null }));
  }

  // Epochs follow membership: whoever holds the latest key makes the next epoch when someone
  // joined (docs/PROTOCOL.md, "Epochs"); the customer makes epoch 0.
  // Epoch 0 has the customer alone, even if an agent joined before it was made.
  currentMembers() {
    // v1 trusts the first agent device the server names, and no later one: a server that
    // announced more devices could otherwise read along (docs/THREAT_MODEL.md).
    const joined = this.state.latestEpoch === null ? [] : this.joined.slice(0, 1);
    const ids = [...new Set([this.customerDevice, ...joined])];
    return ids.map((id) => this.members.get(id));
  }

  needsEpoch() {
    const latest = this.state.latestEpoch;
    if (this.closed) return false;
    if (latest === null) return this.keys.deviceId === this.customerDevice;
    const have = new Set(this.state.membersOf(latest).map((m) => m.deviceId));
    const want = this.currentMembers().map((m) => m.deviceId);
    const same = want.length === have.size && want.every((id) => have.has(id));
    return !same && have.has(this.keys.deviceId) && this.state.keyOf(latest) !== null;
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
  sendMessage(plaintext) {
    return this.serial(() => withSenderLock(`sealdesk-seq:${this.keys.deviceId}:${this.conversation}`, async (shared) => {
      const epoch = this.state.latestEpoch;
      const key = epoch === null ? null : this.state.keyOf(epoch);
      if (key === null) throw new Error("The conversation key has not arrived yet.");
      const own = this.items.filter((i) => i.kind === "message" && i.sender === this.keys.deviceId).length;
      const acknowledged = await shared.get();
      this.sentSeq = Math.max(this.sentSeq, own, acknowledged) + 1;
      const seq = this.sentSeq;
      const envelope = (
        await encryptMessage(this.keys, this.tenant, this.conversation, epoch, key, this.sentSeq, {
          ...plaintext,
          sent_at: nowIso(),
        })
      ).toJSON();
      this.outbox.set(this.sentSeq, envelope);
      this.unconfirmed.set(this.sentSeq, plaintext);
      this.onOutbox(this.outboxList());
      this.onChange();
      if (this.socket?.connected) {
        await this.socket.request({ type: SEND, conversation: this.conversation, envelope });
        await shared.set(seq); // above the number read: this tab has held the lock since
      }
    }));
  }
}

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
