"""End-to-end encryption of Sealdesk's chat, protocol v2 (docs/PROTOCOL.md, Part 1).

static/sealdesk/protocol.js implements the same protocol name for name; both are checked against
tests/vectors/protocol-v2.json. Something received that the protocol refuses raises ProtocolError
with the spec's code; a mistake of the caller raises ValueError.
"""

import base64
import binascii
import dataclasses
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, Literal, NoReturn

import nacl.bindings
import nacl.exceptions
import nacl.secret
import nacl.signing
import nacl.utils

Code = Literal[
    "unknown_epoch",
    "not_a_member",
    "bad_signature",
    "replayed",
    "out_of_order",
    "undecryptable",
    "malformed",
    "bad_epoch",
    "bad_wrap",
    "bad_file",
    "bad_transcript",
    "stale_epoch",
    "uncertified",
    "revoked",
    "not_staff",
    "staff_only",
]

BLOCK: Final = 256
MAX_PLAINTEXT: Final = 16_384
MAX_BODY: Final = 8_000
MAX_NAME: Final = 255
MAX_CHUNK: Final = 4_194_304
CHUNK_SIZE: Final = 4_194_304
_MAX_CHUNKS: Final = 2**32
_MAX_INTEGER: Final = 2**53 - 1
ROLES: Final = ("customer", "agent", "supervisor")
FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "prechat": ("name", "email", "question", "sent_at"),
    "text": ("body", "sent_at"),
    "close": ("sent_at",),
    "leave": ("sent_at",),
    "barge": ("sent_at",),
    "note": ("body", "sent_at"),
    "receipt": ("state", "sent_at"),
    # The customer's comment on its rating, once the chat closed (docs/PROTOCOL.md).
    "rating_comment": ("body", "sent_at"),
    "file": (
        "file",
        "name",
        "mime",
        "size",
        "chunk_size",
        "chunks",
        "key",
        "prefix",
        "hash",
        "sent_at",
    ),
}

_TENANT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CONVERSATION = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# An upload's id is a UUID too; it goes into URLs, so nothing else may pass for one.
_FILE_ID = _CONVERSATION
_DEVICE = re.compile(r"[0-9a-f]{32}")
_HASH = re.compile(r"[0-9a-f]{128}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,15}")
RECEIPTS: Final = ("delivered", "read")
# The scope of what only staff devices read: staff keys' wraps and the messages sealed under
# them (docs/PROTOCOL.md, "Staff-only messages"), whose plaintexts are of these types alone.
STAFF: Final = "staff"
STAFF_TYPES: Final = ("note",)


class ProtocolError(Exception):
    """Refuse something received, naming the check of docs/PROTOCOL.md that it failed."""

    def __init__(self, code: Code) -> None:
        super().__init__(code)
        self.code: Code = code


# Encodings (docs/PROTOCOL.md, "Primitives").


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, size: int | None, code: Code) -> bytes:
    # Only the canonical spelling is accepted, so that every implementation reads the same bytes.
    if not isinstance(value, str):
        raise ProtocolError(code)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(code) from None
    if _b64(raw) != value or (size is not None and len(raw) != size):
        raise ProtocolError(code)
    return raw


def _integer(value: object, minimum: int, code: Code) -> int:
    # bool is an int in Python but not in JSON; 2**53 - 1 is the most JavaScript holds exactly.
    if type(value) is not int or not minimum <= value <= _MAX_INTEGER:
        raise ProtocolError(code)
    return value


def _string(value: object, pattern: re.Pattern[str], code: Code) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ProtocolError(code)
    return value


def _fields(data: object, names: tuple[str, ...], code: Code) -> dict[str, Any]:
    if not isinstance(data, dict) or set(data) != set(names):
        raise ProtocolError(code)
    return data


def _check_context(tenant: str, conversation: str) -> None:
    if not _TENANT.fullmatch(tenant) or not _CONVERSATION.fullmatch(conversation):
        raise ValueError("the tenant or conversation id is not one the protocol allows")


# Primitives.


def _sign(keys: "DeviceKeys", text: bytes) -> bytes:
    return nacl.signing.SigningKey(keys.sign_seed).sign(text).signature


# The encodings of the eight points of small order, the sign bit cleared, and of 0 and 1 written
# as p and p + 1 (docs/PROTOCOL.md, "Primitives"); libsodium refuses them too, as a public key or
# as a signature's R.
_SMALL_ORDER: Final = tuple(
    bytes.fromhex(point)
    for point in (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    )
)


def is_small_order(point: bytes) -> bool:
    """Return whether 32 bytes encode an Ed25519 point of small order (whatever their sign bit)."""
    return len(point) == 32 and point[:31] + bytes([point[31] & 0x7F]) in _SMALL_ORDER


def _verify(sign_public: bytes, text: bytes, sig: bytes) -> bool:
    if is_small_order(sign_public) or is_small_order(sig[:32]):
        return False
    try:
        nacl.signing.VerifyKey(sign_public).verify(text, sig)
    except nacl.exceptions.CryptoError:
        return False
    return True


def shared_key(device: "DeviceKeys", their_public: bytes) -> bytes:
    """Return the crypto_box key between DEVICE's box key and THEIR_PUBLIC (crypto_box_beforenm),
    refusing a public key of small order as bad_wrap."""
    return _box_key(device.box_secret, their_public)


def _box_key(box_secret: bytes, box_public: bytes) -> bytes:
    try:
        return nacl.bindings.crypto_box_beforenm(box_public, box_secret)
    except nacl.exceptions.CryptoError:
        # libsodium refuses a public key whose shared secret is all zeros (docs/PROTOCOL.md).
        raise ProtocolError("bad_wrap") from None


# Devices.


def device_id(sign_public: bytes, box_public: bytes) -> str:
    """Return the device id of two public keys (docs/PROTOCOL.md, "Devices")."""
    if len(sign_public) != 32 or len(box_public) != 32:
        raise ValueError("public keys are 32 bytes")
    return hashlib.sha512(b"sealdesk-device-v1" + sign_public + box_public).hexdigest()[:32]


def fingerprint(device_id: str) -> str:
    """Return the device id as people compare it: eight groups of four upper-case hex digits."""
    if not _DEVICE.fullmatch(device_id):
        raise ValueError("a device id is 32 lowercase hex digits")
    return " ".join(device_id[i : i + 4] for i in range(0, 32, 4)).upper()


