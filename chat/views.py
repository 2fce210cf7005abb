"""The widget's HTTP API, called from tenants' web pages on other origins (CORS).

The widget keeps its customer token itself and sends it in a header, since browsers block
third-party cookies; so these views use no cookies and need no CSRF token.
"""

import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django.core.files import File
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt

from agents.access import access_customer_conversation, access_widget_tenant
from agents.models import Device, Team, Tenant
from chat import limits, uploads
from chat.actions import offline
from chat.actions.lifecycle import do_start_conversation
from chat.actions.trust import org_payload
from chat.errors import ChatError
from chat.models import Conversation, Upload
from chat.payloads import conversation_payload, queue_position

MAX_BODY_BYTES = 16 * 1024

WidgetView = Callable[..., HttpResponseBase]


def error(code: str, detail: str, status: int) -> JsonResponse:
    """Return the JSON error every widget endpoint answers with."""
    return JsonResponse({"type": "error", "code": code, "detail": detail}, status=status)


def widget_endpoint(
    methods: tuple[str, ...],
) -> Callable[[WidgetView], Callable[..., HttpResponseBase]]:
    """Serve a view to the tenant's allowed origins only, with CORS headers and preflight."""

    def decorate(view: WidgetView) -> Callable[..., HttpResponseBase]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, widget_id: str, **kwargs: Any) -> HttpResponseBase:
            tenant = access_widget_tenant(widget_id)
            origin = request.headers.get("Origin", "")
            allowed = origin in tenant.origin_list()
            if request.method == "OPTIONS":
                response: HttpResponseBase = HttpResponse(status=204 if allowed else 403)
            elif not allowed:
                response = error(
                    "origin_not_allowed", "This page may not embed this tenant's widget.", 403
                )
            elif request.method not in methods:
                response = error("method_not_allowed", f"Use {' or '.join(methods)}.", 405)
            else:
                response = view(request, tenant, **kwargs)
            if allowed:
                response["Access-Control-Allow-Origin"] = origin
                response["Access-Control-Allow-Methods"] = ", ".join((*methods, "OPTIONS"))
                response["Access-Control-Allow-Headers"] = (
                    "Content-Type, Authorization, X-Sealdesk-Conversation"
                )
                response["Access-Control-Max-Age"] = "600"
                # The widget tells a customer who started too many chats when to try again.
                response["Access-Control-Expose-Headers"] = "Retry-After"
            response["Vary"] = "Origin"
            return response

        return wrapper

    return decorate


