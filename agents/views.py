"""The agent dashboard."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from agents.access import (
    access_conversation,
    agents_for,
    canned_responses_of,
    history_for,
    require_agent,
)
from agents.models import Agent, Device
from chat import capacity
from chat.actions import supervision
from chat.actions.devices import do_register_agent_device
from chat.actions.presence import do_set_presence
from chat.errors import ChatError
from chat.models import Conversation, ParticipantDevice
from chat.payloads import device_payload, history_payload, presence_payload
from chat.views import serve_uploads


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_safe
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    agent = require_agent(request.user)
    return render(
        request,
        "agents/dashboard.html",
        {
            "agent": agent,
            "tenant": agent.tenant,
            "presences": Agent.Presence.choices,
            "dispositions": [(d.value, d.label) for d in Conversation.CLOSING_DISPOSITIONS],
            "is_supervisor": agent.role == Agent.Role.SUPERVISOR,
            "teams": agent.tenant.teams.order_by("name"),
        },
    )


@require_safe
@login_required
def board(request: HttpRequest) -> HttpResponse:
    """A supervisor's board of its teams' queues and chats, metadata only (403 for others)."""
    agent = require_agent(request.user)
    if agent.role != Agent.Role.SUPERVISOR:
        return JsonResponse(
            {"type": "error", "code": "forbidden", "detail": "Only supervisors have a board."},
            status=403,
        )
    return JsonResponse(supervision.board(agent))


HISTORY_PAGE = 50


@require_safe
@login_required
def history(request: HttpRequest) -> HttpResponse:
    """The agent's history, newest first, HISTORY_PAGE conversations from `offset`: metadata
    only. The browser opens and searches them itself (docs/PROTOCOL.md, "History")."""
    agent = require_agent(request.user)
    try:
        offset = int(request.GET.get("offset", "0"))
        if offset < 0:
            raise ValueError(offset)
    except ValueError:
        return JsonResponse(
            {"type": "error", "code": "invalid_page", "detail": "offset is a whole number >= 0."},
            status=400,
        )
    page = list(history_for(agent)[offset : offset + HISTORY_PAGE + 1])
    more = len(page) > HISTORY_PAGE
    page = page[:HISTORY_PAGE]
    devices: dict[object, list[str]] = {c.pk: [] for c in page}
    for conversation_id, device_id in ParticipantDevice.objects.filter(
        participant__agent=agent, participant__conversation__in=page
    ).values_list("participant__conversation_id", "device_id"):
        devices[conversation_id].append(device_id)
    return JsonResponse(
        {
            "conversations": [history_payload(c, devices[c.pk]) for c in page],
            "offset": offset,
            "more": more,
        }
    )


@require_safe
@login_required
def colleagues(request: HttpRequest) -> HttpResponse:
    """The agent's colleagues, for asking one into a chat: who they are, whether they could take
    it now (available, a free chat slot, an approved browser), and their teams."""
    agent = require_agent(request.user)
    others = (
        agents_for(request.user)
        .filter(tenant_id=agent.tenant_id, user__is_active=True)
        .exclude(pk=agent.pk)
        .prefetch_related("teams")
        .order_by("display_name", "pk")
    )
    ready = set(
        capacity.with_room(capacity.with_usable_device(others))
        .filter(presence=Agent.Presence.AVAILABLE)
        .values_list("pk", flat=True)
    )
    return JsonResponse(
        {
            "colleagues": [
                {
                    "id": other.pk,
                    "display_name": other.display_name,
                    "role": other.role,
                    "presence": other.presence,
                    "teams": [team.name for team in other.teams.all()],
                    "can_join": other.pk in ready,
                }
                for other in others
            ]
        }
    )


@require_safe
@login_required
def canned_responses(request: HttpRequest) -> HttpResponse:
    """The canned responses this agent inserts by shortcut: its tenant's tenant-wide ones and
    its own teams'. Tenant configuration in clear, like any admin setting (docs/THREAT_MODEL.md);
    once inserted into a reply they are encrypted with it."""
    agent = require_agent(request.user)
    return JsonResponse(
        {
            "responses": [
                {
                    "id": response.pk,
                    "shortcut": response.shortcut,
                    "title": response.title,
                    "text": response.text,
                    "team": response.team.name if response.team else None,
                }
                for response in canned_responses_of(agent)
            ]
        }
    )


@require_POST
@login_required
def set_presence(request: HttpRequest) -> HttpResponse:
    agent = require_agent(request.user)
    try:
        agent = do_set_presence(agent, request.POST.get("presence", ""))
    except ChatError as e:
        if _wants_json(request):
            return JsonResponse({"type": "error", "code": e.code, "detail": e.detail}, status=400)
        messages.error(request, e.detail)
        return redirect("dashboard")
    if _wants_json(request):
        return JsonResponse({"type": "presence", **presence_payload(agent)})
    return redirect("dashboard")


@require_POST
@login_required
def register_device(request: HttpRequest) -> HttpResponse:
    """Register the public keys this browser made; its private keys stay in the browser."""
    agent = require_agent(request.user)
    try:
        body = json.loads(request.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return JsonResponse(
            {"type": "error", "code": "malformed_body", "detail": "Send a JSON object."},
            status=400,
        )
    try:
        device = do_register_agent_device(
            agent,
            body.get("sign_public"),
            body.get("box_public"),
            label=str(body.get("label", "")),
        )
    except ChatError as e:
        return JsonResponse({"type": "error", "code": e.code, "detail": e.detail}, status=400)
    return JsonResponse({"type": "device", "device": device_payload(device)})


@login_required
def agent_uploads(
    request: HttpRequest,
    upload_id: object | None = None,
    index: int | None = None,
    action: str | None = None,
) -> HttpResponseBase:
    """The upload API for this agent's browser, named by its X-Sealdesk-Device header."""
    agent = require_agent(request.user)
    device = Device.objects.filter(
        pk=request.headers.get("X-Sealdesk-Device", ""), agent=agent, revoked_at__isnull=True
    ).first()
    if device is None:
        return JsonResponse(
            {"type": "error", "code": "unknown_device", "detail": "Register this browser first."},
            status=400,
        )
    return serve_uploads(
        request,
        device,
        lambda conversation: access_conversation(agent, str(conversation)),
        upload_id,
        index,
        action,
    )