def safety_number(members: "list[Member] | tuple[Member, ...]") -> str:
    """Return the safety number of MEMBERS: twelve groups of five digits from the hash of their
    sorted device ids (docs/PROTOCOL.md, "Safety numbers")."""
    ids = "\n".join(sorted(member.device_id for member in members))
    digest = hashlib.sha512(f"sealdesk-safety-v1\n{ids}".encode()).digest()
    groups = (int.from_bytes(digest[3 * i : 3 * i + 3], "big") % 100_000 for i in range(12))
    return " ".join(f"{group:05d}" for group in groups)


# Organisation keys and certificates (docs/PROTOCOL.md, "Certified devices").

MAX_DISPLAY_NAME: Final = 100
_PERSON = re.compile(r"[1-9][0-9]{0,15}")
_STAFF_ROLES: Final = ("agent", "supervisor")
# How far a creator's clock may run ahead of a certificate's issue time, in seconds.
_CLOCK_SKEW: Final = 300


def org_key_id(public_key: bytes) -> str:
    """Return the id people compare for an organisation key: 32 hex digits, shown as a
    fingerprint."""
    if len(public_key) != 32:
        raise ValueError("an organisation key is 32 bytes")
    return hashlib.sha512(b"sealdesk-org-v1" + public_key).hexdigest()[:32]


@dataclass(frozen=True)
class OrgKey:
    """An organisation's Ed25519 key, from its seed."""

    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise ValueError("an organisation key's seed is 32 bytes")

    @cached_property
    def public_key(self) -> bytes:
        """Return the public key."""
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    @cached_property
    def id(self) -> str:
        """Return the key's id (org_key_id)."""
        return org_key_id(self.public_key)

    def sign(self, text: bytes) -> bytes:
        """Return the signature of TEXT."""
        return nacl.signing.SigningKey(self.seed).sign(text).signature


def _seconds(value: object, code: Code) -> int:
    return _integer(value, 0, code)


