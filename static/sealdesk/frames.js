// The frame contract: every websocket frame both ways on both sockets, and every error code.
// It mirrors sealdesk_client/frames.py name for name (tests/test_frames.py checks both and
// docs/PROTOCOL.md). A schema maps each field to its types ("|" between string, integer,
// boolean, object, array, null, any); a field ending in "?" may be absent.

// Frame types. A constant names one wire type, whichever way the frame goes.
export const AUTH = "auth";
export const BARGE = "barge";
export const CLOSE = "close";
export const CLOSED = "closed";
export const COMMENT = "comment";
export const CONVERSATION = "conversation";
export const EPOCH = "epoch";
export const ERROR = "error";
export const EVENT = "event";
export const EVENTS = "events";
export const HELLO = "hello";
export const INVITATION = "invitation";
export const INVITE = "invite";
export const LEAVE = "leave";
export const LEAVE_MESSAGE = "leave_message";
export const LEFT = "left";
export const MESSAGE_LEFT = "message_left";
export const MESSAGES = "messages";
export const MONITOR = "monitor";
export const NOTIFY = "notify";
export const NOTIFY_SET = "notify_set";
export const OFFER = "offer";
export const OFFER_ACCEPT = "offer.accept";
export const OFFER_DECLINE = "offer.decline";
export const OFFER_GONE = "offer.gone";
export const PARK = "park";
export const PICK_UP = "pick_up";
export const PRESENCE = "presence";
export const PRESENCE_SET = "presence.set";
export const QUEUE = "queue";
export const RATE = "rate";
export const RATED = "rated";
export const RESUME = "resume";
export const SEND = "send";
export const SENT = "sent";
export const SHARE = "share";
export const STORED = "stored";
export const SYNC = "sync";
export const TRANSFER = "transfer";
export const TYPING = "typing";

const REF = "any"; // a client's request id: the reply echoes a string or an integer
const REPLY_REF = "string|integer|null"; // null when the request had none, or one of another type

// Frames that both sockets carry.
const SHARED_SERVER = {
  [EVENT]: { conversation: "string", event: "object" },
  [TYPING]: { conversation: "string", role: "string" },
  [EVENTS]: { conversation: "string", events: "array", more: "boolean", ref: REPLY_REF },
  [SENT]: { conversation: "string", seq: "integer", sender_seq: "integer", ref: REPLY_REF },
  [STORED]: { conversation: "string", seq: "integer", ref: REPLY_REF },
  [CLOSED]: { conversation: "string", ref: REPLY_REF },
  [ERROR]: { code: "string", detail: "string", "ref?": "string|integer" },
};
// Fields the server checks itself with a named error are "any" (see frames.py).
const SHARED_CLIENT = {
  [SYNC]: { conversation: "string", "after?": "integer", "ref?": REF },
  [SEND]: { conversation: "string", envelope: "any", "answer?": "boolean", "ref?": REF },
  [EPOCH]: { conversation: "string", record: "any", "wraps?": "any", "ref?": REF },
  [SHARE]: { conversation: "string", wraps: "any", "ref?": REF },
  [TYPING]: { conversation: "string", "ref?": REF },
};

// Each socket's side of the contract, its own object: a page holds only the one it speaks (the
// widget's bundle carries no agent frames), and SCHEMA names both for the tests and the docs.
// The widget's socket, /ws/widget/<widget id>/.
export const WIDGET_FRAMES = Object.freeze({
  server: {
    ...SHARED_SERVER,
    [HELLO]: { conversation: "object", queue_position: "integer", wait_seconds: "integer|null", ref: REPLY_REF },
    [QUEUE]: { position: "integer", wait_seconds: "integer|null", "ref?": REPLY_REF },
    [MESSAGE_LEFT]: { conversation: "object", "ref?": REPLY_REF },
    [NOTIFY_SET]: { conversation: "string", notify: "boolean", ref: REPLY_REF },
    [RATED]: { conversation: "string", score: "integer", ref: REPLY_REF },
  },
  client: {
    ...SHARED_CLIENT,
    [AUTH]: { conversation: "any", token: "any", "ref?": REF },
    [CLOSE]: { conversation: "string", "ref?": REF },
    [RESUME]: { conversation: "string", "ref?": REF },
    [LEAVE_MESSAGE]: { conversation: "string", "ref?": REF },
    [NOTIFY]: { conversation: "string", email: "any", "ref?": REF },
    [RATE]: { conversation: "string", score: "any", "ref?": REF },
    [COMMENT]: { conversation: "string", envelope: "any", "ref?": REF },
  },
});

