"""The widget's HTTP API, called from tenants' web pages on other origins (CORS).

The widget keeps its customer token itself and sends it in a header, since browsers block
third-party cookies; so these views use no cookies and need no CSRF token.
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from agents.access import access_widget_tenant
from agents.models import Tenant
from chat import actions

MAX_BODY_BYTES = 16 * 1024

WidgetView = Callable[[HttpRequest, Tenant], HttpResponse]


def error(code: str, detail: str, status: int) -> JsonResponse:
    """Return the JSON error every widget endpoint answers with."""
    return JsonResponse({"type": "error", "code": code, "detail": detail}, status=status)


def widget_endpoint(
    methods: tuple[str, ...],
) -> Callable[[WidgetView], Callable[..., HttpResponse]]:
    """Serve a view to the tenant's allowed origins only, with CORS headers and preflight."""

    def decorate(view: WidgetView) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, widget_id: str) -> HttpResponse:
            tenant = access_widget_tenant(widget_id)
            origin = request.headers.get("Origin", "")
            allowed = origin in tenant.origin_list()
            if request.method == "OPTIONS":
                response: HttpResponse = HttpResponse(status=204 if allowed else 403)
            elif not allowed:
                response = error(
                    "origin_not_allowed", "This page may not embed this tenant's widget.", 403
                )
            elif request.method not in methods:
                response = error("method_not_allowed", f"Use {' or '.join(methods)}.", 405)
            else:
                response = view(request, tenant)
            if allowed:
                response["Access-Control-Allow-Origin"] = origin
                response["Access-Control-Allow-Methods"] = ", ".join((*methods, "OPTIONS"))
                response["Access-Control-Allow-Headers"] = "Content-Type"
                response["Access-Control-Max-Age"] = "600"
            response["Vary"] = "Origin"
            return response

        return wrapper

    return decorate


def _json_body(request: HttpRequest) -> dict[str, Any] | JsonResponse:
    if len(request.body) > MAX_BODY_BYTES:
        return error("body_too_large", f"Requests are limited to {MAX_BODY_BYTES} bytes.", 413)
    try:
        body = json.loads(request.body)
    except ValueError:
        return error("malformed_body", "The body must be a JSON object.", 400)
    if not isinstance(body, dict):
        return error("malformed_body", "The body must be a JSON object.", 400)
    return body


@widget_endpoint(("GET",))
def widget_config(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Return what the widget shows before a conversation: the tenant and its teams."""
    return JsonResponse(
        {
            "tenant": {"id": tenant.widget_id, "name": tenant.name},
            "teams": [{"id": team.pk, "name": team.name} for team in tenant.teams.all()],
        }
    )


@widget_endpoint(("POST",))
def start_conversation(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Open a conversation for a customer device's public keys; answer with its token, once."""
    body = _json_body(request)
    if isinstance(body, JsonResponse):
        return body
    team_id = body.get("team")
    team = tenant.teams.filter(pk=team_id if isinstance(team_id, int) else -1)
    if not team.exists():
        return error("unknown_team", "Choose one of this tenant's teams.", 400)
    device = body.get("device")
    if not isinstance(device, dict):
        return error("malformed_body", "device must hold sign_public and box_public.", 400)
    try:
        conversation, token = actions.do_start_conversation(
            tenant,
            team.get(),
            device.get("sign_public"),
            device.get("box_public"),
            origin=request.headers.get("Origin", ""),
        )
    except actions.ChatError as e:
        return error(e.code, e.detail, 400)
    return JsonResponse(
        {
            "conversation": actions.conversation_payload(conversation),
            "token": token,
            "queue_position": actions.queue_position(conversation),
        },
        status=201,
    )