def _json_body(request: HttpRequest) -> dict[str, Any] | JsonResponse:
    if len(request.body) > MAX_BODY_BYTES:
        return error("body_too_large", f"Requests are limited to {MAX_BODY_BYTES} bytes.", 413)
    try:
        body = json.loads(request.body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json parses
        return error("malformed_body", "The body must be a JSON object.", 400)
    if not isinstance(body, dict):
        return error("malformed_body", "The body must be a JSON object.", 400)
    return body


@widget_endpoint(("GET",))
def widget_config(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Return what the widget shows before a conversation: the tenant, its teams, what it
    needs to trust agents' certificates from the organisation key its snippet pins, the
    supervision policy it tells the customer of before the chat starts, and the tenant's
    brand colour, launcher position and own texts."""
    now = timezone.now()
    after = tenant.message_after_minutes
    return JsonResponse(
        {
            "tenant": {"id": tenant.widget_id, "name": tenant.name},
            "teams": [team_payload(team, now) for team in tenant.teams.all()],
            "org": org_payload(tenant),
            "supervision": tenant.supervision,
            # After how long in the queue the widget offers to leave a message (null: never).
            "message_after_seconds": after * 60 if after else None,
            # The tenant's look and words (static/widget/brand.js); a text left blank in the
            # admin is not sent, and the widget says its own.
            "brand": {"color": tenant.brand_color, "position": tenant.launcher_position},
            "texts": {
                row.language: given for row in tenant.widget_texts.all() if (given := row.given())
            },
        }
    )


def team_payload(team: Team, now: datetime) -> dict[str, Any]:
    """Return a team as the widget offers it: whether it answers now, and if not, when next,
    and whether a message can be left for it (someone has an approved browser to read it)."""
    schedule = team.schedule()
    is_open = schedule.is_open(now)
    opens = None if is_open else schedule.next_opening(now)
    return {
        "id": team.pk,
        "name": team.name,
        "open": is_open,
        "opens_at": opens.isoformat() if opens else None,
        "time_zone": team.time_zone,
        "messages": offline.addressable(team).exists(),
    }


@widget_endpoint(("POST",))
def start_conversation(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Open a conversation for a customer device's public keys; answer with its token, once."""
    wait, which = limits.chat_start_wait(request, tenant)
    if wait:
        when = limits.in_words(wait)
        sentence = {
            "address": gettext("Too many chats were started from here. Please try again %(when)s."),
            "tenant": gettext(
                "%(tenant)s is receiving more chats than usual. Please try again %(when)s."
            ),
            "waiting": gettext(
                "All of %(tenant)s's agents are busy and the queue is full. "
                "Please try again %(when)s."
            ),
        }[which] % {"when": when, "tenant": tenant.name}
        return limits.refusal(sentence, wait)
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
    pins = body.get("pins", False)
    if not isinstance(pins, bool):
        return error("malformed_body", "pins must be true or false.", 400)
    message = body.get("message", False)
    if not isinstance(message, bool):
        return error("malformed_body", "message must be true or false.", 400)
    try:
        conversation, token = do_start_conversation(
            tenant,
            team.get(),
            device.get("sign_public"),
            device.get("box_public"),
            origin=request.headers.get("Origin", ""),
            language=body.get("language", ""),
            pins=pins,
            message=message,
        )
    except ChatError as e:
        return error(e.code, e.detail, 400)
    return JsonResponse(
        {
            "conversation": conversation_payload(conversation),
            "token": token,
            "queue_position": queue_position(conversation),
        },
        status=201,
    )


# Encrypted file uploads, for customers (widget API) and agents (dashboard) alike.


def _customer_device(request: HttpRequest, tenant: Tenant) -> tuple[Conversation, Device]:
    """Return the conversation and customer device named by the request's token headers."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    conversation = access_customer_conversation(
        tenant, request.headers.get("X-Sealdesk-Conversation", ""), token
    )
    return conversation, conversation.customer_device


def _body_json(request: HttpRequest) -> dict[str, Any]:
    body = _json_body(request)
    if isinstance(body, JsonResponse):
        raise ChatError("malformed_body", "The body must be a JSON object.")
    return body


def _content_length(request: HttpRequest) -> int:
    """Return the request's declared length (chat/uploads.py checks it against the part's)."""
    try:
        return int(request.headers.get("Content-Length", ""))
    except ValueError as e:
        raise ChatError("invalid_part", "A part needs its Content-Length.") from e


class PartResponse(StreamingHttpResponse):
    """A stored part, sent in 1 MiB pieces as they are read.

    Under ASGI Django would first read a file response's whole body into a list (it consumes
    synchronous iterators that way); here each piece is read off the event loop and sent before
    the next is read, so a part being downloaded costs the server one piece of memory.
    """

    PIECE = 1024 * 1024

    def __init__(self, content: File[bytes]) -> None:
        self._file = content
        super().__init__(self._pieces(), content_type="application/octet-stream")
        # The length is the stored object's own: the client checks it against the protocol.
        self["Content-Length"] = str(content.size)

    def close(self) -> None:
        self._file.close()
        super().close()

    def _pieces(self) -> Iterator[bytes]:
        while piece := self._file.read(self.PIECE):
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        read = sync_to_async(self._file.read, thread_sensitive=False)
        while piece := await read(self.PIECE):
            yield piece


def upload_status(upload: Upload) -> dict[str, Any]:
    """Return an upload as its clients see it."""
    return {
        "type": "upload",
        "upload": str(upload.id),
        "state": upload.state,
        "size": upload.size,
        "parts": upload.parts,
        "received_parts": upload.received_parts,
        "max_part_bytes": uploads.MAX_PART_BYTES,
    }


def serve_uploads(
    request: HttpRequest,
    device: Device,
    conversation_for: Callable[[object], Conversation],
    upload_id: object | None,
    index: int | None,
    action: str | None,
) -> HttpResponseBase:
    """Answer the upload API for DEVICE (docs/PROTOCOL.md, "Encrypted files")."""
    try:
        if upload_id is None:
            if request.method != "POST":
                return error("method_not_allowed", "Use POST.", 405)
            body = _body_json(request)
            conversation = conversation_for(body.get("conversation"))
            if wait := limits.upload_wait(request, conversation):
                sentence = gettext("Too many files were sent. Please try again %(when)s.")
                return limits.refusal(sentence % {"when": limits.in_words(wait)}, wait)
            upload = uploads.do_start_upload(
                conversation, device, body.get("size"), body.get("parts")
            )
            return JsonResponse(upload_status(upload), status=201)
        upload = uploads.upload_of(upload_id, device)
        if action == "complete" and request.method == "POST":
            upload = uploads.do_complete_upload(upload, device, _body_json(request).get("hash"))
            return JsonResponse(upload_status(upload))
        if index is not None and request.method == "PUT":
            # Read from the request as it goes to storage, never whole (chat/uploads.py).
            length = _content_length(request)
            uploads.do_store_part(upload, device, index, request, length)
            return HttpResponse(status=204)
        if index is not None and request.method == "GET":
            _, content = uploads.open_part(upload, index)
            return PartResponse(content)
        if action is None and index is None and request.method == "GET":
            return JsonResponse(upload_status(upload))
        if action is None and index is None and request.method == "DELETE":
            uploads.do_cancel_upload(upload, device)
            return HttpResponse(status=204)
        return error("method_not_allowed", "Not an operation on uploads.", 405)
    except Http404:
        return error("not_found", "No such conversation here.", 404)
    except ChatError as e:
        status = {
            "not_found": 404,
            "file_too_large": 413,
            "quota_exceeded": 413,
            "part_exists": 409,
        }.get(e.code, 400)
        return error(e.code, e.detail, status)


def _widget_uploads(
    request: HttpRequest,
    tenant: Tenant,
    upload_id: object | None = None,
    index: int | None = None,
    action: str | None = None,
) -> HttpResponseBase:
    try:
        conversation, device = _customer_device(request, tenant)
    except Http404:
        return error("not_found", "No such conversation here.", 404)

    def conversation_for(named: object) -> Conversation:
        if named != str(conversation.id):
            raise Http404
        return conversation

    return serve_uploads(request, device, conversation_for, upload_id, index, action)


widget_uploads = widget_endpoint(("GET", "POST", "PUT", "DELETE"))(_widget_uploads)
