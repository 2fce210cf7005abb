"""Every websocket frame, both ways on both sockets, and every error code: the contract.

static/sealdesk/frames.js mirrors this module name for name. tests/test_frames.py checks that the
two agree, that docs/PROTOCOL.md's frame and error tables list what this module lists, and that
each frame the server's actions send fits its schema. The server (chat/consumers.py), the
dashboard, the widget and the Python client name frames by these constants, so one grep for a
constant finds every place a frame is made or handled. A channel-layer event is named after the
frame it becomes (chat/broadcast.py).

A schema maps each field to its types, separated by "|", among string, integer, boolean, object,
array, null and any; a field whose name ends in "?" may be absent.
"""

from typing import Any, Final

# Frame types. A constant names one wire type, whichever way the frame goes.
AUTH: Final = "auth"
BARGE: Final = "barge"
CLOSE: Final = "close"
CLOSED: Final = "closed"
COMMENT: Final = "comment"
CONVERSATION: Final = "conversation"
EPOCH: Final = "epoch"
ERROR: Final = "error"
EVENT: Final = "event"
EVENTS: Final = "events"
HELLO: Final = "hello"
INVITATION: Final = "invitation"
INVITE: Final = "invite"
LEAVE: Final = "leave"
LEAVE_MESSAGE: Final = "leave_message"
LEFT: Final = "left"
MESSAGE_LEFT: Final = "message_left"
MESSAGES: Final = "messages"
MONITOR: Final = "monitor"
NOTIFY: Final = "notify"
NOTIFY_SET: Final = "notify_set"
OFFER: Final = "offer"
OFFER_ACCEPT: Final = "offer.accept"
OFFER_DECLINE: Final = "offer.decline"
OFFER_GONE: Final = "offer.gone"
PARK: Final = "park"
PICK_UP: Final = "pick_up"
PRESENCE: Final = "presence"
PRESENCE_SET: Final = "presence.set"
QUEUE: Final = "queue"
RATE: Final = "rate"
RATED: Final = "rated"
RESUME: Final = "resume"
SEND: Final = "send"
SENT: Final = "sent"
SHARE: Final = "share"
STORED: Final = "stored"
SYNC: Final = "sync"
TRANSFER: Final = "transfer"
TYPING: Final = "typing"

REF = "any"  # a client's request id: the reply echoes a string or an integer
REPLY_REF = "string|integer|null"  # null when the request had none, or one of another type

# Frames that both sockets carry.
_SHARED_SERVER: dict[str, dict[str, str]] = {
    EVENT: {"conversation": "string", "event": "object"},
    TYPING: {"conversation": "string", "role": "string"},
    EVENTS: {"conversation": "string", "events": "array", "more": "boolean", "ref": REPLY_REF},
    SENT: {
        "conversation": "string",
        "seq": "integer",
        "sender_seq": "integer",
        "ref": REPLY_REF,
    },
    STORED: {"conversation": "string", "seq": "integer", "ref": REPLY_REF},
    CLOSED: {"conversation": "string", "ref": REPLY_REF},
    ERROR: {"code": "string", "detail": "string", "ref?": "string|integer"},
}
# Client fields the server checks itself with a named error (an envelope that is not one is
# malformed_envelope, not malformed_frame) are "any" here.
_SHARED_CLIENT: dict[str, dict[str, str]] = {
    SYNC: {"conversation": "string", "after?": "integer", "ref?": REF},
    SEND: {"conversation": "string", "envelope": "any", "answer?": "boolean", "ref?": REF},
    EPOCH: {"conversation": "string", "record": "any", "wraps?": "any", "ref?": REF},
    SHARE: {"conversation": "string", "wraps": "any", "ref?": REF},
    TYPING: {"conversation": "string", "ref?": REF},
}

