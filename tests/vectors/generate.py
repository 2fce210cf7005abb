"""Write tests/vectors/protocol-v2.json from fixed keys and nonces (docs/PROTOCOL.md, Part 1).

Run `.venv/bin/python tests/vectors/generate.py` after changing the protocol; the tests check that
the committed file is what this writes, and both implementations check every vector in it.
"""

import base64
import hashlib
import json
import uuid
from dataclasses import replace as change
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.secret
import nacl.signing

from sealdesk_client import protocol as p

PATH = Path(__file__).with_name("protocol-v2.json")
TENANT = "acme"
CONVERSATION = "6f1c2a4e-8b3d-4c5e-9f60-7a8b9c0d1e2f"
OTHER_CONVERSATION = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
# The order of the Ed25519 group: S + L verifies in tweetnacl but not in libsodium.
L = 2**252 + 27742317777372353535851937790883648493
SENT_AT = "2026-11-28T09:00:00Z"
# Small chunks, so that every case of docs/PROTOCOL.md, "Files", fits in a few parts.
CHUNK = 64


def fixed(label: str, size: int) -> bytes:
    """Return SIZE bytes that depend on LABEL only."""
    return hashlib.sha512(f"sealdesk-vectors {label}".encode()).digest()[:size]


def b64(data: bytes) -> str:
    """Return standard base64 with padding."""
    return base64.b64encode(data).decode()


DEVICES = {
    name: p.DeviceKeys(fixed(f"{name} sign", 32), fixed(f"{name} box", 32))
    for name in ("customer", "agent", "supervisor", "outsider")
}
C, A, S, X = (DEVICES[name] for name in ("customer", "agent", "supervisor", "outsider"))
KEYS = [fixed(f"epoch {n} key", 32) for n in range(5)]
STAFF_KEYS = [fixed(f"epoch {n} staff key", 32) for n in range(5)]
# The identity point: a small-order key under which R = identity, S = 0 verifies in tweetnacl.
IDENTITY = bytes([1]) + bytes(31)
UNIVERSAL_SIG = IDENTITY + bytes(32)


# The tenant's organisation key, the key it rotates to, and another organisation's.
ORG, ORG_NEXT, OTHER_ORG = (p.OrgKey(fixed(f"{name} key", 32)) for name in ("org", "next", "other"))
ISSUED = 1_764_000_000  # certificates are valid from here
EXPIRES = ISSUED + 365 * 86_400
MADE = [ISSUED + 3600 * (n + 1) for n in range(5)]  # when each epoch is made


def certificate(
    keys: p.DeviceKeys, role: str, name: str, person: int, org: p.OrgKey = ORG, **changes: Any
) -> p.Certificate:
    """Return KEYS's certificate signed by ORG, then CHANGES applied (not signed again)."""
    issued, expires = changes.pop("issued", ISSUED), changes.pop("expires", EXPIRES)
    made = p.certify(
        org,
        tenant=changes.pop("tenant", TENANT),
        person=person,
        name=name,
        role=role,
        device=keys,
        issued=issued,
        expires=expires,
    )
    return change(made, **changes)


def staff(keys: p.DeviceKeys) -> p.Member:
    """Return the agent or the supervisor of the vectors as a certified member."""
    if keys == S:
        return S.member("supervisor", certificate(S, "supervisor", "Sam Supervisor", 3))
    return A.member("agent", certificate(A, "agent", "Alice Agent 👩‍💻", 2))


def signed(record: p.EpochRecord, signer: p.DeviceKeys) -> p.EpochRecord:
    """Return RECORD signed by SIGNER whatever it says."""
    sig = nacl.signing.SigningKey(signer.sign_seed).sign(record.text()).signature
    return change(record, sig=sig)


def devices() -> dict[str, Any]:
    """Return the devices' secrets, public keys, ids and fingerprints."""
    return {
        name: {
            "sign_seed": b64(keys.sign_seed),
            "box_secret": b64(keys.box_secret),
            "sign_public": b64(keys.sign_public),
            "box_public": b64(keys.box_public),
            "device_id": keys.device_id,
            "fingerprint": p.fingerprint(keys.device_id),
        }
        for name, keys in DEVICES.items()
    }


def padding() -> dict[str, Any]:
    """Return pad cases at the block edges and byte strings unpad must refuse."""
    # Data made of 0x80 and 0x00 bytes, so that unpad cannot find the padding by luck.
    valid = []
    for size in (0, 1, 255, 256, 257):
        data = (b"\x80\x00" * 200)[:size]
        valid.append({"data": b64(data), "padded": b64(p.pad(data))})
    malformed = {
        "empty": b"",
        "zeros only": bytes(256),
        "last non-zero byte is not 0x80": b"a\x01" + bytes(254),
        "not a multiple of the block": p.pad(b"a")[:-1],
        "more than a block of padding": b"\x80" + bytes(511),
    }
    return {
        "block": p.BLOCK,
        "valid": valid,
        "malformed": [{"name": name, "padded": b64(data)} for name, data in malformed.items()],
    }


def epoch_chain() -> list[p.EpochRecord]:
    """Return epochs 0 (the customer), 1 (an agent joins), 2 (the agent adds a supervisor)."""
    e0 = p.make_epoch(C, TENANT, CONVERSATION, None, [C.member("customer")], MADE[0])
    e1 = p.make_epoch(C, TENANT, CONVERSATION, e0, [C.member("customer"), staff(A)], MADE[1])
    members = [C.member("customer"), staff(A), staff(S)]
    return [e0, e1, p.make_epoch(A, TENANT, CONVERSATION, e1, members, MADE[2])]


