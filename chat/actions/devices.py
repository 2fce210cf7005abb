"""Browsers' public keys: an agent's devices, and a customer's device for one conversation.

Private keys never reach the server; a device's id is derived from its keys (docs/PROTOCOL.md,
"Devices"), so the server cannot give a known key another id.
"""

import base64
import binascii

import nacl.bindings
import nacl.exceptions

from agents.models import Agent, Device, Tenant
from chat.errors import ChatError
from sealdesk_client import protocol

# Any secret key will do to find a public key of small order: its shared secret is all zeros.
_PROBE = bytes(range(1, 33))


def _public_key(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise ChatError("invalid_key", f"{name} must be a base64 string.")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ChatError("invalid_key", f"{name} is not valid base64.") from None
    if len(raw) != 32:
        raise ChatError("invalid_key", f"{name} must be 32 bytes.")
    return raw


def signing_key(value: object, name: str) -> bytes:
    """Return an Ed25519 public key of the main group: a small-order one would let anyone sign
    in its name (docs/PROTOCOL.md, "Primitives")."""
    raw = _public_key(value, name)
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(raw):
        raise ChatError("invalid_key", f"{name} is not an Ed25519 key of the main group.")
    return raw


def public_keys(sign_public: object, box_public: object) -> tuple[bytes, bytes]:
    """Return two public keys a device may use: a small-order box key would give everyone the
    same shared secret with it (docs/PROTOCOL.md, "Primitives")."""
    sign_raw = signing_key(sign_public, "sign_public")
    box_raw = _public_key(box_public, "box_public")
    try:
        nacl.bindings.crypto_box_beforenm(box_raw, _PROBE)
    except nacl.exceptions.CryptoError:
        raise ChatError("invalid_key", "box_public is an X25519 key of small order.") from None
    return sign_raw, box_raw


def new_device(tenant: Tenant, kind: str, sign_public: object, box_public: object) -> Device:
    """Return an unsaved device for fresh public keys; refuse keys registered already."""
    sign_raw, box_raw = public_keys(sign_public, box_public)
    device_id = protocol.device_id(sign_raw, box_raw)
    if Device.objects.filter(pk=device_id).exists():
        raise ChatError("device_exists", "These keys are registered already; make fresh ones.")
    return Device(
        id=device_id,
        tenant=tenant,
        kind=kind,
        sign_public=base64.b64encode(sign_raw).decode(),
        box_public=base64.b64encode(box_raw).decode(),
    )


def do_register_agent_device(
    agent: Agent, sign_public: object, box_public: object, label: str
) -> Device:
    """Register the public keys of one of the agent's browsers, or return it if known."""
    sign_raw, box_raw = public_keys(sign_public, box_public)
    known = Device.objects.filter(pk=protocol.device_id(sign_raw, box_raw)).first()
    if known is not None:
        if known.agent_id != agent.pk or known.revoked_at is not None:
            raise ChatError("device_exists", "These keys belong to another device.")
        return known
    device = new_device(agent.tenant, Device.Kind.AGENT, sign_public, box_public)
    device.agent = agent
    device.label = label[:200]
    device.save(force_insert=True)  # a fresh id: no UPDATE tried first
    return device


def sign_key(device: Device) -> bytes:
    """Return the device's Ed25519 public key."""
    return base64.b64decode(device.sign_public)
