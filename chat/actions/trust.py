"""Tenants' organisation keys, and the certificates and revocations they sign for staff devices.

The server holds public keys and signed records only; every record is made and signed in a
tenant admin's browser. The server checks what it stores, so that an honest server never relays a
record clients would refuse, but clients check every record themselves against the organisation
key they pinned (docs/PROTOCOL.md, "Certified devices").
"""

import base64
import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from agents.models import Agent, Device, OrgKey, OrgKeyShare, Tenant
from chat.actions import devices
from chat.actions.events import append_event, lock_conversation
from chat.errors import ChatError
from chat.models import Conversation, Event, ParticipantDevice
from sealdesk_client import protocol

# A certificate's issue time may differ from the server's clock by this much (seconds), and it
# may be valid for at most this long: a device is certified again after that.
ISSUE_SKEW = 3600
MAX_VALIDITY = 400 * 86_400


def current_org_key(tenant: Tenant) -> OrgKey | None:
    """Return the tenant's organisation key, the latest of its chain, or None before the first."""
    return tenant.org_keys.order_by("-created_at", "-pk").first()


def org_payload(tenant: Tenant) -> dict[str, Any] | None:
    """Return what clients need to trust the tenant's certificates from a pinned key: the
    current key, the signed rotations and the signed revocations. None without an org key."""
    keys = list(tenant.org_keys.order_by("created_at", "pk"))
    if not keys:
        return None
    current = keys[-1]
    return {
        "key": current.public_key,
        "fingerprint": protocol.fingerprint(protocol.org_key_id(_raw(current.public_key))),
        "rotations": [key.rotation for key in keys if key.rotation is not None],
        "revocations": list(
            Device.objects.filter(tenant=tenant, revocation__isnull=False)
            .order_by("revoked_at", "pk")
            .values_list("revocation", flat=True)
        ),
    }


def _raw(value: str) -> bytes:
    return base64.b64decode(value)


def _tenant_admin(admin: Agent) -> None:
    if not admin.is_tenant_admin:
        raise ChatError("forbidden", "Only a tenant admin may do this.")


def do_set_org_key(admin: Agent, public_key: object, rotation: object = None) -> OrgKey:
    """Record the tenant's first organisation key, or the next one with the rotation the current
    key signed to hand over to it."""
    _tenant_admin(admin)
    tenant = admin.tenant
    raw = devices.signing_key(public_key, "public_key")
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        current = current_org_key(tenant)
        if current is None:
            if rotation is not None:
                raise ChatError(
                    "invalid_rotation", "A first organisation key hands over from none."
                )
            record = None
        else:
            try:
                parsed = protocol.Rotation.from_json(rotation)
            except protocol.ProtocolError:
                raise ChatError(
                    "invalid_rotation", "A new organisation key needs the current key's hand-over."
                ) from None
            trusted = protocol.trusted_org_keys(
                tenant.widget_id, _raw(current.public_key), [parsed]
            )
            if parsed.new != raw or raw not in trusted:
                raise ChatError(
                    "invalid_rotation",
                    "The hand-over is not signed by the current key for this one.",
                )
            record = parsed.to_json()
        if OrgKey.objects.filter(public_key=base64.b64encode(raw).decode()).exists():
            raise ChatError("invalid_key", "This key was used already; make a fresh one.")
        return OrgKey.objects.create(
            tenant=tenant,
            public_key=base64.b64encode(raw).decode(),
            rotation=record,
            created_by=admin,
        )


def cert_role(agent: Agent) -> str:
    """Return the role an agent's devices are certified in: a supervisor's, or an agent's."""
    return "supervisor" if agent.role == Agent.Role.SUPERVISOR else "agent"


def _staff_device(admin: Agent, device_id: object) -> tuple[Device, Agent]:
    device = (
        Device.objects.select_related("agent")
        .filter(pk=str(device_id), tenant=admin.tenant, kind=Device.Kind.AGENT)
        .first()
    )
    if device is None or device.agent is None:
        raise ChatError("not_found", "There is no such device in this tenant.")
    return device, device.agent


