// A server that stores and relays a conversation's events as the real one does (docs/PROTOCOL.md,
// Part 2), for node tests of the conversation code that ships (static/sealdesk/chat.js). Tests
// make it lie (tests/js/malicious-server.test.mjs) or watch what the pages ask of it.
import { ConversationView } from "../../static/sealdesk/chat.js";
import { StaffView } from "../../static/sealdesk/staff-view.js";
import * as p from "../../static/sealdesk/protocol.js";

export const TENANT = "wid_acme";
export const CONVERSATION = "6f1c2a4e-8b3d-4c5e-9f60-7a8b9c0d1e2f";
const b64 = (bytes) => Buffer.from(bytes).toString("base64");
export const deviceJson = (keys) => ({ id: keys.deviceId, sign_public: b64(keys.signPublic), box_public: b64(keys.boxPublic) });
export const text = (body) => ({ type: "text", body });

// What a view shows: its messages' texts, its warnings' codes, its notices' texts, and the
// device ids of the latest epoch it accepted, sorted.
export const messages = (view) => view.items.filter((i) => i.kind === "message").map((i) => i.content.body ?? i.content.question);
export const warnings = (view) => view.items.filter((i) => i.kind === "warning").map((i) => i.content.code);
export const notices = (view) => view.items.filter((i) => i.kind === "notice" || i.kind === "members").map((i) => i.content.text);
export const notes = (view) => view.items.filter((i) => i.kind === "note").map((i) => i.content.body);
export const memberIds = (view) => view.latestMembers().map((m) => m.deviceId).sort();

/** A server that stores each event once and relays it to every member, until told to lie. Each
 * member has its own stream, so that the server can show members different things. */
export class Server {
  constructor() {
    this.streams = new Map();
    this.requests = [];
    this.relayTo = null; // names that see what is sent; null: everyone
    this.batch = Infinity; // events per sync answer
    this.epochsTo = null; // names that see an epoch stored; null: everyone
  }

  // A member's socket; EVENTS is what its stream holds already (a page load the server made up).
  socketFor(name, events = []) {
    this.streams.set(name, events.map((event, i) => ({ ...event, seq: i + 1 })));
    return { connected: true, request: async (frame) => this.handle(name, frame) };
  }

  // Another socket of NAME's on the stream it has (a page reload).
  reconnect(name) {
    return { connected: true, request: async (frame) => this.handle(name, frame) };
  }

  // Append EVENT to the streams of NAMES (every member by default), numbered per stream.
  deliver(event, names = [...this.streams.keys()]) {
    for (const name of names) {
      const stream = this.streams.get(name);
      stream.push({ ...event, seq: stream.length + 1 });
    }
  }

  async handle(name, frame) {
    this.requests.push({ from: name, ...frame });
    const stream = this.streams.get(name);
    if (frame.type === "sync") {
      const events = stream.filter((e) => e.seq > frame.after);
      return { events: events.slice(0, this.batch), more: events.length > this.batch };
    }
    if (frame.type === "send") {
      const { envelope } = frame;
      const known = stream.find((e) => e.kind === "message" && e.body.sender === envelope.sender && e.body.seq === envelope.seq);
      if (known) return { seq: known.seq };
      this.deliver({ kind: "message", sender: envelope.sender, body: envelope }, this.relayTo ?? undefined);
      return { seq: stream.at(-1).seq };
    }
    if (frame.type === "epoch") {
      // As the real server, one record a number: the second maker hears epoch_conflict.
      if (stream.some((e) => e.kind === "epoch" && e.body.record.epoch === frame.record.epoch)) {
        throw Object.assign(new Error("epoch_conflict"), { code: "epoch_conflict" });
      }
      this.deliver({ kind: "epoch", sender: frame.record.creator, body: { record: frame.record, wraps: frame.wraps } }, this.epochsTo ?? undefined);
      return { seq: stream.at(-1).seq };
    }
    if (frame.type === "share") {
      // As the real server: the sender wraps, nothing to or from the customer is staff-only.
      this.deliver({ kind: "share", sender: name, body: { wraps: frame.wraps } }, this.epochsTo ?? undefined);
      return { seq: stream.at(-1).seq };
    }
    if (frame.type === "leave" || frame.type === "park" || frame.type === "transfer") {
      // The signed leave and the leaving are stored together, as the real server does, with
      // what a park or a transfer to a queue adds.
      const { envelope } = frame;
      this.deliver({ kind: "message", sender: envelope.sender, body: envelope }, this.relayTo ?? undefined);
      this.deliver({ kind: "left", sender: null, body: { device: envelope.sender, reason: "left" } });
      if (frame.type === "park") this.deliver({ kind: "parked", sender: null, body: { by: { id: 2, display_name: "Alice" }, resume_at: null, expires_at: "2026-12-04T09:00:00Z" } });
      if (frame.type === "transfer") this.deliver({ kind: "queued", sender: null, body: { team: { id: frame.team, name: "Billing" }, reason: "transfer" } });
      return { type: "left" };
    }
    if (frame.type === "comment") {
      // As the real server: a rating's comment is one more message of the closed chat.
      const { envelope } = frame;
      this.deliver({ kind: "message", sender: envelope.sender, body: envelope }, this.relayTo ?? undefined);
      return { seq: stream.at(-1).seq, sender_seq: envelope.seq };
    }
    if (frame.type === "close") {
      this.deliver({ kind: "closed", sender: null, body: { disposition: frame.disposition ?? "" } });
      return { type: "closed" };
    }
    throw new Error(`this server does not answer ${frame.type}`);
  }