@dataclass(frozen=True)
class Certificate:
    """A device certificate: the organisation key binds a person, their name and role, and one
    device's keys, for a time (docs/PROTOCOL.md, "Certified devices")."""

    tenant: str
    person: str
    name: str
    role: str
    device_id: str
    sign_public: bytes
    box_public: bytes
    issued: int
    expires: int
    org_key: bytes
    sig: bytes

    def text(self) -> bytes:
        """Return the signed text; the name travels in base64, so no name can break a line."""
        lines = [
            "sealdesk-cert-v1",
            self.tenant,
            self.person,
            _b64(self.name.encode()),
            self.role,
            self.device_id,
            _b64(self.sign_public),
            _b64(self.box_public),
            str(self.issued),
            str(self.expires),
            _b64(self.org_key),
        ]
        return "\n".join(lines).encode()

    def hash(self) -> str:
        """Return hex(sha512(text)), which an epoch record's member line names."""
        return hashlib.sha512(self.text()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """Return the certificate as it travels."""
        return {
            "tenant": self.tenant,
            "person": self.person,
            "name": self.name,
            "role": self.role,
            "device_id": self.device_id,
            "sign_public": _b64(self.sign_public),
            "box_public": _b64(self.box_public),
            "issued": self.issued,
            "expires": self.expires,
            "org_key": _b64(self.org_key),
            "sig": _b64(self.sig),
        }

    @classmethod
    def from_json(cls, data: object) -> "Certificate":
        """Parse a certificate as it travels, refusing wrong shapes as uncertified."""
        names = (
            "tenant",
            "person",
            "name",
            "role",
            "device_id",
            "sign_public",
            "box_public",
            "issued",
            "expires",
            "org_key",
            "sig",
        )
        fields = _fields(data, names, "uncertified")
        name, role = fields["name"], fields["role"]
        if not isinstance(name, str) or not 0 < len(name) <= MAX_DISPLAY_NAME:
            raise ProtocolError("uncertified")
        if role not in _STAFF_ROLES:
            raise ProtocolError("uncertified")
        return cls(
            tenant=_string(fields["tenant"], _TENANT, "uncertified"),
            person=_string(fields["person"], _PERSON, "uncertified"),
            name=name,
            role=role,
            device_id=_string(fields["device_id"], _DEVICE, "uncertified"),
            sign_public=_unb64(fields["sign_public"], 32, "uncertified"),
            box_public=_unb64(fields["box_public"], 32, "uncertified"),
            issued=_seconds(fields["issued"], "uncertified"),
            expires=_seconds(fields["expires"], "uncertified"),
            org_key=_unb64(fields["org_key"], 32, "uncertified"),
            sig=_unb64(fields["sig"], 64, "uncertified"),
        )


def certify(
    org: OrgKey,
    *,
    tenant: str,
    person: int | str,
    name: str,
    role: str,
    device: "DeviceKeys | Member",
    issued: int,
    expires: int,
) -> Certificate:
    """Sign a certificate for DEVICE (its public keys and id) with the organisation key ORG."""
    unsigned = Certificate(
        tenant=tenant,
        person=str(person),
        name=name,
        role=role,
        device_id=device.device_id,
        sign_public=device.sign_public,
        box_public=device.box_public,
        issued=issued,
        expires=expires,
        org_key=org.public_key,
        sig=bytes(64),
    )
    try:
        Certificate.from_json(unsigned.to_json())
    except ProtocolError as error:
        raise ValueError("receivers would refuse this certificate") from error
    if expires <= issued:
        raise ValueError("a certificate expires after it is issued")
    return dataclasses.replace(unsigned, sig=org.sign(unsigned.text()))


@dataclass(frozen=True)
class Rotation:
    """A signed statement that the organisation key OLD hands over to NEW."""

    tenant: str
    old: bytes
    new: bytes
    time: int
    sig: bytes

    def text(self) -> bytes:
        """Return the signed text."""
        old, new = _b64(self.old), _b64(self.new)
        return f"sealdesk-org-rotate-v1\n{self.tenant}\n{old}\n{new}\n{self.time}".encode()

    def to_json(self) -> dict[str, Any]:
        """Return the rotation as it travels."""
        return {
            "tenant": self.tenant,
            "old": _b64(self.old),
            "new": _b64(self.new),
            "time": self.time,
            "sig": _b64(self.sig),
        }

    @classmethod
    def from_json(cls, data: object) -> "Rotation":
        """Parse a rotation as it travels, refusing wrong shapes as uncertified."""
        fields = _fields(data, ("tenant", "old", "new", "time", "sig"), "uncertified")
        return cls(
            tenant=_string(fields["tenant"], _TENANT, "uncertified"),
            old=_unb64(fields["old"], 32, "uncertified"),
            new=_unb64(fields["new"], 32, "uncertified"),
            time=_seconds(fields["time"], "uncertified"),
            sig=_unb64(fields["sig"], 64, "uncertified"),
        )


def rotate_org_key(org: OrgKey, tenant: str, replacement: bytes, time: int) -> Rotation:
    """Sign the hand-over from ORG (the current key) to the public key REPLACEMENT."""
    unsigned = Rotation(tenant, org.public_key, replacement, time, bytes(64))
    return dataclasses.replace(unsigned, sig=org.sign(unsigned.text()))


def trusted_org_keys(tenant: str, pinned: bytes, rotations: list[Rotation]) -> list[bytes]:
    """Return the organisation keys trusted from PINNED: it, and each key a trusted key handed
    over to by a signed rotation, in order. A rotation that does not verify is skipped."""
    trusted = [pinned]
    grew = True
    while grew:
        grew = False
        for rotation in rotations:
            if rotation.old not in trusted or rotation.new in trusted or rotation.tenant != tenant:
                continue
            if _verify(rotation.old, rotation.text(), rotation.sig):
                trusted.append(rotation.new)
                grew = True
    return trusted


@dataclass(frozen=True)
class Revocation:
    """A signed statement that a device's certificate no longer holds."""

    tenant: str
    device: str
    time: int
    org_key: bytes
    sig: bytes

    def text(self) -> bytes:
        """Return the signed text."""
        key = _b64(self.org_key)
        return f"sealdesk-revoke-v1\n{self.tenant}\n{self.device}\n{self.time}\n{key}".encode()

    def to_json(self) -> dict[str, Any]:
        """Return the revocation as it travels."""
        return {
            "tenant": self.tenant,
            "device": self.device,
            "time": self.time,
            "org_key": _b64(self.org_key),
            "sig": _b64(self.sig),
        }

    @classmethod
    def from_json(cls, data: object) -> "Revocation":
        """Parse a revocation as it travels, refusing wrong shapes as uncertified."""
        fields = _fields(data, ("tenant", "device", "time", "org_key", "sig"), "uncertified")
        return cls(
            tenant=_string(fields["tenant"], _TENANT, "uncertified"),
            device=_string(fields["device"], _DEVICE, "uncertified"),
            time=_seconds(fields["time"], "uncertified"),
            org_key=_unb64(fields["org_key"], 32, "uncertified"),
            sig=_unb64(fields["sig"], 64, "uncertified"),
        )


def revoke_device(org: OrgKey, tenant: str, device: str, time: int) -> Revocation:
    """Sign the revocation of DEVICE (an id) with ORG."""
    unsigned = Revocation(tenant, device, time, org.public_key, bytes(64))
    return dataclasses.replace(unsigned, sig=org.sign(unsigned.text()))


def revoked_devices(
    tenant: str, trusted: list[bytes], revocations: list[Revocation]
) -> dict[str, int]:
    """Return when each device was revoked by a trusted key of TENANT (Unix seconds)."""
    revoked: dict[str, int] = {}
    for revocation in revocations:
        signed = revocation.org_key in trusted and revocation.tenant == tenant
        if signed and _verify(revocation.org_key, revocation.text(), revocation.sig):
            known = revoked.get(revocation.device, revocation.time)
            revoked[revocation.device] = min(known, revocation.time)
    return revoked


@dataclass(frozen=True)
class Trust:
    """What a device trusts to certify staff devices: the organisation keys it pinned (and
    those they handed over to), and when devices were revoked."""

    tenant: str
    org_keys: tuple[bytes, ...]
    revoked: dict[str, int] = field(default_factory=dict)

    def check(self, member: "Member", made: int) -> None:
        """Refuse MEMBER of an epoch made at MADE unless it is the customer or carries a
        certificate that held then: revoked for a device revoked by then, uncertified for
        anything else."""
        if member.role == "customer":
            return
        if self.revoked.get(member.device_id, made + 1) <= made:
            raise ProtocolError("revoked")
        cert = member.cert
        if cert is None:
            raise ProtocolError("uncertified")
        valid = cert.issued <= made + _CLOCK_SKEW and made < cert.expires
        if cert.org_key not in self.org_keys or cert.tenant != self.tenant or not valid:
            raise ProtocolError("uncertified")
        if not _verify(cert.org_key, cert.text(), cert.sig):
            raise ProtocolError("uncertified")


@dataclass(frozen=True)
class Member:
    """One device of an epoch, with its role, public keys, and (for staff) its certificate."""

    device_id: str
    role: str
    sign_public: bytes
    box_public: bytes
    cert: Certificate | None = None

    def validate(self) -> None:
        """Refuse a member whose role is unknown, whose id is not that of its keys, or whose
        signing key is of small order."""
        if (
            self.role not in ROLES
            or len(self.sign_public) != 32
            or len(self.box_public) != 32
            or is_small_order(self.sign_public)
            or self.device_id != device_id(self.sign_public, self.box_public)
        ):
            raise ProtocolError("bad_epoch")
        # A certificate is of this device, in this role; a customer has none.
        cert = self.cert
        if cert is not None and (
            self.role == "customer"
            or (cert.role, cert.device_id) != (self.role, self.device_id)
            or (cert.sign_public, cert.box_public) != (self.sign_public, self.box_public)
        ):
            raise ProtocolError("bad_epoch")

    def line(self) -> str:
        """Return the member's line of the epoch record's signed text."""
        keys = f"{_b64(self.sign_public)} {_b64(self.box_public)}"
        cert = self.cert.hash() if self.cert is not None else "-"
        return f"member {self.device_id} {self.role} {keys} {cert}"

    def to_json(self) -> dict[str, Any]:
        """Return the member as it travels."""
        return {
            "device_id": self.device_id,
            "role": self.role,
            "sign_public": _b64(self.sign_public),
            "box_public": _b64(self.box_public),
            "cert": self.cert.to_json() if self.cert is not None else None,
        }

    @classmethod
    def from_json(cls, data: object) -> "Member":
        """Parse a member as it travels, refusing wrong shapes as bad_epoch."""
        names = ("device_id", "role", "sign_public", "box_public", "cert")
        fields = _fields(data, names, "bad_epoch")
        role = fields["role"]
        if not isinstance(role, str):
            raise ProtocolError("bad_epoch")
        cert = None
        if fields["cert"] is not None:
            try:
                cert = Certificate.from_json(fields["cert"])
            except ProtocolError:
                raise ProtocolError("bad_epoch") from None
        return cls(
            device_id=_string(fields["device_id"], _DEVICE, "bad_epoch"),
            role=role,
            sign_public=_unb64(fields["sign_public"], 32, "bad_epoch"),
            box_public=_unb64(fields["box_public"], 32, "bad_epoch"),
            cert=cert,
        )


@dataclass(frozen=True)
class DeviceKeys:
    """The secret keys of one device, from which its public keys and id follow."""

    sign_seed: bytes = field(repr=False)
    box_secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.sign_seed) != 32 or len(self.box_secret) != 32:
            raise ValueError("device secrets are 32 bytes each")

    @cached_property
    def sign_public(self) -> bytes:
        """Return the Ed25519 public key."""
        return bytes(nacl.signing.SigningKey(self.sign_seed).verify_key)

    @cached_property
    def box_public(self) -> bytes:
        """Return the X25519 public key."""
        return nacl.bindings.crypto_scalarmult_base(self.box_secret)

    @cached_property
    def device_id(self) -> str:
        """Return the id derived from the public keys."""
        return device_id(self.sign_public, self.box_public)

    def member(self, role: str, cert: Certificate | None = None) -> Member:
        """Return this device as a member of an epoch in ROLE, with its certificate CERT if any."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        return Member(self.device_id, role, self.sign_public, self.box_public, cert)


def generate_device() -> DeviceKeys:
    """Make a fresh device."""
    return DeviceKeys(nacl.utils.random(32), nacl.utils.random(32))


# Epochs.


@dataclass(frozen=True)
class EpochRecord:
    """A signed epoch record (docs/PROTOCOL.md, "Epochs")."""

    tenant: str
    conversation: str
    epoch: int
    prev: str
    creator: str
    made: int
    members: tuple[Member, ...]
    sig: bytes

    def text(self) -> bytes:
        """Return the signed text."""
        lines = [
            "sealdesk-epoch-v2",
            self.tenant,
            self.conversation,
            str(self.epoch),
            self.prev,
            self.creator,
            str(self.made),
            *(member.line() for member in self.members),
        ]
        return "\n".join(lines).encode()

    def hash(self) -> str:
        """Return hex(sha512(text)), which the next epoch names as prev."""
        return hashlib.sha512(self.text()).hexdigest()

    def member(self, device: str) -> Member | None:
        """Return the member with id DEVICE, or None."""
        return next((m for m in self.members if m.device_id == device), None)

    def to_json(self) -> dict[str, Any]:
        """Return the record as it travels."""
        return {
            "tenant": self.tenant,
            "conversation": self.conversation,
            "epoch": self.epoch,
            "prev": self.prev,
            "creator": self.creator,
            "made": self.made,
            "members": [member.to_json() for member in self.members],
            "sig": _b64(self.sig),
        }

    @classmethod
    def from_json(cls, data: object) -> "EpochRecord":
        """Parse a record as it travels, refusing wrong shapes as bad_epoch."""
        names = ("tenant", "conversation", "epoch", "prev", "creator", "made", "members", "sig")
        fields = _fields(data, names, "bad_epoch")
        members = fields["members"]
        prev = fields["prev"]
        if not isinstance(members, list):
            raise ProtocolError("bad_epoch")
        if prev != "-":
            _string(prev, _HASH, "bad_epoch")
        return cls(
            tenant=_string(fields["tenant"], _TENANT, "bad_epoch"),
            conversation=_string(fields["conversation"], _CONVERSATION, "bad_epoch"),
            epoch=_integer(fields["epoch"], 0, "bad_epoch"),
            prev=prev,
            creator=_string(fields["creator"], _DEVICE, "bad_epoch"),
            made=_integer(fields["made"], 0, "bad_epoch"),
            members=tuple(Member.from_json(member) for member in members),
            sig=_unb64(fields["sig"], 64, "bad_epoch"),
        )


def verify_epoch(
    record: EpochRecord, previous: EpochRecord | None, customer_device_id: str | None = None
) -> None:
    """Refuse, as bad_epoch, a record that may not follow PREVIOUS (docs/PROTOCOL.md, "Epochs")."""
    for member in record.members:
        member.validate()
    ids = [member.device_id for member in record.members]
    if not ids or ids != sorted(set(ids)):
        raise ProtocolError("bad_epoch")
    if previous is None:
        signer = record.members[0]
        follows = (
            record.epoch == 0
            and record.prev == "-"
            and len(record.members) == 1
            and signer.device_id == record.creator
            and signer.role == "customer"
            and customer_device_id in (None, record.creator)
        )
    else:
        # The creator's key comes from the epoch the receiver already holds, not from this one.
        found = previous.member(record.creator)
        if found is None:
            raise ProtocolError("bad_epoch")
        signer = found
        # The customer is the device of epoch 0 in every epoch, the only one in that role; and
        # nobody makes an epoch that leaves themselves out (docs/PROTOCOL.md, "Epochs").
        customers = [member.device_id for member in record.members if member.role == "customer"]
        customer = next(m.device_id for m in previous.members if m.role == "customer")
        follows = (
            record.tenant == previous.tenant
            and record.conversation == previous.conversation
            and record.epoch == previous.epoch + 1
            and record.prev == previous.hash()
            and record.made >= previous.made
            and customers == [customer]
            and record.member(record.creator) is not None
        )
    if not follows or not _verify(signer.sign_public, record.text(), record.sig):
        raise ProtocolError("bad_epoch")


def make_epoch(
    creator: DeviceKeys,
    tenant: str,
    conversation: str,
    previous: EpochRecord | None,
    members: list[Member],
    made: int | None = None,
) -> EpochRecord:
    """Sign the epoch after PREVIOUS (or epoch 0) with MEMBERS sorted by device id, made at
    MADE (Unix seconds; now by default, and never before PREVIOUS)."""
    _check_context(tenant, conversation)
    if made is None:
        made = max(int(time.time()), previous.made if previous is not None else 0)
    unsigned = EpochRecord(
        tenant=tenant,
        conversation=conversation,
        epoch=0 if previous is None else previous.epoch + 1,
        prev="-" if previous is None else previous.hash(),
        creator=creator.device_id,
        made=made,
        members=tuple(sorted(members, key=lambda member: member.device_id)),
        sig=b"",
    )
    record = dataclasses.replace(unsigned, sig=_sign(creator, unsigned.text()))
    try:
        verify_epoch(record, previous)
    except ProtocolError as error:
        raise ValueError("receivers would refuse this epoch record") from error
    return record


def new_epoch_key() -> bytes:
    """Return a fresh random epoch key."""
    return nacl.utils.random(32)


# Key wraps.


@dataclass(frozen=True)
class Wrap:
    """An epoch key sealed for one member (docs/PROTOCOL.md, "Key wraps")."""

    epoch: int
    recipient: str
    wrapper: str
    nonce: bytes
    ct: bytes
    # A staff key's wrap (docs/PROTOCOL.md, "Staff-only messages"): only staff hold it.
    staff: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the wrap as it travels."""
        data: dict[str, Any] = {
            "epoch": self.epoch,
            "recipient": self.recipient,
            "wrapper": self.wrapper,
            "nonce": _b64(self.nonce),
            "ct": _b64(self.ct),
        }
        return {**data, "scope": STAFF} if self.staff else data

    @classmethod
    def from_json(cls, data: object) -> "Wrap":
        """Parse a wrap as it travels, refusing wrong shapes as bad_wrap."""
        staff = _scope(data, "bad_wrap")
        names = ("epoch", "recipient", "wrapper", "nonce", "ct", *(("scope",) if staff else ()))
        fields = _fields(data, names, "bad_wrap")
        return cls(
            epoch=_integer(fields["epoch"], 0, "bad_wrap"),
            recipient=_string(fields["recipient"], _DEVICE, "bad_wrap"),
            wrapper=_string(fields["wrapper"], _DEVICE, "bad_wrap"),
            nonce=_unb64(fields["nonce"], 24, "bad_wrap"),
            ct=_unb64(fields["ct"], None, "bad_wrap"),
            staff=staff,
        )


