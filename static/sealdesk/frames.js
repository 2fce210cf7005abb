// Every websocket frame, both ways on both sockets, and every error code: the contract.
//
// sealdesk_client/frames.py holds the same names and tables; tests/test_frames.py checks that the
// two agree and that docs/PROTOCOL.md lists the same frames and codes. The dashboard, the widget
// and the conversation view name frames by these constants, so one grep for a constant finds
// every place a frame is made or handled, server and clients alike.
//
// A schema maps each field to its types, separated by "|", among string, integer, boolean,
// object, array, null and any; a field whose name ends in "?" may be absent.

// Frame types. A constant names one wire type, whichever way the frame goes.
export const AUTH = "auth";
export const CLOSE = "close";
export const CLOSED = "closed";
export const CONVERSATION = "conversation";
export const EPOCH = "epoch";
export const ERROR = "error";
export const EVENT = "event";
export const EVENTS = "events";
export const HELLO = "hello";
export const OFFER = "offer";
export const OFFER_ACCEPT = "offer.accept";
export const OFFER_DECLINE = "offer.decline";
export const OFFER_GONE = "offer.gone";
export const PRESENCE = "presence";
export const PRESENCE_SET = "presence.set";
export const QUEUE = "queue";
export const SEND = "send";
export const SENT = "sent";
export const SHARE = "share";
export const STORED = "stored";
export const SYNC = "sync";
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
// Client fields the server checks itself with a named error (an envelope that is not one is
// malformed_envelope, not malformed_frame) are "any" here.
const SHARED_CLIENT = {
  [SYNC]: { conversation: "string", "after?": "integer", "ref?": REF },
  [SEND]: { conversation: "string", envelope: "any", "ref?": REF },
  [EPOCH]: { conversation: "string", record: "any", "wraps?": "any", "ref?": REF },
  [SHARE]: { conversation: "string", wraps: "any", "ref?": REF },
  [TYPING]: { conversation: "string", "ref?": REF },
};

export const SCHEMA = Object.freeze({
  // The dashboard's socket, /ws/agent/.
  agent: {
    server: {
      ...SHARED_SERVER,
      [HELLO]: {
        agent: "object",
        tenant: "object",
        device: "object|null",
        presence: "string",
        changed_at: "string",
        offers: "array",
        conversations: "array",
      },
      [PRESENCE]: { presence: "string", changed_at: "string" },
      [OFFER]: { offer: "object" },
      [OFFER_GONE]: { offer: "integer", reason: "string" },
      [CONVERSATION]: { conversation: "object" },
    },
    client: {
      ...SHARED_CLIENT,
      [PRESENCE_SET]: { presence: "any", "ref?": REF },
      [OFFER_ACCEPT]: { offer: "any", "ref?": REF },
      [OFFER_DECLINE]: { offer: "any", "ref?": REF },
      [CLOSE]: { conversation: "string", disposition: "any", "ref?": REF },
    },
  },
  // The widget's socket, /ws/widget/<widget id>/.
  widget: {
    server: {
      ...SHARED_SERVER,
      [HELLO]: { conversation: "object", queue_position: "integer", ref: REPLY_REF },
      [QUEUE]: { position: "integer" },
    },
    client: {
      ...SHARED_CLIENT,
      [AUTH]: { conversation: "any", token: "any", "ref?": REF },
      [CLOSE]: { conversation: "string", "ref?": REF },
    },
  },
});