// The dashboard's socket, /ws/agent/.
// Made by a call marked pure: a bundle that never names it leaves it out (its spreads would
// otherwise keep it).
export const AGENT_FRAMES = /* @__PURE__ */ (() =>
  Object.freeze({
    server: {
      ...SHARED_SERVER,
      [HELLO]: {
        agent: "object",
        tenant: "object",
        device: "object|null",
        org: "object|null",
        presence: "string",
        changed_at: "string",
        offers: "array",
        invitations: "array",
        conversations: "array",
        messages: "array",
      },
      [PRESENCE]: { presence: "string", changed_at: "string" },
      [OFFER]: { offer: "object" },
      [OFFER_GONE]: { offer: "integer", reason: "string" },
      [CONVERSATION]: { conversation: "object", "ref?": REPLY_REF },
      [INVITATION]: { invitation: "object", "ref?": REPLY_REF },
      [LEFT]: { conversation: "string", "ref?": REPLY_REF },
      [MESSAGES]: { messages: "array" },
    },
    client: {
      ...SHARED_CLIENT,
      [PRESENCE_SET]: { presence: "any", "ref?": REF },
      [OFFER_ACCEPT]: { offer: "any", "ref?": REF },
      [OFFER_DECLINE]: { offer: "any", "ref?": REF },
      [CLOSE]: { conversation: "string", disposition: "any", "ref?": REF },
      [INVITE]: { conversation: "string", agent: "any", purpose: "any", "ref?": REF },
      [LEAVE]: { conversation: "string", envelope: "any", "ref?": REF },
      [MONITOR]: { conversation: "string", "ref?": REF },
      [BARGE]: { conversation: "string", "ref?": REF },
      [TRANSFER]: { conversation: "string", team: "any", envelope: "any", "ref?": REF },
      [PARK]: { conversation: "string", envelope: "any", "ref?": REF },
      [PICK_UP]: { conversation: "string", "ref?": REF },
    },
  }))();

export const SCHEMA = /* @__PURE__ */ Object.freeze({ agent: AGENT_FRAMES, widget: WIDGET_FRAMES });

// Every error code a client can receive; what each means is in frames.py and docs/PROTOCOL.md.
export const ERRORS = /* @__PURE__ */ Object.freeze([
  "frame_too_large", "malformed_frame", "unknown_type", "internal_error", "invalid_presence",
  "forbidden", "not_authenticated", "already_authenticated", "not_found", "unknown_device",
  "not_a_participant", "conversation_closed", "conversation_taken", "malformed_envelope",
  "wrong_sender", "bad_signature", "message_too_large", "seq_out_of_order", "seq_conflict",
  "unknown_epoch", "malformed_epoch", "bad_epoch", "epoch_conflict", "wrong_conversation",
  "malformed_wraps", "unknown_offer", "offer_gone", "invalid_disposition", "origin_not_allowed",
  "method_not_allowed", "unknown_team", "invalid_key", "device_exists", "invalid_language",
  "malformed_body", "body_too_large", "rate_limited", "two_factor_required", "invalid_size", "file_too_large",
  "quota_exceeded", "invalid_part", "part_exists", "size_mismatch", "upload_complete",
  "upload_incomplete", "invalid_hash", "hash_mismatch", "invalid_rotation", "no_org_key",
  "invalid_certificate", "invalid_revocation", "device_revoked", "device_not_certified",
  "invalid_share", "invalid_purpose", "unknown_agent", "conversation_not_active",
  "already_in_conversation", "already_invited", "agent_unavailable", "last_agent", "not_staff",
  "supervision_off", "supervisor_monitoring", "agents_remain", "conversation_parked",
  "customer_unpinned", "invalid_page", "team_closed", "message_left", "messages_unavailable",
  "not_addressed", "invalid_email", "notice_unavailable", "not_rated", "already_commented", "invalid_score", "not_closed", "already_rated",
]);

const KINDS = {
  string: (v) => typeof v === "string",
  integer: (v) => Number.isInteger(v),
  boolean: (v) => typeof v === "boolean",
  object: (v) => v !== null && typeof v === "object" && !Array.isArray(v),
  array: (v) => Array.isArray(v),
  null: (v) => v === null,
  any: () => true,
};

/** Return the schema of a frame type of CONTRACT (WIDGET_FRAMES or AGENT_FRAMES) going
 * DIRECTION, or null if there is none. */
export function fieldsOf(contract, direction, type) {
  return Object.hasOwn(contract[direction], type) ? contract[direction][type] : null;
}

/** Return what keeps FRAME from fitting the contract; an empty list when it fits.
 *
 * Fields the schema does not list are problems too in a server frame unless EXTRA: the server
 * sends only what the contract lists (its tests check it strictly), while clients let a newer
 * server add fields. A client frame may carry fields the server does not read. */
export function problems(socket, direction, frame, extra = false) {
  return frameProblems(SCHEMA[socket], direction, frame, extra, socket);
}

/** problems() for the socket whose side of the contract is CONTRACT (named NAME). */
export function frameProblems(contract, direction, frame, extra = false, name = "this") {
  if (!KINDS.object(frame) || typeof frame.type !== "string") return ["a frame is a JSON object with a string type"];
  const schema = fieldsOf(contract, direction, frame.type);
  if (schema === null) return [`no ${direction} frame '${frame.type}' on the ${name} socket`];
  const found = [];
  for (const [field, types] of Object.entries(schema)) {
    const name = field.replace(/\?$/, "");
    if (!Object.hasOwn(frame, name)) {
      if (!field.endsWith("?")) found.push(`${frame.type}: ${name} is missing`);
    } else if (!types.split("|").some((kind) => KINDS[kind](frame[name]))) {
      found.push(`${frame.type}: ${name} is not ${types}`);
    }
  }
  if (direction === "server" && !extra) {
    const known = new Set(["type", ...Object.keys(schema).map((field) => field.replace(/\?$/, ""))]);
    for (const name of Object.keys(frame).sort()) if (!known.has(name)) found.push(`${frame.type}: ${name} is not in the contract`);
  }
  return found;
}
