"""The tenant admin's page for the organisation key and the staff devices it certifies.

Every key and every signature is made in the admin's browser (static/agents/organisation.js);
these views only show public data and store the signed records, through chat/actions/trust.py.
"""

import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from agents.access import require_agent
from agents.models import Agent, Device, OrgKeyShare
from audit import log as audit
from audit.models import Entry
from chat.actions.trust import (
    cert_role,
    do_certify_device,
    do_request_org_key,
    do_revoke_device,
    do_set_org_key,
    do_share_org_key,
    org_payload,
)
from chat.errors import ChatError

Action = Entry.Action


def _tenant_admin(request: HttpRequest) -> Agent:
    agent = require_agent(request.user)
    if not agent.is_tenant_admin:
        raise PermissionDenied(_("Only a tenant admin manages the organisation key."))
    return agent


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ChatError("malformed_body", "Send a JSON object.")
    return body


def _error(e: ChatError) -> JsonResponse:
    status = 404 if e.code == "not_found" else 403 if e.code == "forbidden" else 400
    return JsonResponse({"type": "error", "code": e.code, "detail": e.detail}, status=status)


def _device(device: Device) -> dict[str, Any]:
    agent = device.agent
    assert agent is not None  # noqa: S101 (staff devices only: the query below)
    return {
        "id": device.id,
        "sign_public": device.sign_public,
        "box_public": device.box_public,
        "label": device.label,
        "created_at": device.created_at.isoformat(),
        "agent": {
            "id": agent.pk,
            "name": agent.display_name,
            "role": agent.get_role_display(),
            "cert_role": cert_role(agent),
        },
        "cert": device.cert,
        "certified_at": device.certified_at.isoformat() if device.certified_at else None,
        "revoked_at": device.revoked_at.isoformat() if device.revoked_at else None,
    }


def _share(ask: OrgKeyShare, admin: Agent) -> dict[str, Any]:
    return {
        "id": ask.pk,
        "requested_by": ask.requested_by.display_name,
        "mine": ask.requested_by_id == admin.pk,
        "sign_public": ask.sign_public,
        "box_public": ask.box_public,
        "created_at": ask.created_at.isoformat(),
        # Only the asker gets the sealed key; it is for its browser alone anyway.
        "share": ask.share if ask.requested_by_id == admin.pk else None,
        "shared": ask.share is not None,
    }


@require_safe
@login_required
def organisation(request: HttpRequest) -> HttpResponse:
    admin = _tenant_admin(request)
    return render(request, "agents/organisation.html", {"agent": admin, "tenant": admin.tenant})


@require_safe
@login_required
def organisation_state(request: HttpRequest) -> JsonResponse:
    """Return the tenant's organisation key chain and its staff devices, newest first."""
    admin = _tenant_admin(request)
    devices = (
        Device.objects.filter(tenant=admin.tenant, kind=Device.Kind.AGENT)
        .select_related("agent")
        .order_by("-created_at", "pk")
    )
    return JsonResponse(
        {
            "type": "organisation",
            "tenant": {"id": admin.tenant.widget_id, "name": admin.tenant.name},
            "org": org_payload(admin.tenant),
            "devices": [_device(device) for device in devices],
            "shares": [
                _share(ask, admin)
                for ask in OrgKeyShare.objects.filter(tenant=admin.tenant).select_related(
                    "requested_by"
                )
            ],
        }
    )


@require_POST
@login_required
def organisation_key(request: HttpRequest) -> JsonResponse:
    """Store the organisation key this admin's browser made, or the next one with its rotation."""
    admin = _tenant_admin(request)
    try:
        body = _body(request)
        key = do_set_org_key(admin, body.get("public_key"), body.get("rotation"))
    except ChatError as e:
        return _error(e)
    org = org_payload(admin.tenant)
    audit.record(
        Action.ORG_KEY_CHANGED,
        request=request,
        tenant=admin.tenant,
        target=org["fingerprint"] if org else key.pk,
        detail={"rotation": bool(body.get("rotation"))},
    )
    return JsonResponse({"type": "organisation", "org": org})


@require_POST
@login_required
def request_org_key(request: HttpRequest) -> JsonResponse:
    """Record that this admin's browser asks for the key, with the public keys to seal it to."""
    admin = _tenant_admin(request)
    try:
        body = _body(request)
        ask = do_request_org_key(admin, body.get("sign_public"), body.get("box_public"))
    except ChatError as e:
        return _error(e)
    return JsonResponse({"type": "share", "share": _share(ask, admin)})


@require_POST
@login_required
def give_org_key(request: HttpRequest, share_id: int) -> JsonResponse:
    """Store the key this admin's browser sealed to another admin browser's request."""
    admin = _tenant_admin(request)
    try:
        ask = do_share_org_key(admin, share_id, _body(request).get("share"))
    except ChatError as e:
        return _error(e)
    audit.record(
        Action.ORG_KEY_SHARED, request=request, tenant=admin.tenant, target=ask.requested_by
    )
    return JsonResponse({"type": "share", "share": _share(ask, admin)})


def _signed_for_device(
    request: HttpRequest,
    device_id: str,
    field: str,
    action: Callable[[Agent, object, object], Device],
    event: str,
) -> JsonResponse:
    """Store the record in the request body's FIELD, signed in this admin's browser for a staff
    device, through ACTION; note EVENT in the audit log."""
    admin = _tenant_admin(request)
    try:
        device = action(admin, device_id, _body(request).get(field))
    except ChatError as e:
        return _error(e)
    audit.record(
        event,
        request=request,
        tenant=admin.tenant,
        target=f"{device.agent} ({device.label or device.pk})" if device.agent else device.pk,
        detail={"device": device.pk},
    )
    return JsonResponse({"type": "device", "device": _device(device)})


@require_POST
@login_required
def certify_device(request: HttpRequest, device_id: str) -> JsonResponse:
    """Store the certificate this admin's browser signed for a staff device."""
    return _signed_for_device(request, device_id, "cert", do_certify_device, Action.DEVICE_APPROVED)


@require_POST
@login_required
def revoke_device(request: HttpRequest, device_id: str) -> JsonResponse:
    """Store the revocation this admin's browser signed for a staff device."""
    return _signed_for_device(
        request, device_id, "revocation", do_revoke_device, Action.DEVICE_REVOKED
    )