SCHEMA: Final[dict[str, dict[str, dict[str, dict[str, str]]]]] = {
    # The dashboard's socket, /ws/agent/.
    "agent": {
        "server": {
            **_SHARED_SERVER,
            HELLO: {
                "agent": "object",
                "tenant": "object",
                "device": "object|null",
                "org": "object|null",
                "presence": "string",
                "changed_at": "string",
                "offers": "array",
                "invitations": "array",
                "conversations": "array",
                "messages": "array",
            },
            PRESENCE: {"presence": "string", "changed_at": "string"},
            OFFER: {"offer": "object"},
            OFFER_GONE: {"offer": "integer", "reason": "string"},
            CONVERSATION: {"conversation": "object", "ref?": REPLY_REF},
            INVITATION: {"invitation": "object", "ref?": REPLY_REF},
            LEFT: {"conversation": "string", "ref?": REPLY_REF},
            MESSAGES: {"messages": "array"},
        },
        "client": {
            **_SHARED_CLIENT,
            PRESENCE_SET: {"presence": "any", "ref?": REF},
            OFFER_ACCEPT: {"offer": "any", "ref?": REF},
            OFFER_DECLINE: {"offer": "any", "ref?": REF},
            CLOSE: {"conversation": "string", "disposition": "any", "ref?": REF},
            INVITE: {"conversation": "string", "agent": "any", "purpose": "any", "ref?": REF},
            LEAVE: {"conversation": "string", "envelope": "any", "ref?": REF},
            MONITOR: {"conversation": "string", "ref?": REF},
            BARGE: {"conversation": "string", "ref?": REF},
            TRANSFER: {"conversation": "string", "team": "any", "envelope": "any", "ref?": REF},
            PARK: {"conversation": "string", "envelope": "any", "ref?": REF},
            PICK_UP: {"conversation": "string", "ref?": REF},
        },
    },
    # The widget's socket, /ws/widget/<widget id>/.
    "widget": {
        "server": {
            **_SHARED_SERVER,
            HELLO: {
                "conversation": "object",
                "queue_position": "integer",
                "wait_seconds": "integer|null",
                "ref": REPLY_REF,
            },
            QUEUE: {"position": "integer", "wait_seconds": "integer|null", "ref?": REPLY_REF},
            MESSAGE_LEFT: {"conversation": "object", "ref?": REPLY_REF},
            NOTIFY_SET: {"conversation": "string", "notify": "boolean", "ref": REPLY_REF},
            RATED: {"conversation": "string", "score": "integer", "ref": REPLY_REF},
        },
        "client": {
            **_SHARED_CLIENT,
            AUTH: {"conversation": "any", "token": "any", "ref?": REF},
            CLOSE: {"conversation": "string", "ref?": REF},
            RESUME: {"conversation": "string", "ref?": REF},
            LEAVE_MESSAGE: {"conversation": "string", "ref?": REF},
            NOTIFY: {"conversation": "string", "email": "any", "ref?": REF},
            RATE: {"conversation": "string", "score": "any", "ref?": REF},
            COMMENT: {"conversation": "string", "envelope": "any", "ref?": REF},
        },
    },
}