def do_certify_device(admin: Agent, device_id: object, cert: object) -> Device:
    """Store the certificate a tenant admin's browser signed for one of the tenant's devices,
    after checking that it is the one clients would accept for it now."""
    _tenant_admin(admin)
    device, agent = _staff_device(admin, device_id)
    if device.revoked_at is not None:
        raise ChatError(
            "device_revoked", "This device was revoked; its browser must make new keys."
        )
    current = current_org_key(admin.tenant)
    if current is None:
        raise ChatError("no_org_key", "Make the organisation key first.")
    try:
        parsed = protocol.Certificate.from_json(cert)
    except protocol.ProtocolError:
        raise ChatError("invalid_certificate", "The certificate is not well formed.") from None
    now = int(time.time())
    expected = (
        admin.tenant.widget_id,
        str(agent.pk),
        agent.display_name,
        cert_role(agent),
        device.id,
        device.sign_public,
        device.box_public,
        current.public_key,
    )
    found = (
        parsed.tenant,
        parsed.person,
        parsed.name,
        parsed.role,
        parsed.device_id,
        base64.b64encode(parsed.sign_public).decode(),
        base64.b64encode(parsed.box_public).decode(),
        base64.b64encode(parsed.org_key).decode(),
    )
    if found != expected:
        raise ChatError(
            "invalid_certificate",
            "The certificate does not name this device, its person, name and role, and the "
            "current organisation key.",
        )
    if abs(parsed.issued - now) > ISSUE_SKEW or not now < parsed.expires <= now + MAX_VALIDITY:
        raise ChatError("invalid_certificate", "The certificate's times are not valid now.")
    trust = protocol.Trust(admin.tenant.widget_id, (parsed.org_key,))
    member = protocol.Member(device.id, parsed.role, parsed.sign_public, parsed.box_public, parsed)
    try:
        trust.check(member, now)
    except protocol.ProtocolError:
        raise ChatError(
            "invalid_certificate", "The certificate's signature does not verify."
        ) from None
    device.cert = parsed.to_json()
    device.certified_at = timezone.now()
    device.certified_by = admin
    device.save(update_fields=["cert", "certified_at", "certified_by"])
    return device


def do_revoke_device(admin: Agent, device_id: object, revocation: object) -> Device:
    """Store a revocation a tenant admin's browser signed, refuse the device from now on, and
    tell each open conversation it takes part in, whose members then leave it out."""
    _tenant_admin(admin)
    device, _ = _staff_device(admin, device_id)
    keys = list(admin.tenant.org_keys.order_by("created_at", "pk"))
    if not keys:
        raise ChatError("no_org_key", "Make the organisation key first.")
    try:
        parsed = protocol.Revocation.from_json(revocation)
    except protocol.ProtocolError:
        raise ChatError("invalid_revocation", "The revocation is not well formed.") from None
    # Every key of the chain: each was stored only with the hand-over its predecessor signed.
    trusted = [_raw(key.public_key) for key in keys]
    revoked = protocol.revoked_devices(admin.tenant.widget_id, trusted, [parsed])
    if revoked.get(device.id) is None:
        raise ChatError("invalid_revocation", "The revocation is not signed for this device.")
    with transaction.atomic():
        device = Device.objects.select_for_update().get(pk=device.pk)
        if device.revoked_at is not None:
            return device
        device.revoked_at = timezone.now()
        device.revocation = parsed.to_json()
        device.save(update_fields=["revoked_at", "revocation"])
        seats = ParticipantDevice.objects.filter(device=device).exclude(
            participant__conversation__state=Conversation.State.CLOSED
        )
        for conversation_id in seats.values_list("participant__conversation_id", flat=True):
            conversation = lock_conversation(Conversation(pk=conversation_id))
            append_event(
                conversation,
                Event.Kind.LEFT,
                {"device": device.id, "reason": "revoked", "revocation": device.revocation},
            )
    return device


def do_request_org_key(admin: Agent, sign_public: object, box_public: object) -> OrgKeyShare:
    """Record that one of this tenant admin's browsers asks for the organisation key, to be
    sealed to its public keys by an admin's browser that holds it (replacing an earlier ask of
    the same admin that no one answered)."""
    _tenant_admin(admin)
    if current_org_key(admin.tenant) is None:
        raise ChatError("no_org_key", "Make the organisation key first.")
    sign_raw, box_raw = devices.public_keys(sign_public, box_public)
    with transaction.atomic():
        OrgKeyShare.objects.filter(requested_by=admin, share__isnull=True).delete()
        return OrgKeyShare.objects.create(
            tenant=admin.tenant,
            requested_by=admin,
            sign_public=base64.b64encode(sign_raw).decode(),
            box_public=base64.b64encode(box_raw).decode(),
        )


def do_share_org_key(admin: Agent, share_id: object, share: object) -> OrgKeyShare:
    """Store the organisation key an admin's browser sealed to a waiting ask of the tenant."""
    _tenant_admin(admin)
    ask = OrgKeyShare.objects.filter(
        pk=share_id if isinstance(share_id, int) else -1, tenant=admin.tenant
    ).first()
    if ask is None:
        raise ChatError("not_found", "There is no such request for the key in this tenant.")
    names = {"holder_sign_public", "holder_box_public", "nonce", "ct"}
    if not isinstance(share, dict) or set(share) != names:
        raise ChatError("invalid_share", "The sealed key is not well formed.")
    if not all(isinstance(share[name], str) and len(share[name]) <= 400 for name in names):
        raise ChatError("invalid_share", "The sealed key is not well formed.")
    ask.share = share
    ask.shared_by = admin
    ask.shared_at = timezone.now()
    ask.save(update_fields=["share", "shared_by", "shared_at"])
    return ask


def requires_certificate(device: Device) -> bool:
    """Return whether DEVICE may take part only once certified: a staff device of a tenant that
    has an organisation key."""
    return device.kind == Device.Kind.AGENT and current_org_key(device.tenant) is not None