def _scope(data: object, code: Code) -> bool:
    # Whether DATA names the staff scope; any other scope is refused as CODE.
    if not isinstance(data, dict) or "scope" not in data:
        return False
    if data["scope"] != STAFF:
        raise ProtocolError(code)
    return True


def _wrap_text(
    tenant: str, conversation: str, epoch: int, recipient: str, staff: bool = False
) -> bytes:
    label = "sealdesk-staff-wrap-v1" if staff else "sealdesk-wrap-v1"
    return f"{label}\n{tenant}\n{conversation}\n{epoch}\n{recipient}\n".encode()


def wrap_key(
    wrapper: DeviceKeys,
    recipient: Member,
    tenant: str,
    conversation: str,
    epoch: int,
    key: bytes,
    nonce: bytes | None = None,
    *,
    staff: bool = False,
) -> Wrap:
    """Seal epoch EPOCH's KEY (its staff key when STAFF) for RECIPIENT."""
    _check_context(tenant, conversation)
    if len(key) != 32 or not 0 <= epoch <= _MAX_INTEGER:
        raise ValueError("an epoch key is 32 bytes of a numbered epoch")
    nonce = nacl.utils.random(24) if nonce is None else nonce
    box = nacl.secret.SecretBox(_box_key(wrapper.box_secret, recipient.box_public))
    text = _wrap_text(tenant, conversation, epoch, recipient.device_id, staff)
    ct = box.encrypt(text + key, nonce).ciphertext
    return Wrap(epoch, recipient.device_id, wrapper.device_id, nonce, ct, staff)