def bad_epochs(e0: p.EpochRecord, e1: p.EpochRecord, e2: p.EpochRecord) -> list[dict[str, Any]]:
    """Return records a receiver refuses as bad_epoch, each after the epoch it names."""
    customer, agent = C.member("customer"), staff(A)
    mislabelled = change(agent, box_public=X.box_public)
    alone = change(e0, sig=b"")
    cases: list[tuple[str, Any, int | None]] = [
        (
            "epoch 1 made by a device that is not in epoch 0",
            signed(change(e1, creator=X.device_id), X),
            0,
        ),
        (
            "epoch 1 naming another prev",
            signed(change(e1, prev=hashlib.sha512(b"x").hexdigest()), C),
            0,
        ),
        (
            "epoch 1 with a member whose id is not that of its keys",
            signed(swap(e1, agent, mislabelled), C),
            0,
        ),
        (
            "epoch 1 with a role changed after signing",
            swap(e1, agent, change(agent, role="supervisor")),
            0,
        ),
        (
            "epoch 1 with an unknown role",
            signed(swap(e1, agent, change(agent, role="admin")), C),
            0,
        ),
        ("epoch 1 with members out of order", signed(change(e1, members=e1.members[::-1]), C), 0),
        ("epoch 1 listing a member twice", signed(change(e1, members=(customer, customer)), C), 0),
        ("epoch 1 without members", signed(change(e1, members=()), C), 0),
        (
            "epoch 1 of another conversation chained to this one",
            signed(change(e1, conversation=OTHER_CONVERSATION), C),
            0,
        ),
        ("epoch 2 numbered 3", signed(change(e2, epoch=3), A), 1),
        ("epoch 2 made before epoch 1", signed(change(e2, made=MADE[1] - 1), A), 1),
        (
            "epoch 1 whose agent carries the supervisor's certificate",
            signed(swap(e1, agent, change(agent, cert=staff(S).cert)), C),
            0,
        ),
        (
            "epoch 1 whose customer carries a certificate",
            signed(swap(e1, customer, change(customer, cert=staff(A).cert)), C),
            0,
        ),
        (
            "epoch 2 that leaves its creator out",
            signed(change(e2, members=sort(customer, staff(S))), A),
            1,
        ),
        (
            "epoch 2 with a second customer",
            signed(change(e2, members=sort(customer, agent, X.member("customer"))), A),
            1,
        ),
        (
            "epoch 2 whose customer is another device",
            signed(change(e2, members=sort(X.member("customer"), agent)), A),
            1,
        ),
        (
            "epoch 2 whose customer is listed as an agent",
            signed(change(e2, members=sort(C.member("agent"), agent)), A),
            1,
        ),
        (
            "epoch 1 with a member whose signing key is of small order",
            signed(change(e1, members=sort(customer, small_order_member())), C),
            0,
        ),
        (
            "epoch 1 signed R = identity, S = 0",
            change(e1, sig=UNIVERSAL_SIG),
            0,
        ),
        ("epoch 2 after epoch 0", e2, 0),
        (
            "epoch 0 made by a device that is not the conversation's customer",
            signed(change(alone, creator=X.device_id, members=(X.member("customer"),)), X),
            None,
        ),
        ("epoch 0 with a second member", signed(change(alone, members=e1.members), C), None),
        (
            "epoch 0 whose only member is not a customer",
            signed(change(alone, members=(C.member("agent"),)), C),
            None,
        ),
        ("epoch 0 naming a prev", signed(change(alone, prev=e0.hash()), C), None),
        (
            "epoch 0 of another conversation",
            signed(change(alone, conversation=OTHER_CONVERSATION), C),
            None,
        ),
        ("epoch 1 again, as epoch 0", e1, None),
        ("a record whose signature is not base64", {**e1.to_json(), "sig": "not base64"}, 0),
        ("a record with an extra field", {**e1.to_json(), "key": b64(KEYS[1])}, 0),
    ]
    return [
        {
            "name": name,
            "record": record.to_json() if isinstance(record, p.EpochRecord) else record,
            "previous": previous,
            "code": "bad_epoch",
        }
        for name, record, previous in cases
    ]


def sort(*members: p.Member) -> tuple[p.Member, ...]:
    """Return MEMBERS in device id order, as a record lists them."""
    return tuple(sorted(members, key=lambda member: member.device_id))


def small_order_member() -> p.Member:
    """Return an agent whose signing key is the identity point, its id that of its keys."""
    return p.Member(p.device_id(IDENTITY, X.box_public), "agent", IDENTITY, X.box_public)


def swap(record: p.EpochRecord, old: p.Member, new: p.Member) -> p.EpochRecord:
    """Return RECORD with member OLD replaced by NEW, in OLD's place, not signed again."""
    return change(record, members=tuple(new if m == old else m for m in record.members))


def epochs() -> dict[str, Any]:
    """Return the epoch chain with texts, hashes and keys, and records that must be refused."""
    chain = epoch_chain()
    return {
        "customer": C.device_id,
        "valid": [
            {
                "record": record.to_json(),
                "text": record.text().decode(),
                "hash": record.hash(),
                "key": b64(KEYS[record.epoch]),
            }
            for record in chain
        ],
        "refused": bad_epochs(*chain),
        # What people compare: the same for every member, from the latest epoch's devices.
        "safety_numbers": [p.safety_number(record.members) for record in chain],
    }


def wrap(wrapper: p.DeviceKeys, recipient: p.DeviceKeys, epoch: int, /, **changes: Any) -> p.Wrap:
    """Return a wrap with a nonce fixed by its parties and epoch, then CHANGES applied."""
    label = f"wrap {wrapper.device_id} {recipient.device_id} {epoch} {sorted(changes)}"
    conversation = changes.pop("made_for", CONVERSATION)
    made = p.wrap_key(
        wrapper,
        recipient.member("agent"),
        TENANT,
        conversation,
        epoch,
        KEYS[epoch],
        nonce=fixed(label, 24),
    )
    return change(made, **changes)