// Every error code a client can receive, from a socket or the HTTP APIs, with what it means.
export const ERRORS = Object.freeze({
  frame_too_large: "the frame is over 64 KiB",
  malformed_frame: "not a JSON object with a string type, or a field is missing or of the wrong type",
  unknown_type: "no such client frame type on this socket",
  internal_error: "the server could not do it (a database error); nothing was stored, try again",
  invalid_presence: "presence is not available, away or offline",
  forbidden: "the session is no longer an active agent of an active tenant; the socket closes with 4403",
  not_authenticated: "a widget socket sent a frame before auth",
  already_authenticated: "a second auth on one widget socket",
  not_found: "no such conversation, upload or part, or not one this client may see (the same answer for both)",
  unknown_device: "the agent has no registered device on this socket or request",
  not_a_participant: "the device does not take part in the conversation",
  conversation_closed: "the conversation is closed",
  conversation_taken: "the conversation is with an agent already (a router may close only a waiting chat)",
  malformed_envelope: "the envelope is not a v1 envelope",
  wrong_sender: "an envelope, epoch record or wrap names another device than the sender's",
  bad_signature: "the envelope's signature is not the sending device's",
  message_too_large: "the ciphertext is over the 16 KiB plaintext limit",
  seq_out_of_order: "the sender's seq is not the next one",
  seq_conflict: "the sender's seq was used already for another message",
  unknown_epoch: "the envelope or wrap names an epoch that does not exist",
  malformed_epoch: "the epoch record is not a v1 record",
  bad_epoch: "the epoch record does not follow the chain",
  epoch_conflict: "the epoch record is not the next number",
  wrong_conversation: "the epoch record names another conversation",
  malformed_wraps: "the wraps are not a list of v1 wraps (at most 50)",
  unknown_offer: "no such offer for this agent",
  offer_gone: "the offer expired or was withdrawn, or its chat was closed or taken",
  invalid_disposition: "not one of the wrap-up dispositions",
  origin_not_allowed: "the page's origin may not embed this tenant's widget",
  method_not_allowed: "the HTTP method is not one this endpoint takes",
  unknown_team: "no such team of this tenant",
  invalid_key: "a public key is not 32 bytes of base64",
  device_exists: "these keys are registered already, or belong to another device",
  invalid_language: "language is not a tag such as en or de-CH",
  malformed_body: "the request body is not the JSON object expected",
  body_too_large: "the request body is over 16 KiB",
  rate_limited: "too many chats were started from this address; Retry-After says when to try again",
  invalid_size: "an upload's size or part count is not a positive number that fits",
  file_too_large: "the file is over the tenant's limit",
  quota_exceeded: "the conversation has no room for more files",
  invalid_part: "a part is not 16 bytes to max_part_bytes",
  part_out_of_order: "a part is not the next one",
  size_mismatch: "the parts do not add up to the declared size",
  upload_complete: "the upload is complete already",
  upload_incomplete: "not every part has arrived, or the file is not complete yet",
  invalid_hash: "hash is not 128 hex digits",
  hash_mismatch: "the parts are not the file that was announced; the upload is removed",
});

const KINDS = {
  string: (v) => typeof v === "string",
  integer: (v) => Number.isInteger(v),
  boolean: (v) => typeof v === "boolean",
  object: (v) => v !== null && typeof v === "object" && !Array.isArray(v),
  array: (v) => Array.isArray(v),
  null: (v) => v === null,
  any: () => true,
};

/** Return the schema of a frame type on SOCKET going DIRECTION, or null if there is none. */
export function fieldsOf(socket, direction, type) {
  return Object.hasOwn(SCHEMA[socket][direction], type) ? SCHEMA[socket][direction][type] : null;
}

/** Return what keeps FRAME from fitting the contract; an empty list when it fits.
 *
 * Fields the schema does not list are problems too in a server frame unless EXTRA: the server
 * sends only what the contract lists (its tests check it strictly), while clients let a newer
 * server add fields. A client frame may carry fields the server does not read. */
export function problems(socket, direction, frame, extra = false) {
  if (!KINDS.object(frame) || typeof frame.type !== "string") return ["a frame is a JSON object with a string type"];
  const schema = fieldsOf(socket, direction, frame.type);
  if (schema === null) return [`no ${direction} frame '${frame.type}' on the ${socket} socket`];
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