def unwrap_key(
    recipient: DeviceKeys, wrapper: Member, tenant: str, conversation: str, wrap: Wrap
) -> bytes:
    """Return the key a wrap carries, refusing as bad_wrap one moved or not meant for RECIPIENT."""
    if wrap.recipient != recipient.device_id or wrap.wrapper != wrapper.device_id:
        raise ProtocolError("bad_wrap")
    box = nacl.secret.SecretBox(_box_key(recipient.box_secret, wrapper.box_public))
    try:
        opened = box.decrypt(wrap.ct, wrap.nonce)
    except nacl.exceptions.CryptoError:
        raise ProtocolError("bad_wrap") from None
    text = _wrap_text(tenant, conversation, wrap.epoch, wrap.recipient, wrap.staff)
    if len(opened) != len(text) + 32 or not opened.startswith(text):
        raise ProtocolError("bad_wrap")
    return opened[len(text) :]


# Messages.


def pad(data: bytes) -> bytes:
    """Pad DATA with 0x80 and zeros to the next multiple of 256 bytes (ISO/IEC 7816-4)."""
    return data + b"\x80" + bytes(-(len(data) + 1) % BLOCK)


def unpad(data: bytes) -> bytes:
    """Return what pad was given, refusing as malformed anything pad does not produce."""
    stripped = data.rstrip(b"\x00")
    if len(data) % BLOCK or not stripped.endswith(b"\x80") or len(data) - len(stripped) >= BLOCK:
        raise ProtocolError("malformed")
    return stripped[:-1]


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _parse_plaintext(data: bytes, staff: bool = False) -> dict[str, str]:
    # docs/PROTOCOL.md, "Plaintext types": exactly the type's fields, each a string; staff-only
    # types under a staff key, and only there.
    if len(data) > MAX_PLAINTEXT:
        raise ProtocolError("malformed")
    try:
        value: object = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        # RecursionError: JSON nested deeper than Python's stack, which JavaScript parses.
        raise ProtocolError("malformed") from None
    if not isinstance(value, dict):
        raise ProtocolError("malformed")
    kind = value.get("type")
    names = FIELDS.get(kind) if isinstance(kind, str) else None
    if (
        names is None
        or set(value) != {"type", *names}
        or not all(isinstance(value[name], str) for name in names)
        or (kind in STAFF_TYPES) != staff
        or (kind in ("text", "note", "rating_comment") and len(value["body"]) > MAX_BODY)
        or (kind == "receipt" and value["state"] not in RECEIPTS)
    ):
        raise ProtocolError("malformed")
    if kind == "file":
        _check_file(value)
    return value