def wraps() -> dict[str, Any]:
    """Return the wraps each member opens, and wraps the supervisor refuses as bad_wrap."""
    valid = [
        ("the customer's own wrap of epoch 0", C, C, 0),
        ("the customer's own wrap of epoch 1", C, C, 1),
        ("the agent's wrap of epoch 1", C, A, 1),
        ("a history share of epoch 0 for the agent", C, A, 0),
        ("the customer's wrap of epoch 2", A, C, 2),
        ("the agent's own wrap of epoch 2", A, A, 2),
        ("the supervisor's wrap of epoch 2", A, S, 2),
        ("a history share of epoch 1 for the supervisor", A, S, 1),
        ("a history share of epoch 0 by a member of the latest epoch only", A, S, 0),
    ]
    short = nacl.secret.SecretBox(nacl.bindings.crypto_box_beforenm(S.box_public, A.box_secret))
    wrap_text = f"sealdesk-wrap-v1\n{TENANT}\n{CONVERSATION}\n1\n{S.device_id}\n".encode()
    nonce = fixed("short key", 24)
    altered = wrap(A, S, 1)
    refused: list[tuple[str, Any]] = [
        ("moved to another epoch", wrap(A, S, 1, epoch=2)),
        ("made for another conversation", wrap(A, S, 1, made_for=OTHER_CONVERSATION)),
        ("made for another device, relabelled", wrap(A, X, 1, recipient=S.device_id)),
        ("addressed to another device", wrap(A, X, 1)),
        ("naming another wrapper", wrap(A, S, 1, wrapper=C.device_id)),
        ("made by a device that is not a member", wrap(X, S, 1)),
        ("for an epoch not accepted", wrap(A, S, 3)),
        ("with its ciphertext altered", change(altered, ct=flip(altered.ct))),
        (
            "carrying a 31-byte key",
            p.Wrap(
                1,
                S.device_id,
                A.device_id,
                nonce,
                short.encrypt(wrap_text + KEYS[1][:31], nonce).ciphertext,
            ),
        ),
        ("with a 23-byte nonce", {**altered.to_json(), "nonce": b64(altered.nonce[:23])}),
    ]
    return {
        "valid": [
            {
                "name": name,
                "wrapper": name_of(wrapper),
                "recipient": name_of(recipient),
                "wrap": wrap(wrapper, recipient, epoch).to_json(),
                "key": b64(KEYS[epoch]),
            }
            for name, wrapper, recipient, epoch in valid
        ],
        "refused": [
            {
                "name": name,
                "recipient": "supervisor",
                "wrap": made.to_json() if isinstance(made, p.Wrap) else made,
                "code": "bad_wrap",
            }
            for name, made in refused
        ],
    }


def name_of(keys: p.DeviceKeys) -> str:
    """Return the vectors' name of a device."""
    return next(name for name, device in DEVICES.items() if device == keys)


def flip(data: bytes) -> bytes:
    """Return DATA with one bit of its 21st byte flipped."""
    return data[:20] + bytes([data[20] ^ 1]) + data[21:]


def text(body: str) -> dict[str, str]:
    """Return a text plaintext."""
    return {"type": "text", "body": body, "sent_at": SENT_AT}


CHAIN = epoch_chain()
# Epoch 3, made by the agent when the supervisor left: accepted only in the "removed" vectors.
E3 = p.make_epoch(A, TENANT, CONVERSATION, CHAIN[2], [C.member("customer"), staff(A)], MADE[3])


def record_of(epoch: int) -> p.EpochRecord:
    """Return the vectors' record of EPOCH."""
    return [*CHAIN, E3][epoch]


def envelope(
    sender: p.DeviceKeys,
    epoch: int,
    seq: int,
    plaintext: dict[str, Any],
    after: str,
    key: bytes | None = None,
    conversation: str = CONVERSATION,
) -> p.Envelope:
    """Return a message with a nonce fixed by its sender and seq."""
    nonce = fixed(f"message {sender.device_id} {epoch} {seq} {conversation}", 24)
    key = KEYS[epoch] if key is None else key
    return p.encrypt_message(
        sender,
        TENANT,
        conversation,
        record_of(epoch),
        key,
        seq,
        plaintext,
        after=after,
        nonce=nonce,
    )


def signed_text(message: p.Envelope) -> bytes:
    """Return the text a receiver of this conversation checks MESSAGE's signature against."""
    fields = (message.sender, message.seq, message.after, message.nonce, message.ct)
    return p.message_text(TENANT, CONVERSATION, record_of(message.epoch), *fields)


def sealed(sender: p.DeviceKeys, epoch: int, seq: int, padded: bytes, after: str) -> p.Envelope:
    """Return a validly signed message whose box holds PADDED, whatever it is."""
    nonce = fixed(f"sealed {padded.hex()}", 24)
    ct = nacl.secret.SecretBox(KEYS[epoch]).encrypt(padded, nonce).ciphertext
    return sign(sender, p.Envelope(epoch, sender.device_id, seq, after, nonce, ct, b""))


def sign(signer: p.DeviceKeys, message: p.Envelope) -> p.Envelope:
    """Return MESSAGE signed by SIGNER whatever it names."""
    sig = nacl.signing.SigningKey(signer.sign_seed).sign(signed_text(message)).signature
    return change(message, sig=sig)


def non_canonical(value: str) -> str:
    """Return another base64 spelling of the same bytes (VALUE must end with '=' or '==')."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    at = len(value.rstrip("=")) - 1
    return value[:at] + alphabet[alphabet.index(value[at]) | 1] + value[at + 1 :]


def shown(
    transcript: p.Transcript, name: str, sender: p.DeviceKeys, message: p.Envelope, plaintext: Any
) -> dict[str, Any]:
    """Return an accepted message's vector, adding it to TRANSCRIPT as a receiver does."""
    text = signed_text(message)
    return {
        "name": name,
        "sender": name_of(sender),
        "key": b64(KEYS[message.epoch]),
        "plaintext": plaintext,
        "text": text.decode(),
        "envelope": message.to_json(),
        "head": transcript.add("message", hashlib.sha512(text).hexdigest()),
    }