  /** Every wrap any device sent, to any recipient, with epochs or in shares. */
  wraps() {
    return this.requests.filter((r) => r.type === "epoch" || r.type === "share").flatMap((r) => r.wraps);
  }
}

/** A customer's widget and an agent's dashboard on one server, the agent joined and keyed. */
export async function chat({ server = new Server(), customerKeys = null, customerHint = null } = {}) {
  customerKeys ??= await p.generateDevice();
  const agentKeys = await p.generateDevice();
  const customerSocket = server.socketFor("customer");
  const agentSocket = server.socketFor("agent");
  const customer = new ConversationView({ device: customerKeys, tenant: TENANT, conversation: CONVERSATION, customerDevice: deviceJson(customerKeys) });
  await customer.connected(customerSocket);
  await customer.sendMessage({ type: "prechat", name: "Carla", email: "", question: "Where is my parcel?" });
  const agent = new StaffView({ device: agentKeys, tenant: TENANT, conversation: CONVERSATION, customerDevice: customerHint ?? deviceJson(customerKeys) });
  server.deliver({ kind: "joined", sender: null, body: { device: deviceJson(agentKeys), role: "agent", name: "Alice" } });
  await customer.connected(customerSocket);
  await agent.connected(agentSocket);
  return { server, customer, agent, customerKeys, agentKeys, customerSocket, agentSocket };
}

// Certified staff (docs/PROTOCOL.md, "Certified devices"): an organisation key the browsers pin.

export const ORG_SEED = new Uint8Array(32).fill(7);
const ISSUED = Math.floor(Date.now() / 1000) - 60;
const YEAR = 365 * 86_400;

/** Return KEYS as a `joined` notice names a device, with a certificate ORG signed. */
export async function certified(org, keys, name = "Alice", person = 2, role = "agent") {
  const fields = { tenant: TENANT, person, name, role, device: keys, issued: ISSUED, expires: ISSUED + YEAR };
  return { ...deviceJson(keys), cert: (await p.certify(org, fields)).toJSON() };
}

/** The pages of NAMES (the customer's widget and staff dashboards, KEYS by name) on SERVER, all
 * trusting ORG's key; `sync(...names)` lets those pages catch up, in that order. */
export function pinnedViews(server, org, keys, names) {
  const sockets = {};
  const views = {};
  for (const name of names) {
    sockets[name] = server.socketFor(name);
    // The customer's page has the widget's view; staff pages the dashboard's.
    const View = name === "customer" ? ConversationView : StaffView;
    views[name] = new View({
      device: keys[name],
      tenant: TENANT,
      conversation: CONVERSATION,
      customerDevice: deviceJson(keys.customer),
      trust: new p.Trust(TENANT, [org.publicKey]),
    });
  }
  const sync = async (...who) => {
    for (const name of who) await views[name].connected(sockets[name]);
  };
  return { sockets, views, sync };
}

/** A conversation of a tenant with an organisation key: the customer's widget pins it, and
 * Alice's and Bob's dashboards trust it. Alice has taken the chat; Bob is not in it yet.
 * `sync(...names)` lets those pages catch up, in that order. */
export async function desk() {
  const org = await p.importOrgKey(ORG_SEED);
  const server = new Server();
  const keys = { customer: await p.generateDevice(), alice: await p.generateDevice(), bob: await p.generateDevice() };
  const devices = { alice: await certified(org, keys.alice, "Alice", 2), bob: await certified(org, keys.bob, "Bob", 3) };
  const { sockets, views, sync } = pinnedViews(server, org, keys, ["customer", "alice", "bob"]);
  const join = (name) => server.deliver({ kind: "joined", sender: null, body: { device: devices[name], role: "agent", name: "Someone" } });
  await sync("customer");
  await views.customer.sendMessage({ type: "prechat", name: "Carla", email: "", question: "Where is my parcel?" });
  join("alice");
  await sync("customer", "alice");
  return { org, server, keys, devices, sockets, sync, join, ...views };
}