@dataclass(frozen=True)
class Envelope:
    """A signed, encrypted message as it travels (docs/PROTOCOL.md, "Messages")."""

    epoch: int
    sender: str
    seq: int
    after: str
    nonce: bytes
    ct: bytes
    sig: bytes
    # Sealed under the epoch's staff key, for staff devices only.
    staff: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the envelope as it travels."""
        data: dict[str, Any] = {
            "epoch": self.epoch,
            "sender": self.sender,
            "seq": self.seq,
            "after": self.after,
            "nonce": _b64(self.nonce),
            "ct": _b64(self.ct),
            "sig": _b64(self.sig),
        }
        return {**data, "scope": STAFF} if self.staff else data

    @classmethod
    def from_json(cls, data: object) -> "Envelope":
        """Parse an envelope as it travels, refusing wrong shapes as malformed."""
        staff = _scope(data, "malformed")
        names = ("epoch", "sender", "seq", "after", "nonce", "ct", "sig")
        fields = _fields(data, (*names, "scope") if staff else names, "malformed")
        return cls(
            epoch=_integer(fields["epoch"], 0, "malformed"),
            sender=_string(fields["sender"], _DEVICE, "malformed"),
            seq=_integer(fields["seq"], 1, "malformed"),
            after=_string(fields["after"], _HASH, "malformed"),
            nonce=_unb64(fields["nonce"], 24, "malformed"),
            ct=_unb64(fields["ct"], None, "malformed"),
            sig=_unb64(fields["sig"], 64, "malformed"),
            staff=staff,
        )


def message_text(
    tenant: str,
    conversation: str,
    record: EpochRecord,
    sender: str,
    seq: int,
    after: str,
    nonce: bytes,
    ct: bytes,
    staff: bool = False,
) -> bytes:
    """Return the text a message's sender signs: it names the epoch record by its hash, the
    transcript the sender had accepted when it wrote (AFTER), and whether only staff read it."""
    label = "sealdesk-staff-msg-v2" if staff else "sealdesk-msg-v2"
    head = f"{label}\n{tenant}\n{conversation}\n{record.epoch}\n{record.hash()}\n"
    return f"{head}{sender}\n{seq}\n{after}\n{_b64(nonce)}\n{_b64(ct)}".encode()


def encrypt_message(
    sender: DeviceKeys,
    tenant: str,
    conversation: str,
    record: EpochRecord,
    key: bytes,
    seq: int,
    plaintext: dict[str, Any],
    *,
    after: str,
    nonce: bytes | None = None,
    staff: bool = False,
) -> Envelope:
    """Pad, seal and sign PLAINTEXT as SENDER's message number SEQ in the epoch of RECORD, written
    having accepted the transcript whose head is AFTER; with STAFF, KEY is the epoch's staff key
    and PLAINTEXT a staff-only type."""
    _check_context(tenant, conversation)
    if len(key) != 32 or not 1 <= seq <= _MAX_INTEGER or not _HASH.fullmatch(after):
        raise ValueError("a message needs a 32-byte key, a seq from 1 and a transcript hash")
    data = json.dumps(plaintext, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    encoded = data.encode()
    try:
        _parse_plaintext(encoded, staff)
    except ProtocolError:
        raise ValueError("receivers would refuse this plaintext as malformed") from None
    nonce = nacl.utils.random(24) if nonce is None else nonce
    ct = nacl.secret.SecretBox(key).encrypt(pad(encoded), nonce).ciphertext
    text = message_text(
        tenant, conversation, record, sender.device_id, seq, after, nonce, ct, staff
    )
    sig = _sign(sender, text)
    return Envelope(record.epoch, sender.device_id, seq, after, nonce, ct, sig, staff)


def verify_envelope_signature(
    tenant: str, conversation: str, record: EpochRecord, envelope: Envelope, sign_public: bytes
) -> bool:
    """Return whether the envelope is signed by SIGN_PUBLIC in the epoch of RECORD."""
    if record.epoch != envelope.epoch:
        return False
    text = message_text(
        tenant,
        conversation,
        record,
        envelope.sender,
        envelope.seq,
        envelope.after,
        envelope.nonce,
        envelope.ct,
        envelope.staff,
    )
    return _verify(sign_public, text, envelope.sig)


class Transcript:
    """A hash chain over the epoch records and messages one device accepted, in the order it
    accepted them (docs/PROTOCOL.md, "Transcript")."""

    def __init__(self, tenant: str, conversation: str) -> None:
        _check_context(tenant, conversation)
        start = f"sealdesk-transcript-v2\n{tenant}\n{conversation}".encode()
        self._head = hashlib.sha512(start).hexdigest()
        self._at: dict[str, int] = {self._head: 0}

    @property
    def head(self) -> str:
        """The hash of everything accepted so far."""
        return self._head

    def __len__(self) -> int:
        return len(self._at) - 1

    def position(self, hash: str) -> int | None:
        """Return after how many entries the head was HASH, or None if it never was."""
        return self._at.get(hash)

    def add(self, kind: Literal["epoch", "message"], hash: str) -> str:
        """Add an entry of KIND naming the hash of what was accepted."""
        self._head = hashlib.sha512(f"{self._head}\n{kind}\n{hash}".encode()).hexdigest()
        self._at[self._head] = len(self._at)
        return self._head


def head_after(tenant: str, conversation: str, records: list[EpochRecord]) -> str:
    """Return the transcript hash of a device that accepted RECORDS and nothing else."""
    transcript = Transcript(tenant, conversation)
    for record in records:
        transcript.add("epoch", record.hash())
    return transcript.head


class ConversationState:
    """What one device holds of one conversation: epochs, keys, each sender's last seq, and the
    transcript of what it accepted."""

    def __init__(
        self,
        tenant: str,
        conversation: str,
        me: DeviceKeys,
        customer_device_id: str,
        trust: Trust | None = None,
    ) -> None:
        _check_context(tenant, conversation)
        self.tenant = tenant
        self.conversation = conversation
        self.me = me
        self.customer_device_id = customer_device_id
        self.trust = trust
        self.transcript = Transcript(tenant, conversation)
        self._epochs: list[EpochRecord] = []
        self._entered: list[int] = []  # transcript position after each epoch record
        self._keys: dict[int, bytes] = {}
        self._staff_keys: dict[int, bytes] = {}
        self._last_seq: dict[str, int] = {}
        self._last_after: dict[str, int] = {}
        self._sent = 0

    @property
    def latest_epoch(self) -> int | None:
        """Return the number of the latest accepted epoch, or None before epoch 0."""
        return len(self._epochs) - 1 if self._epochs else None

    @property
    def after(self) -> str:
        """Return the hash of the transcript so far: what a message written now says it follows."""
        return self.transcript.head

    def record_of(self, epoch: int) -> EpochRecord:
        """Return the accepted epoch record EPOCH, refusing any other as unknown_epoch."""
        if not 0 <= epoch < len(self._epochs):
            raise ProtocolError("unknown_epoch")
        return self._epochs[epoch]

    def members_of(self, epoch: int) -> tuple[Member, ...]:
        """Return the members of an accepted epoch, refusing any other as unknown_epoch."""
        return self.record_of(epoch).members

    def key_of(self, epoch: int) -> bytes | None:
        """Return the key of an epoch, or None while no wrap of it has opened."""
        return self._keys.get(epoch)

    def staff_key_of(self, epoch: int) -> bytes | None:
        """Return the staff key of an epoch, or None while no staff wrap of it has opened."""
        return self._staff_keys.get(epoch)

    @property
    def is_staff(self) -> bool:
        """Whether this device is staff (not the conversation's customer)."""
        return self.me.device_id != self.customer_device_id

    def accept_epoch(self, record: EpochRecord) -> None:
        """Accept the next epoch record (or one already held, again), refusing it as bad_epoch."""
        if 0 <= record.epoch < len(self._epochs) and self._epochs[record.epoch] == record:
            return
        if (record.tenant, record.conversation) != (self.tenant, self.conversation):
            raise ProtocolError("bad_epoch")
        previous = self._epochs[-1] if self._epochs else None
        verify_epoch(record, previous, self.customer_device_id)
        # With a trusted organisation key, every staff member is certified by it.
        if self.trust is not None:
            for member in record.members:
                self.trust.check(member, record.made)
        self._epochs.append(record)
        self.transcript.add("epoch", record.hash())
        self._entered.append(len(self.transcript))

    def accept_wrap(self, wrap: Wrap) -> None:
        """Open a wrap for this device and hold its key, refusing it as bad_wrap."""
        if not 0 <= wrap.epoch < len(self._epochs):
            raise ProtocolError("bad_wrap")
        # The wrapper is a member of the wrapped epoch, or of the latest one for a history share;
        # a staff key's wrapper is staff there, and only staff take one.
        wrapper = self._epochs[wrap.epoch].member(wrap.wrapper) or self._epochs[-1].member(
            wrap.wrapper
        )
        if wrapper is None or (wrap.staff and (wrapper.role == "customer" or not self.is_staff)):
            raise ProtocolError("bad_wrap")
        key = unwrap_key(self.me, wrapper, self.tenant, self.conversation, wrap)
        # A second, different key for an epoch would make members read different messages.
        keys = self._staff_keys if wrap.staff else self._keys
        if keys.setdefault(wrap.epoch, key) != key:
            raise ProtocolError("bad_wrap")

    def last_seq_of(self, device: str) -> int:
        """Return the seq of DEVICE's latest accepted message, 0 before any."""
        return self._last_seq.get(device, 0)

    def next_seq(self) -> int:
        """Return the seq of this device's next message, one more than any it sent before."""
        self._sent = max(self._sent, self._last_seq.get(self.me.device_id, 0)) + 1
        return self._sent

    def witness(self, envelope: Envelope) -> None:
        """Accept a message into the transcript after the checks of docs/PROTOCOL.md that need
        no key, in order; the key may come later (open)."""
        record = self.record_of(envelope.epoch)
        # A sender removed from the latest epoch may no longer post, in any epoch.
        sender = record.member(envelope.sender)
        if sender is None or self._epochs[-1].member(envelope.sender) is None:
            raise ProtocolError("not_a_member")
        if envelope.staff and sender.role == "customer":
            raise ProtocolError("not_staff")
        if not verify_envelope_signature(
            self.tenant, self.conversation, record, envelope, sender.sign_public
        ):
            raise ProtocolError("bad_signature")
        last = self._last_seq.get(envelope.sender, 0)
        if envelope.seq <= last:
            raise ProtocolError("replayed")
        if envelope.seq != last + 1:
            raise ProtocolError("out_of_order")
        # The transcript the sender had seen is one this device had too, no older than the one
        # its previous message named, and holds the message's epoch record; the newest epoch it
        # holds is the message's own.
        seen = self.transcript.position(envelope.after)
        before = self._last_after.get(envelope.sender, 0)
        if seen is None or seen < before or seen < self._entered[envelope.epoch]:
            raise ProtocolError("bad_transcript")
        newer = self._entered[envelope.epoch + 1 : envelope.epoch + 2]
        if newer and seen >= newer[0]:
            raise ProtocolError("stale_epoch")
        # Only an accepted message moves the counters, so a gap stays visible.
        self._last_seq[envelope.sender] = envelope.seq
        self._last_after[envelope.sender] = seen
        text = message_text(
            self.tenant,
            self.conversation,
            record,
            envelope.sender,
            envelope.seq,
            envelope.after,
            envelope.nonce,
            envelope.ct,
            envelope.staff,
        )
        self.transcript.add("message", hashlib.sha512(text).hexdigest())

    def open(self, envelope: Envelope) -> dict[str, str]:
        """Return a witnessed message's plaintext, refusing it as unknown_epoch while its key is
        missing, as staff_only for the customer's device given a staff-only message, or as
        undecryptable or malformed."""
        if envelope.staff and not self.is_staff:
            raise ProtocolError("staff_only")
        key = (self._staff_keys if envelope.staff else self._keys).get(envelope.epoch)
        if key is None:
            raise ProtocolError("unknown_epoch")
        try:
            padded = nacl.secret.SecretBox(key).decrypt(envelope.ct, envelope.nonce)
        except nacl.exceptions.CryptoError:
            raise ProtocolError("undecryptable") from None
        return _parse_plaintext(unpad(padded), envelope.staff)

    def receive(self, envelope: Envelope) -> dict[str, str]:
        """Witness a message, then open it: every check of docs/PROTOCOL.md, in order."""
        self.witness(envelope)
        return self.open(envelope)


# Files.


def _decimal(value: str, minimum: int, maximum: int) -> int:
    # One spelling of each number: ASCII digits without leading zeros (docs/PROTOCOL.md, "Files").
    if not _DECIMAL.fullmatch(value) or not minimum <= int(value) <= maximum:
        raise ProtocolError("malformed")
    return int(value)


def _check_file(plaintext: dict[str, str]) -> tuple[int, int, int]:
    # docs/PROTOCOL.md, "Files": names of at most 255 code points, numbers that agree, keys.
    size = _decimal(plaintext["size"], 0, _MAX_INTEGER)
    chunk_size = _decimal(plaintext["chunk_size"], 1, MAX_CHUNK)
    chunks = _decimal(plaintext["chunks"], 1, _MAX_CHUNKS)
    if (
        len(plaintext["name"]) > MAX_NAME
        or len(plaintext["mime"]) > MAX_NAME
        or chunks != max(1, -(-size // chunk_size))
        or not _HASH.fullmatch(plaintext["hash"])
        or not is_file_id(plaintext["file"])
    ):
        raise ProtocolError("malformed")
    _unb64(plaintext["key"], 32, "malformed")
    _unb64(plaintext["prefix"], 16, "malformed")
    return size, chunk_size, chunks


def is_file_id(value: object) -> bool:
    """Return whether VALUE is an upload's id: a UUID in lower-case hex, never a path."""
    return isinstance(value, str) and _FILE_ID.fullmatch(value) is not None


def file_nonce(prefix: bytes, index: int, last: bool) -> bytes:
    """Return the nonce of chunk INDEX: prefix, then index and last as 32-bit big-endian."""
    if len(prefix) != 16 or not 0 <= index < _MAX_CHUNKS:
        raise ValueError("a file nonce needs a 16-byte prefix and an index below 2**32")
    return prefix + index.to_bytes(4, "big") + int(last).to_bytes(4, "big")


def chunk_count(size: int, chunk_size: int) -> int:
    """Return max(1, ceil(SIZE / CHUNK_SIZE)), the number of chunks and parts of a file."""
    numbers = type(size) is int and type(chunk_size) is int
    if not numbers or not 0 <= size <= _MAX_INTEGER or not 1 <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"a file has 0 to 2**53 - 1 bytes in chunks of 1 to {MAX_CHUNK}")
    chunks = max(1, -(-size // chunk_size))
    if chunks > _MAX_CHUNKS:
        raise ValueError("a file has at most 2**32 chunks")
    return chunks


def part_length(size: int, chunk_size: int, index: int) -> int:
    """Return the length of part INDEX: its chunk's plaintext bytes and the 16-byte tag."""
    chunks = chunk_count(size, chunk_size)
    if not 0 <= index < chunks:
        raise ValueError(f"the parts of this file are numbered 0 to {chunks - 1}")
    last = index == chunks - 1
    return (size - (chunks - 1) * chunk_size if last else chunk_size) + 16


class FileEncryptor:
    """Seal a file chunk by chunk under a fresh file key (docs/PROTOCOL.md, "Files")."""

    def __init__(
        self,
        size: int,
        chunk_size: int = CHUNK_SIZE,
        key: bytes | None = None,
        prefix: bytes | None = None,
    ) -> None:
        self.chunks = chunk_count(size, chunk_size)
        self.key = nacl.utils.random(32) if key is None else key
        self.prefix = nacl.utils.random(16) if prefix is None else prefix
        if len(self.key) != 32 or len(self.prefix) != 16:
            raise ValueError("a file key is 32 bytes and a prefix 16")
        self.size = size
        self.chunk_size = chunk_size
        self._made = 0
        # Each part's digest goes in as it is made, so that no part needs to be kept.
        self._hash = hashlib.sha512()

    def encrypt(self, index: int, data: bytes) -> bytes:
        """Return part INDEX sealed from chunk INDEX; parts are made in order, each once."""
        if index != self._made or index >= self.chunks:
            raise ValueError(f"the next part is {self._made} of {self.chunks}")
        if len(data) != part_length(self.size, self.chunk_size, index) - 16:
            raise ValueError(f"chunk {index} is not the length size and chunk_size give")
        nonce = file_nonce(self.prefix, index, index == self.chunks - 1)
        # SecretBox.encrypt without its extra copies, so that memory stays about one chunk.
        part = nacl.bindings.crypto_secretbox_easy(data, nonce, self.key)
        self._hash.update(hashlib.sha512(part).digest())
        self._made += 1
        return part

    def hash(self) -> str:
        """Return the hash over every part's digest, once all parts are made."""
        if self._made != self.chunks:
            raise ValueError(f"{self._made} of {self.chunks} parts are made")
        return self._hash.hexdigest()

    def announcement(self, file_id: str, name: str, mime: str) -> dict[str, str]:
        """Return the `file` plaintext of the upload FILE_ID, without sent_at."""
        if len(name) > MAX_NAME or len(mime) > MAX_NAME:
            raise ValueError(f"a file's name and type are at most {MAX_NAME} characters")
        if not is_file_id(file_id):
            raise ValueError("an upload's id is a UUID")
        return {
            "type": "file",
            "file": file_id,
            "name": name,
            "mime": mime,
            "size": str(self.size),
            "chunk_size": str(self.chunk_size),
            "chunks": str(self.chunks),
            "key": _b64(self.key),
            "prefix": _b64(self.prefix),
            "hash": self.hash(),
        }


class FileDecryptor:
    """Open a file's parts in order and check them against its `file` message."""

    def __init__(self, announcement: object) -> None:
        # The plaintext as received, or as FileEncryptor.announcement returns it (no sent_at).
        names = FIELDS["file"]
        if isinstance(announcement, dict) and "sent_at" not in announcement:
            names = tuple(name for name in names if name != "sent_at")
        fields = _fields(announcement, ("type", *names), "malformed")
        if fields["type"] != "file" or not all(isinstance(fields[name], str) for name in names):
            raise ProtocolError("malformed")
        self.size, self.chunk_size, self.chunks = _check_file(fields)
        self.key = _unb64(fields["key"], 32, "malformed")
        self.prefix = _unb64(fields["prefix"], 16, "malformed")
        self._expected: str = fields["hash"]
        self._opened = 0
        self._hash = hashlib.sha512()

    def decrypt(self, index: int, part: bytes) -> bytes:
        """Return chunk INDEX, refusing as bad_file a part out of order, mis-sized or altered."""
        # A refused part changes nothing. The file is offered only once finish accepts it.
        if (
            index != self._opened
            or index >= self.chunks
            or len(part) != part_length(self.size, self.chunk_size, index)
        ):
            raise ProtocolError("bad_file")
        nonce = file_nonce(self.prefix, index, index == self.chunks - 1)
        try:
            chunk = nacl.bindings.crypto_secretbox_open_easy(part, nonce, self.key)
        except nacl.exceptions.CryptoError:
            raise ProtocolError("bad_file") from None
        self._hash.update(hashlib.sha512(part).digest())
        self._opened += 1
        return chunk

    def finish(self) -> None:
        """Refuse the file as bad_file unless every part opened and the hash matches."""
        if self._opened != self.chunks or self._hash.hexdigest() != self._expected:
            raise ProtocolError("bad_file")