def messages() -> dict[str, Any]:
    """Return what the supervisor accepts in order (epochs 0 to 2 first, so every message was
    written concurrently with the epochs after its own), then what it refuses, then one more,
    then what epoch 3, which leaves the supervisor out, changes."""
    transcript = p.Transcript(TENANT, CONVERSATION)
    start = transcript.head
    heads = [transcript.add("epoch", record.hash()) for record in CHAIN]
    prechat = {
        "type": "prechat",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "question": "Where is my order?",
        "sent_at": SENT_AT,
    }
    receipt = {"type": "receipt", "state": "read", "sent_at": SENT_AT}
    # Each message names the transcript its sender had: an epoch's head, or everything so far.
    accepted: list[tuple[str, p.DeviceKeys, int, int, dict[str, Any], str | None]] = [
        ("the customer's pre-chat form, in epoch 0", C, 0, 1, prechat, heads[0]),
        ("the customer's text in epoch 1", C, 1, 2, text("Order 1234, please."), heads[1]),
        (
            "the agent's first text, written before the customer's arrived",
            A,
            1,
            1,
            text("Hi Ada, I am looking into it."),
            heads[1],
        ),
        ("the agent's text in epoch 2", A, 2, 2, text("My supervisor joins us."), None),
        ("the supervisor's own text", S, 2, 1, text("Grüße aus Zürich 👋\nLine two."), None),
        (
            "a body of exactly 8,000 characters, 8,001 UTF-16 units",
            C,
            2,
            3,
            text("😀" + "x" * 7999),
            None,
        ),
        ("the supervisor's file", S, 2, 2, FILES[4]["plaintext"], None),
        ("the agent's read receipt", A, 2, 3, receipt, None),
    ]
    made = []
    for name, sender, epoch, seq, plaintext, after in accepted:
        message = envelope(sender, epoch, seq, plaintext, after or transcript.head)
        made.append((message, shown(transcript, name, sender, message, plaintext)))
    now = transcript.head
    c4 = envelope(C, 2, 4, text("Thank you!"), now)

    def padded(data: bytes) -> p.Envelope:
        return sealed(C, 2, 4, p.pad(data), now)

    def plain(value: object) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    sig_plus_l = c4.sig[:32] + (int.from_bytes(c4.sig[32:], "little") + L).to_bytes(32, "little")
    injected = plain(text("Thank you!"))
    refused: list[tuple[str, Any, str]] = [
        (
            "moved from another conversation",
            envelope(A, 2, 4, text("Hi"), now, KEYS[3], OTHER_CONVERSATION),
            "bad_signature",
        ),
        ("moved to another epoch", change(c4, epoch=1), "bad_signature"),
        ("moved to another position", change(c4, seq=5), "bad_signature"),
        ("moved after another transcript", change(c4, after=heads[2]), "bad_signature"),
        ("relabelled as another member's", change(c4, sender=A.device_id), "bad_signature"),
        ("replayed", made[4][0], "replayed"),
        ("replayed from epoch 0", made[0][0], "replayed"),
        ("with its ciphertext altered", change(c4, ct=flip(c4.ct)), "bad_signature"),
        (
            "altered and re-signed by a non-member",
            sign(X, change(c4, sender=X.device_id, ct=flip(c4.ct))),
            "not_a_member",
        ),
        ("re-signed by a non-member in a member's name", sign(X, c4), "bad_signature"),
        (
            "with its signature's S raised by the group order",
            change(c4, sig=sig_plus_l),
            "bad_signature",
        ),
        ("signed R = identity, S = 0", change(c4, sig=UNIVERSAL_SIG), "bad_signature"),
        ("after a skipped seq", envelope(C, 2, 5, text("Hello?"), now), "out_of_order"),
        ("in an epoch not accepted", envelope(C, 3, 4, text("Hello?"), now), "unknown_epoch"),
        (
            "naming a transcript the receiver never had",
            envelope(C, 2, 4, text("Hello?"), fixed("another transcript", 64).hex()),
            "bad_transcript",
        ),
        (
            "naming a transcript older than its sender's previous message named",
            envelope(S, 2, 3, text("Late"), heads[2]),
            "bad_transcript",
        ),
        (
            "naming a transcript without its own epoch record",
            envelope(C, 2, 4, text("Hello?"), heads[1]),
            "bad_transcript",
        ),
        (
            "in an older epoch than the transcript its sender had",
            envelope(C, 1, 4, text("Hello?"), now),
            "stale_epoch",
        ),
        ("with plaintext in place of the ciphertext", change(c4, ct=injected), "bad_signature"),
        (
            "with a plaintext object in place of the ciphertext",
            {**c4.to_json(), "ct": text("Thank you!")},
            "malformed",
        ),
        (
            "with plaintext its sender signed in place of a ciphertext",
            sign(C, change(c4, ct=injected)),
            "undecryptable",
        ),
        (
            "sealed under another epoch's key",
            envelope(C, 2, 4, text("Thank you!"), now, KEYS[1]),
            "undecryptable",
        ),
        (
            "with padding that lacks its 0x80 byte",
            sealed(C, 2, 4, injected + bytes(256 - len(injected)), now),
            "malformed",
        ),
        (
            "with more than a block of padding",
            sealed(C, 2, 4, p.pad(injected) + bytes(256), now),
            "malformed",
        ),
        (
            "with a plaintext that is not UTF-8",
            padded(injected.replace(b"Thank", b"Th\xffnk")),
            "malformed",
        ),
        (
            "with a plaintext after a byte order mark",
            padded(b"\xef\xbb\xbf" + injected),
            "malformed",
        ),
        ("with a plaintext that is not JSON", padded(b"Thank you!"), "malformed"),
        (
            "with a plaintext that is a JSON array",
            padded(plain(["text", "Thank you!"])),
            "malformed",
        ),
        ("with a plaintext nested 2,000 deep", padded(b"[" * 2000 + b"]" * 2000), "malformed"),
        (
            "with a plaintext of unknown type",
            padded(plain({"type": "image", "name": "x.png", "sent_at": SENT_AT})),
            "malformed",
        ),
        (
            "with a file plaintext without the file's fields",
            padded(plain({"type": "file", "name": "x.pdf", "sent_at": SENT_AT})),
            "malformed",
        ),
        *(
            (f"with a file plaintext {name}", padded(plain(plaintext)), "malformed")
            for name, plaintext in malformed_files()
        ),
        (
            "with a receipt of an unknown state",
            padded(plain({**receipt, "state": "seen"})),
            "malformed",
        ),
        (
            "with a close that says more",
            padded(plain({"type": "close", "sent_at": SENT_AT, "by": "the agent"})),
            "malformed",
        ),
        (
            "with a leave that names a successor",
            padded(plain({"type": "leave", "sent_at": SENT_AT, "to": "Bob"})),
            "malformed",
        ),
        (
            "with a text without sent_at",
            padded(plain({"type": "text", "body": "Thank you!"})),
            "malformed",
        ),
        (
            "with a text with an extra field",
            padded(plain({**text("Thanks"), "html": "<b>Thanks</b>"})),
            "malformed",
        ),
        ("with a body that is not a string", padded(plain({**text(""), "body": 42})), "malformed"),
        ("with a body of 8,001 characters", padded(plain(text("x" * 8001))), "malformed"),
        (
            "with a plaintext over 16,384 bytes",
            padded(plain({**prechat, "question": "?" * 16_300})),
            "malformed",
        ),
        ("with seq as a string", {**c4.to_json(), "seq": "4"}, "malformed"),
        ("with seq 0", {**c4.to_json(), "seq": 0}, "malformed"),
        ("with epoch true", {**c4.to_json(), "epoch": True}, "malformed"),
        ("with seq beyond 2**53 - 1", {**c4.to_json(), "seq": 2**53}, "malformed"),
        ("with a 23-byte nonce", {**c4.to_json(), "nonce": b64(c4.nonce[:23])}, "malformed"),
        ("with an upper-case transcript hash", {**c4.to_json(), "after": now.upper()}, "malformed"),
        (
            "without a transcript hash",
            {k: v for k, v in c4.to_json().items() if k != "after"},
            "malformed",
        ),
        (
            "with a signature in non-canonical base64",
            {**c4.to_json(), "sig": non_canonical(b64(c4.sig))},
            "malformed",
        ),
        (
            "with a signature in base64 without padding",
            {**c4.to_json(), "sig": b64(c4.sig).rstrip("=")},
            "malformed",
        ),
        ("with an upper-case sender", {**c4.to_json(), "sender": C.device_id.upper()}, "malformed"),
        ("with an extra field", {**c4.to_json(), "name": "Ada"}, "malformed"),
        ("that is not an object", [c4.to_json()], "malformed"),
    ]
    then = [shown(transcript, "the customer's next text", C, c4, text("Thank you!"))]
    close = {"type": "close", "sent_at": SENT_AT}
    c5 = envelope(C, 2, 5, close, transcript.head)
    then.append(shown(transcript, "the customer's close", C, c5, close))
    # The supervisor leaves, signed; epoch 3 then leaves it out.
    leave = {"type": "leave", "sent_at": SENT_AT}
    s3 = envelope(S, 2, 3, leave, transcript.head)
    then.append(shown(transcript, "the supervisor's leave", S, s3, leave))
    before_e3 = transcript.head
    removed_head = transcript.add("epoch", E3.hash())
    late = text("One more thing.")
    a4 = envelope(A, 2, 4, late, before_e3)
    return {
        "receiver": "supervisor",
        "start": start,
        "epoch_heads": heads,
        "accepted": [vector for _, vector in made],
        "refused": [
            {
                "name": name,
                "envelope": made.to_json() if isinstance(made, p.Envelope) else made,
                "code": code,
                # Signed by a member, well formed, in order: it takes its place in the
                # transcript and its sender's numbering though no member can read it.
                "witnessed": isinstance(made, p.Envelope)
                and code in ("undecryptable", "malformed"),
            }
            for name, made, code in refused
        ],
        "then_accepted": then,
        "removed": {
            "record": E3.to_json(),
            "head": removed_head,
            "refused": [
                {
                    "name": "the supervisor's message in epoch 2, sent before it saw epoch 3",
                    "envelope": envelope(S, 2, 4, text("I am still here"), before_e3).to_json(),
                    "code": "not_a_member",
                }
            ],
            "accepted": [
                shown(
                    transcript,
                    "the agent's message in epoch 2, sent before it saw epoch 3",
                    A,
                    a4,
                    late,
                )
            ],
        },
    }


