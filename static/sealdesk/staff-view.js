// What staff do in a conversation beyond what every member does (chat.js, ConversationView):
// pick up a message left for the team, write staff-only notes and share their keys, leave, send
// the chat to a queue, park it. The dashboard's views are StaffViews; the widget's bundle, which
// a customer loads, carries none of this.
import { ConversationView } from "./chat.js";
import "./staff-errors.js"; // the sentences of what only staff meet, refused notes included
import { LEAVE, PARK, SHARE, TRANSFER } from "./frames.js";
import { newEpochKey, wrapKey } from "./protocol.js";

// The most wraps one event carries (chat/actions/messages.py, MAX_WRAPS).
const MAX_WRAPS = 50;

export class StaffView extends ConversationView {
  // While the customer who left this message waits for an e-mail notice (the summary's notify,
  // which the dashboard sets as `answering`), a text or file from this device says it is the
  // answer: the server, which cannot tell it from a receipt, then sends the notice
  // (docs/PROTOCOL.md, "E-mail notice"). No other frame tells a message from a receipt.
  sendFrame(seq, envelope) {
    const frame = super.sendFrame(seq, envelope);
    const type = this.unconfirmed.get(seq)?.type;
    if (this.answering && (type === "text" || type === "file")) frame.answer = true;
    return frame;
  }

  /** Pick up a message the customer left for the team (docs/PROTOCOL.md, "Messages left"):
   * this device makes the next epoch without the team's other devices that never wrote. */
  async claim() {
    this.claimed = true;
    if (this.socket?.connected) await this.keepEpochCurrent();
  }

  // The devices a claim leaves out: while the latest epoch is the first with staff in it, made
  // by the customer (the message epoch), its agent devices other than this one that sent
  // nothing. Only ever fewer members: a server that lies about a message removes, never adds.
  unclaimed() {
    const latest = this.state.latestEpoch;
    const record = latest === null ? null : this.epochs.get(latest);
    if (!this.claimed || !record || record.creator !== this.customerId) return new Set();
    if (this.hadStaff(latest)) return new Set();
    // Who sent anything (a message, a note, a receipt) stays, and so does a supervisor.
    const me = this.keys.deviceId;
    const silent = (m) => m.role === "agent" && m.deviceId !== me && this.state.lastSeqOf(m.deviceId) === 0;
    return new Set(record.members.filter(silent).map((m) => m.deviceId));
  }

  /** Write a note only staff read: the agents and supervisors in the conversation, and staff
   * who join it later; never the customer's device (docs/PROTOCOL.md, "Staff-only messages"). */
  sendNote(body) {
    if (!this.state.isStaff) throw new Error("Only staff write notes.");
    return this.sendMessage({ type: "note", body });
  }

  // The latest epoch's staff key: made here, wrapped to its staff members, when none exists
  // yet. It is adopted only as the events come back, so that when two staff members make one
  // at once every member takes the first the server stored.
  async ensureStaffKey() {
    // An epoch may land while the key is made: then the next one needs its own (a few rounds).
    for (let round = 0; round < 3; round++) {
      const epoch = this.state.latestEpoch;
      if (epoch !== null && this.state.staffKeyOf(epoch) !== null) return;
      const inLatest = this.latestMembers().some((m) => m.deviceId === this.keys.deviceId && m.role !== "customer");
      if (epoch === null || !inLatest || this.gone(this.keys.deviceId)) {
        throw new Error("your device is not in this chat's encryption yet: wait until a member's browser adds it");
      }
      if (!this.socket?.connected) throw new Error("notes need a connection: try again when it is back");
      const key = newEpochKey();
      const wraps = [];
      for (const member of this.staffRecipients(this.state.membersOf(epoch))) {
        wraps.push(await wrapKey(this.keys, member, this.tenant, this.conversation, epoch, key, null, { staff: true }));
      }
      await this.socket.request({ type: SHARE, conversation: this.conversation, wraps: wraps.map((w) => w.toJSON()) });
      await this.syncNow();
    }
    throw new Error("the staff key has not arrived yet: try again in a moment");
  }

  // The staff among MEMBERS this device hands a staff key to: itself, and the others that have
  // not left only where it trusts the organisation key that certified them (as for epoch keys,
  // "Who makes epochs").
  staffRecipients(members) {
    const me = this.keys.deviceId;
    return members.filter((m) => m.role !== "customer" && (m.deviceId === me || (this.trust !== null && !this.gone(m.deviceId))));
  }

  /** Share the staff keys this device holds with staff of the latest epoch who lack them (a
   * colleague the customer's browser brought in), once the events show nobody did. */
  async shareStaffKeys() {
    const latest = this.state.latestEpoch;
    if (latest === null || this.closed || !this.state.isStaff || this.trust === null) return;
    if (this.gone(this.keys.deviceId) || !this.latestMembers().some((m) => m.deviceId === this.keys.deviceId)) return;
    const wraps = [];
    for (const member of this.staffRecipients(this.latestMembers())) {
      if (member.deviceId === this.keys.deviceId) continue;
      for (let epoch = 0; epoch <= latest; epoch++) {
        const key = this.state.staffKeyOf(epoch);
        if (key === null || this.staffWrapped.get(epoch)?.has(member.deviceId)) continue;
        wraps.push(await wrapKey(this.keys, member, this.tenant, this.conversation, epoch, key, null, { staff: true }));
      }
    }
    if (!wraps.length || !this.socket?.connected) return;
    for (let at = 0; at < wraps.length; at += MAX_WRAPS) {
      const part = wraps.slice(at, at + MAX_WRAPS).map((w) => w.toJSON());
      await this.socket.request({ type: SHARE, conversation: this.conversation, wraps: part });
    }
    await this.syncNow();
  }

  /** Leave a conversation that goes on without this device: a signed leave, which travels in
   * LEAVE and is stored with the leaving or not at all (the next epoch leaves this device out). */
  leave() {
    return this.leaveWith({ type: LEAVE, conversation: this.conversation });
  }

  // Sign a leave carried by CARRIER; once stored, this device owes nobody a receipt any more
  // (one sent after the leave would be refused, and its gap would hold back the next leave).
  async leaveWith(carrier) {
    const reply = await this.sendMessage({ type: "leave" }, carrier);
    this.departed.add(this.keys.deviceId);
    clearTimeout(this.receiptTimer);
    this.receiptTimer = 0;
    return reply;
  }

  /** Send the chat to TEAM's queue (a cold transfer): a signed leave, stored with the change. */
  transferToQueue(team) {
    return this.leaveWith({ type: TRANSFER, conversation: this.conversation, team });
  }

  /** Park the chat until its customer writes again: a signed leave, stored with the change. */
  park() {
    return this.leaveWith({ type: PARK, conversation: this.conversation });
  }
}