# Every error code a client can receive, from a socket or the HTTP APIs, with what it means.
ERRORS: Final[dict[str, str]] = {
    "frame_too_large": "the frame is over 64 KiB",
    "malformed_frame": "not a JSON object with a string type, or a field is missing or of the "
    "wrong type",
    "unknown_type": "no such client frame type on this socket",
    "internal_error": "the server could not do it (a database error); nothing was stored, try "
    "again",
    "invalid_presence": "presence is not available, away or offline",
    "forbidden": "the session is no longer an active agent of an active tenant; the socket "
    "closes with 4403",
    "not_authenticated": "a widget socket sent a frame before auth",
    "already_authenticated": "a second auth on one widget socket",
    "not_found": "no such conversation, upload or part, or not one this client may see (the "
    "same answer for both)",
    "unknown_device": "the agent has no registered device on this socket or request",
    "not_a_participant": "the device does not take part in the conversation",
    "conversation_closed": "the conversation is closed",
    "conversation_taken": "the conversation is with an agent already (a router may close only a "
    "waiting chat)",
    "malformed_envelope": "the envelope is not a v2 envelope",
    "wrong_sender": "an envelope, epoch record or wrap names another device than the sender's",
    "bad_signature": "the envelope's signature is not the sending device's",
    "message_too_large": "the ciphertext is over the 16 KiB plaintext limit",
    "seq_out_of_order": "the sender's seq is not the next one",
    "seq_conflict": "the sender's seq was used already for another message",
    "unknown_epoch": "the envelope or wrap names an epoch that does not exist",
    "malformed_epoch": "the epoch record is not a v2 record",
    "bad_epoch": "the epoch record does not follow the chain",
    "epoch_conflict": "the epoch record is not the next number",
    "wrong_conversation": "the epoch record names another conversation",
    "malformed_wraps": "the wraps are not a list of wraps (at most 50)",
    "unknown_offer": "no such offer for this agent",
    "offer_gone": "the offer expired or was withdrawn, or its chat was closed or taken",
    "invalid_disposition": "not one of the wrap-up dispositions",
    "origin_not_allowed": "the page's origin may not embed this tenant's widget",
    "method_not_allowed": "the HTTP method is not one this endpoint takes",
    "unknown_team": "no such team of this tenant",
    "invalid_key": "a public key is not 32 bytes of base64, or is of small order",
    "device_exists": "these keys are registered already, or belong to another device",
    "invalid_language": "language is not a tag such as en or de-CH",
    "malformed_body": "the request body is not the JSON object expected",
    "body_too_large": "the request body is over 16 KiB",
    "rate_limited": "a limit was reached (chat starts from this address or on this tenant, "
    "the tenant's waiting chats, files begun); Retry-After says when to try again",
    "two_factor_required": "the session signed in with the password only and owes its second "
    "factor (agents/two_factor.py)",
    "invalid_size": "an upload's size or part count is not a positive number that fits",
    "file_too_large": "the file is over the tenant's limit",
    "quota_exceeded": "the conversation has no room for more files",
    "invalid_part": "a part is not 16 bytes to max_part_bytes",
    "part_exists": "that part of the upload has arrived already (a resend: the part is in)",
    "size_mismatch": "the parts do not add up to the declared size",
    "upload_complete": "the upload is complete already",
    "upload_incomplete": "not every part has arrived, or the file is not complete yet",
    "invalid_hash": "hash is not 128 hex digits",
    "hash_mismatch": "the parts are not the file that was announced; the upload is removed",
    "invalid_rotation": "a new organisation key lacks the hand-over the current key signed for it",
    "no_org_key": "the tenant has no organisation key yet",
    "invalid_certificate": "the certificate does not name this device, its person, name and "
    "role, and the current organisation key, or does not verify",
    "invalid_revocation": "the revocation is not signed by the organisation for this device",
    "device_revoked": "this device was revoked; its browser makes new keys",
    "device_not_certified": "a tenant admin has not approved this browser yet",
    "invalid_share": "the sealed organisation key is not well formed",
    "invalid_purpose": "an invitation's purpose is not conference or transfer",
    "unknown_agent": "no such agent in this tenant",
    "conversation_not_active": "no agent has taken the conversation yet",
    "already_in_conversation": "the agent takes part in the conversation already",
    "already_invited": "the agent has an open invitation to the conversation already",
    "agent_unavailable": "the agent is not available, or has no free chat slot",
    "last_agent": "the only agent in a conversation transfers or closes it instead of leaving",
    "not_staff": "a staff-only message or staff key comes from the customer's device, or goes to "
    "a device that is not staff in the chat",
    "supervision_off": "the tenant's supervision policy does not allow this",
    "supervisor_monitoring": "a supervisor who monitors writes to the customer once it barged in",
    "agents_remain": "another agent is in the chat: it is left to them rather than sent to a queue",
    "conversation_parked": "the conversation is parked until its customer writes",
    "customer_unpinned": "the customer's widget pins no organisation key: its chat cannot go back "
    "to a queue",
    "invalid_page": "a history page's offset is not a whole number from 0",
    "team_closed": "the team is outside its business hours: leave a message instead",
    "message_left": "the customer left a message: an agent picks it up from the offline messages",
    "messages_unavailable": "no message can be left: the widget pins no organisation key, or "
    "nobody of the team has an approved browser",
    "not_addressed": "the message was encrypted to other browsers of the team: pick it up from "
    "one of them",
    "invalid_email": "the address for an e-mail notice is not an e-mail address",
    "notice_unavailable": "an e-mail notice is only for a message left and not yet answered",
    "not_rated": "a rating's comment comes with or after its score: rate the conversation first",
    "already_commented": "the customer commented on this conversation's rating already",
    "invalid_score": "a satisfaction score is not a whole number from 1 to 5",
    "not_closed": "the conversation is not closed yet: it is rated once it has ended",
    "already_rated": "the customer rated this conversation already",
}

_KINDS: Final[dict[str, Any]] = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
}


def _fits(value: object, types: str) -> bool:
    for kind in types.split("|"):
        if kind == "any":
            return True
        # JSON's true and false are booleans, never integers.
        if kind == "integer" and isinstance(value, bool):
            continue
        if isinstance(value, _KINDS[kind]):
            return True
    return False


def fields_of(socket: str, direction: str, frame_type: str) -> dict[str, str] | None:
    """Return the schema of a frame type on SOCKET going DIRECTION, or None if there is none."""
    return SCHEMA[socket][direction].get(frame_type)


def problems(socket: str, direction: str, frame: object, extra: bool = False) -> list[str]:
    """Return what keeps FRAME from fitting the contract; an empty list when it fits.

    Fields the schema does not list are problems too in a server frame unless EXTRA: the server
    sends only what the contract lists (its tests check it strictly), while clients let a newer
    server add fields. A client frame may carry fields the server does not read.
    """
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return ["a frame is a JSON object with a string type"]
    schema = fields_of(socket, direction, frame["type"])
    if schema is None:
        return [f"no {direction} frame {frame['type']!r} on the {socket} socket"]
    found = []
    for field, types in schema.items():
        name = field.removesuffix("?")
        if name not in frame:
            if not field.endswith("?"):
                found.append(f"{frame['type']}: {name} is missing")
        elif not _fits(frame[name], types):
            found.append(f"{frame['type']}: {name} is not {types}")
    if direction == "server" and not extra:
        known = {field.removesuffix("?") for field in schema} | {"type"}
        found += [
            f"{frame['type']}: {name} is not in the contract" for name in frame.keys() - known
        ]
    return found


def frame(frame_type: str, **fields: Any) -> dict[str, Any]:
    """Return a frame of FRAME_TYPE with FIELDS."""
    return {"type": frame_type, **fields}