def file_data(label: str, size: int) -> bytes:
    """Return SIZE bytes that depend on LABEL only."""
    return b"".join(fixed(f"{label} {i}", 64) for i in range(size // 64 + 1))[:size]


def sealed_file(
    label: str,
    size: int,
    chunk_size: int = CHUNK,
    name: str = "notes.txt",
    mime: str = "text/plain",
    key: bytes | None = None,
    prefix: bytes | None = None,
) -> dict[str, Any]:
    """Return a file of SIZE bytes, its parts and its announcement, with keys fixed by LABEL."""
    data = file_data(label, size)
    key = fixed(f"file key {label}", 32) if key is None else key
    prefix = fixed(f"file prefix {label}", 16) if prefix is None else prefix
    encryptor = p.FileEncryptor(size, chunk_size, key, prefix)
    chunks = [data[i * chunk_size : (i + 1) * chunk_size] for i in range(encryptor.chunks)]
    parts = [encryptor.encrypt(i, chunk) for i, chunk in enumerate(chunks)]
    file_id = str(uuid.UUID(bytes=fixed(f"file id {label}", 16)))
    last = encryptor.chunks - 1
    return {
        "name": label,
        "data": b64(data),
        "chunk_size": chunk_size,
        "key": b64(key),
        "prefix": b64(prefix),
        "nonces": [b64(p.file_nonce(prefix, i, i == last)) for i in range(encryptor.chunks)],
        "parts": [b64(part) for part in parts],
        "hash": encryptor.hash(),
        "plaintext": {**encryptor.announcement(file_id, name, mime), "sent_at": SENT_AT},
    }


FILES = [
    sealed_file("an empty file, one empty chunk", 0),
    sealed_file("a file of one byte", 1),
    sealed_file("a file of exactly one chunk", CHUNK),
    sealed_file("a file of one chunk and one byte", CHUNK + 1),
    sealed_file("a file of several chunks, the last one short", 200, name="report.pdf"),
    sealed_file("a file of three full chunks", 3 * CHUNK),
    sealed_file("a file of one-byte chunks", 9, chunk_size=1),
    sealed_file(
        "a name and a type of 255 code points each, beyond ASCII",
        3,
        name="📄" * 251 + ".pdf",
        mime="text/" + "ü" * 250,
    ),
    sealed_file("an empty name and type", 5, name="", mime=""),
]


def malformed_files() -> list[tuple[str, dict[str, Any]]]:
    """Return `file` plaintexts a receiver refuses as malformed, each named."""
    good = FILES[4]["plaintext"]
    empty = FILES[0]["plaintext"]
    key = FILES[4]["key"]
    return [
        ("whose chunks do not follow from size", {**good, "chunks": "5"}),
        ("of an empty file in no chunks", {**empty, "chunks": "0"}),
        ("with a leading zero in size", {**good, "size": "0200"}),
        ("with a leading zero in chunks", {**good, "chunks": "04"}),
        ("with a plus sign in size", {**good, "size": "+200"}),
        ("with size in non-ASCII digits", {**good, "size": "２００"}),
        ("with size as a JSON number", {**good, "size": 200}),
        ("with a size of 5,000 digits", {**good, "size": "9" * 5000}),
        (
            "with a size beyond 2**53 - 1",
            {**good, "size": str(2**53), "chunk_size": "4194304", "chunks": str(2**31)},
        ),
        ("with chunk_size 0", {**good, "chunk_size": "0", "chunks": "1"}),
        ("with chunk_size over 4,194,304", {**good, "chunk_size": "4194305", "chunks": "1"}),
        (
            "with more than 2**32 chunks",
            {**good, "size": str(2**32 + 1), "chunk_size": "1", "chunks": str(2**32 + 1)},
        ),
        ("whose file id is a path", {**good, "file": "../../dashboard/devices?x="}),
        ("whose file id is in upper case", {**good, "file": good["file"].upper()}),
        ("with a 31-byte key", {**good, "key": b64(base64.b64decode(key)[:31])}),
        ("with a key in non-canonical base64", {**good, "key": non_canonical(key)}),
        ("with a 15-byte prefix", {**good, "prefix": b64(fixed("prefix", 15))}),
        ("with a hash in upper case", {**good, "hash": good["hash"].upper()}),
        ("with a hash of 127 digits", {**good, "hash": good["hash"][:127]}),
        ("with a name of 256 code points", {**good, "name": "📄" * 252 + ".pdf"}),
        ("with a type of 256 code points", {**good, "mime": "x" * 256}),
        ("without a prefix", {k: v for k, v in good.items() if k != "prefix"}),
        ("with an extra field", {**good, "url": "https://example.com/x.pdf"}),
    ]


def files() -> dict[str, Any]:
    """Return files in parts, parts a receiver refuses as bad_file, and refused plaintexts."""
    several, full = FILES[4], FILES[5]
    parts = [base64.b64decode(part) for part in several["parts"]]
    key, prefix = base64.b64decode(several["key"]), base64.b64decode(several["prefix"])
    other_key = sealed_file(several["name"], 200, key=fixed("other file key", 32))
    other_prefix = sealed_file(several["name"], 200, prefix=fixed("other file prefix", 16))
    # The first three chunks of a longer file with the same content, key and prefix: the third
    # part was sealed as not the last, so the cut shows before the hash is checked.
    longer = sealed_file(
        full["name"],
        4 * CHUNK,
        key=base64.b64decode(full["key"]),
        prefix=base64.b64decode(full["prefix"]),
    )
    assert base64.b64decode(longer["data"])[: 3 * CHUNK] == base64.b64decode(full["data"])
    p0, p1, p2, p3 = parts
    refused: list[tuple[str, dict[str, Any], list[bytes], int | None]] = [
        ("a part altered", several, [p0, flip(p1), p2, p3], 1),
        ("two parts swapped", several, [p0, p2, p1, p3], 1),
        ("the short last part swapped with another", several, [p0, p1, p3, p2], 2),
        ("a part duplicated", several, [p0, p0, p1, p2, p3], 1),
        ("a part a byte short", several, [p0, p1[:-1], p2, p3], 1),
        ("a part a byte long", several, [p0, p1 + b"\x00", p2, p3], 1),
        ("the last part dropped", several, [p0, p1, p2], None),
        ("every part but the first dropped", several, [p0], None),
        ("every part of an empty file withheld", FILES[0], [], None),
        ("a part after the last", several, [p0, p1, p2, p3, p3], 4),
        (
            "a part of another file, under another key",
            several,
            [p0, base64.b64decode(other_key["parts"][1]), p2, p3],
            1,
        ),
        (
            "a part of another file, with another prefix",
            several,
            [p0, base64.b64decode(other_prefix["parts"][1]), p2, p3],
            1,
        ),
        (
            "the first parts of a longer file, cut at a chunk boundary",
            full,
            [base64.b64decode(part) for part in longer["parts"][:3]],
            2,
        ),
        (
            "a last part sealed as not the last",
            several,
            [
                p0,
                p1,
                p2,
                nacl.bindings.crypto_secretbox_easy(
                    base64.b64decode(several["data"])[3 * CHUNK :],
                    p.file_nonce(prefix, 3, False),
                    key,
                ),
            ],
            3,
        ),
        (
            "the right parts under a wrong hash",
            {
                **several,
                "plaintext": {**several["plaintext"], "hash": hashlib.sha512().hexdigest()},
            },
            parts,
            None,
        ),
    ]
    announced = [
        (
            "the most chunks: 2**32 of one byte each",
            {**several["plaintext"], "size": str(2**32), "chunk_size": "1", "chunks": str(2**32)},
        ),
        (
            "the largest size, in the largest chunks",
            {
                **several["plaintext"],
                "size": str(2**53 - 1),
                "chunk_size": "4194304",
                "chunks": str(2**31),
            },
        ),
    ]
    return {
        "valid": FILES,
        "announced": [{"name": name, "plaintext": plaintext} for name, plaintext in announced],
        "refused": [
            {
                "name": name,
                "plaintext": file["plaintext"],
                "parts": [b64(part) for part in sent],
                "refused_at": at,
                "code": "bad_file",
            }
            for name, file, sent, at in refused
        ],
        "malformed": [
            {"name": name, "plaintext": plaintext, "code": "malformed"}
            for name, plaintext in malformed_files()
        ],
    }


def org(key: p.OrgKey) -> dict[str, str]:
    """Return an organisation key's seed, public key, id and fingerprint."""
    return {
        "seed": b64(key.seed),
        "public": b64(key.public_key),
        "id": key.id,
        "fingerprint": p.fingerprint(key.id),
    }


def certificates() -> dict[str, Any]:
    """Return certificates as made, the trust a receiver builds from the pinned key, rotations
    and revocations, and which members it accepts in an epoch made when."""
    alice, sam = staff(A).cert, staff(S).cert
    assert alice is not None and sam is not None
    rotation = p.rotate_org_key(ORG, TENANT, ORG_NEXT.public_key, ISSUED + 60)
    forged_rotation = p.rotate_org_key(OTHER_ORG, TENANT, OTHER_ORG.public_key, ISSUED)
    revocation = p.revoke_device(ORG, TENANT, X.device_id, MADE[2])
    foreign_revocation = p.revoke_device(OTHER_ORG, TENANT, A.device_id, ISSUED)
    outsider = X.member("agent", certificate(X, "agent", "Xavier", 9))
    checks: list[tuple[str, p.Member, int, str | None]] = [
        ("a certified agent", staff(A), MADE[1], None),
        ("a certified supervisor", staff(S), MADE[2], None),
        ("the customer, who has no certificate", C.member("customer"), MADE[0], None),
        ("an agent without a certificate", A.member("agent"), MADE[1], "uncertified"),
        (
            "an agent certified by another organisation",
            A.member("agent", certificate(A, "agent", "Alice", 2, OTHER_ORG)),
            MADE[1],
            "uncertified",
        ),
        (
            "an agent certified for another tenant",
            A.member("agent", certificate(A, "agent", "Alice", 2, tenant="globex")),
            MADE[1],
            "uncertified",
        ),
        (
            "an agent whose name was changed after signing",
            A.member("agent", change(alice, name="Mallory")),
            MADE[1],
            "uncertified",
        ),
        (
            "an agent whose certificate had expired",
            A.member("agent", certificate(A, "agent", "Alice", 2, expires=MADE[1])),
            MADE[1],
            "uncertified",
        ),
        (
            "an agent whose certificate is issued after the epoch, beyond 300 s of clock skew",
            A.member("agent", certificate(A, "agent", "Alice", 2, issued=MADE[1] + 301)),
            MADE[1],
            "uncertified",
        ),
        (
            "an agent whose certificate is issued within 300 s after the epoch",
            A.member("agent", certificate(A, "agent", "Alice", 2, issued=MADE[1] + 300)),
            MADE[1],
            None,
        ),
        (
            "an agent certified by the key the pinned one rotated to",
            A.member("agent", certificate(A, "agent", "Alice", 2, ORG_NEXT)),
            MADE[1],
            None,
        ),
        ("a device revoked before the epoch", outsider, MADE[3], "revoked"),
        ("a device revoked at the epoch", outsider, MADE[2], "revoked"),
        ("a device revoked after the epoch", outsider, MADE[1], None),
        ("a device another organisation's key says is revoked", staff(A), MADE[3], None),
    ]
    malformed: list[tuple[str, dict[str, Any]]] = [
        ("a name of 101 characters", {**alice.to_json(), "name": "x" * 101}),
        ("an empty name", {**alice.to_json(), "name": ""}),
        ("the customer's role", {**alice.to_json(), "role": "customer"}),
        ("an unknown role", {**alice.to_json(), "role": "admin"}),
        ("person 0", {**alice.to_json(), "person": "0"}),
        ("a person that is a number", {**alice.to_json(), "person": 2}),
        ("a 31-byte organisation key", {**alice.to_json(), "org_key": b64(bytes(31))}),
        ("an extra field", {**alice.to_json(), "email": "alice@example.com"}),
    ]
    return {
        "org": org(ORG),
        "next": org(ORG_NEXT),
        "other": org(OTHER_ORG),
        "made": [
            {"cert": cert.to_json(), "text": cert.text().decode(), "hash": cert.hash()}
            for cert in (alice, sam)
        ],
        "rotations": [rotation.to_json(), forged_rotation.to_json()],
        "rotation_text": rotation.text().decode(),
        "revocations": [revocation.to_json(), foreign_revocation.to_json()],
        "revocation_text": revocation.text().decode(),
        "trusted": [b64(ORG.public_key), b64(ORG_NEXT.public_key)],
        "revoked": {X.device_id: MADE[2]},
        "checks": [
            {"name": name, "member": member.to_json(), "made": made, "code": code}
            for name, member, made, code in checks
        ],
        "malformed": [
            {"name": name, "cert": cert, "code": "uncertified"} for name, cert in malformed
        ],
    }


def staff_wrap(
    wrapper: p.DeviceKeys, recipient: p.DeviceKeys, epoch: int, /, **changes: Any
) -> p.Wrap:
    """Return a staff key's wrap with a nonce fixed by its parties and epoch, then CHANGES."""
    label = f"staff wrap {wrapper.device_id} {recipient.device_id} {epoch} {sorted(changes)}"
    made = p.wrap_key(
        wrapper,
        recipient.member("agent"),
        TENANT,
        CONVERSATION,
        epoch,
        STAFF_KEYS[epoch],
        nonce=fixed(label, 24),
        staff=True,
    )
    return change(made, **changes)


def staff_envelope(
    sender: p.DeviceKeys, seq: int, plaintext: dict[str, Any], after: str, **how: Any
) -> p.Envelope:
    """Return a message of epoch 2 sealed under its staff key (or KEY) unless STAFF is False."""
    nonce = fixed(f"staff message {sender.device_id} {seq} {sorted(how)}", 24)
    return p.encrypt_message(
        sender,
        TENANT,
        CONVERSATION,
        CHAIN[2],
        how.get("key", STAFF_KEYS[2]),
        seq,
        plaintext,
        after=after,
        nonce=nonce,
        staff=how.get("staff", True),
    )


def staff_only() -> dict[str, Any]:
    """Return staff keys' wraps and staff-only messages of epoch 2 (docs/PROTOCOL.md, "Staff-only
    messages"): what the supervisor accepts, what it refuses, and what the customer's device
    witnesses without opening."""
    valid = [
        ("the supervisor's staff key of epoch 2", A, S, 2),
        ("the agent's own staff key of epoch 2", A, A, 2),
        ("a history share of epoch 1's staff key for the supervisor", A, S, 1),
    ]
    refused: list[tuple[str, str, Any]] = [
        (
            "a staff key's wrap relabelled as an epoch key's",
            "supervisor",
            change(staff_wrap(A, S, 2), staff=False),
        ),
        (
            "an epoch key's wrap relabelled as a staff key's",
            "supervisor",
            change(wrap(A, S, 2), staff=True),
        ),
        ("a staff key wrapped by the customer", "supervisor", staff_wrap(C, S, 2)),
        ("a staff key wrapped for the customer", "customer", staff_wrap(A, C, 2)),
        (
            "a staff key's wrap with another scope",
            "supervisor",
            {**staff_wrap(A, S, 2).to_json(), "scope": "customer"},
        ),
    ]
    transcript = p.Transcript(TENANT, CONVERSATION)
    heads = [transcript.add("epoch", record.hash()) for record in CHAIN]
    note = {"type": "note", "body": "She was double-charged; refund approved.", "sent_at": SENT_AT}
    a1 = staff_envelope(A, 1, note, heads[2])
    accepted = {
        "name": "the agent's note",
        "sender": "agent",
        "key": b64(STAFF_KEYS[2]),
        "plaintext": note,
        "text": signed_staff_text(a1).decode(),
        "envelope": a1.to_json(),
        "head": transcript.add("message", hashlib.sha512(signed_staff_text(a1)).hexdigest()),
    }
    barge = {"type": "barge", "sent_at": SENT_AT}
    s1 = envelope(S, 2, 1, barge, str(accepted["head"]))
    refused_messages: list[tuple[str, Any, str]] = [
        ("the note with its scope dropped", change(a1, staff=False), "bad_signature"),
        (
            "a staff-only message from the customer",
            staff_envelope(C, 1, note, heads[2]),
            "not_staff",
        ),
        (
            "a text sealed under the staff key",
            sealed_staff(A, 1, text("Hello"), heads[2]),
            "malformed",
        ),
        (
            "a note sealed under the epoch key for everyone",
            sealed_staff(A, 1, note, heads[2], staff=False),
            "malformed",
        ),
        (
            "the note sealed under the epoch key",
            sealed_staff(A, 1, note, heads[2], key=KEYS[2]),
            "undecryptable",
        ),
        ("the note with another scope", {**a1.to_json(), "scope": "customer"}, "malformed"),
    ]
    return {
        "keys": {str(n): b64(STAFF_KEYS[n]) for n in (1, 2)},
        "wraps": {
            "valid": [
                {
                    "name": name,
                    "wrapper": name_of(wrapper),
                    "recipient": name_of(recipient),
                    "wrap": staff_wrap(wrapper, recipient, epoch).to_json(),
                    "key": b64(STAFF_KEYS[epoch]),
                }
                for name, wrapper, recipient, epoch in valid
            ],
            "refused": [
                {
                    "name": name,
                    "recipient": recipient,
                    "wrap": made.to_json() if isinstance(made, p.Wrap) else made,
                    "code": "bad_wrap",
                }
                for name, recipient, made in refused
            ],
        },
        "messages": {
            "receiver": "supervisor",
            "accepted": [accepted],
            "refused": [
                {
                    "name": name,
                    "envelope": made.to_json() if isinstance(made, p.Envelope) else made,
                    "code": code,
                    "witnessed": isinstance(made, p.Envelope)
                    and code in ("undecryptable", "malformed"),
                }
                for name, made, code in refused_messages
            ],
            # The customer's device witnesses the note (its place in every member's
            # transcript) and refuses to open it: it holds no staff key, and shows nothing.
            "customer": {"receiver": "customer", "head": accepted["head"], "code": "staff_only"},
            # Then the supervisor barges in: a signed message for everyone, after which its
            # messages are shown to the customer (docs/PROTOCOL.md, "Supervisors").
            "barge": shown(transcript, "the supervisor barges in", S, s1, barge),
        },
    }


def signed_staff_text(message: p.Envelope) -> bytes:
    """Return the text a receiver checks a staff-only message's signature against."""
    fields = (message.sender, message.seq, message.after, message.nonce, message.ct)
    return p.message_text(TENANT, CONVERSATION, CHAIN[2], *fields, message.staff)


def sealed_staff(
    sender: p.DeviceKeys,
    seq: int,
    plaintext: dict[str, Any],
    after: str,
    *,
    staff: bool = True,
    key: bytes | None = None,
) -> p.Envelope:
    """Return a validly signed message of epoch 2 whose box holds PLAINTEXT, whatever it is."""
    data = json.dumps(plaintext, ensure_ascii=False, separators=(",", ":")).encode()
    nonce = fixed(f"sealed staff {staff} {data.hex()} {key!r}", 24)
    key = (STAFF_KEYS[2] if staff else KEYS[2]) if key is None else key
    box = nacl.secret.SecretBox(key)
    ct = box.encrypt(p.pad(data), nonce).ciphertext
    unsigned = p.Envelope(2, sender.device_id, seq, after, nonce, ct, b"", staff)
    sig = nacl.signing.SigningKey(sender.sign_seed).sign(signed_staff_text(unsigned)).signature
    return change(unsigned, sig=sig)


def vectors() -> dict[str, Any]:
    """Return every vector."""
    return {
        "protocol": "sealdesk v2 (docs/PROTOCOL.md, Part 1)",
        "tenant": TENANT,
        "conversation": CONVERSATION,
        "devices": devices(),
        "certificates": certificates(),
        "padding": padding(),
        "epochs": epochs(),
        "wraps": wraps(),
        "messages": messages(),
        "staff": staff_only(),
        "files": files(),
    }


def render() -> str:
    """Return the vector file's text."""
    return json.dumps(vectors(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    PATH.write_text(render(), encoding="utf-8")
