"""TaskRouter's callbacks, under /twilio/<widget id>/: thin views around taskrouter.callbacks.

Each is checked against X-Twilio-Signature with the tenant's auth token over the public URL
(settings.PUBLIC_URL behind a reverse proxy), and handled once: a retry or a replay of the same
signed request changes nothing and gets the same answer.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agents.models import Tenant
from taskrouter import callbacks
from taskrouter.models import Workspace

log = logging.getLogger("sealdesk.twilio")


def access_workspace(widget_id: object) -> Workspace:
    """Return the Workspace of the active tenant in Twilio TaskRouter mode whose callbacks these
    are, else raise Http404 (as agents/access.py does for the core's objects)."""
    try:
        return Workspace.objects.select_related("tenant").get(
            tenant__widget_id=widget_id,
            tenant__is_active=True,
            tenant__routing=Tenant.Routing.TWILIO,
        )
    except (ObjectDoesNotExist, ValueError, TypeError) as e:
        raise Http404("No Twilio-routed tenant matches the given query.") from e


def public_url(request: HttpRequest) -> str:
    """Return the URL Twilio called: what it signed."""
    if settings.PUBLIC_URL:
        return f"{settings.PUBLIC_URL}{request.get_full_path()}"
    return request.build_absolute_uri()


def _handle(
    request: HttpRequest,
    widget_id: str,
    handler: Callable[[Workspace, dict[str, str]], None],
    answer: Callable[[], HttpResponse],
) -> HttpResponse:
    url = public_url(request)
    form = request.POST
    params = {name: form[name] for name in form}  # what the handlers read: one value a name
    try:
        try:
            space = access_workspace(widget_id)
        except Http404 as e:
            log.warning("Twilio callback refused: no Twilio-routed tenant has widget %s", widget_id)
            raise callbacks.not_signed() from e
        callbacks.verify(space, url, form, request.headers.get("X-Twilio-Signature", ""))
        with transaction.atomic():
            if callbacks.first_time(space.tenant, url, form):
                handler(space, params)
    except callbacks.WebhookRefused as e:
        return JsonResponse({"code": e.code, "detail": e.detail}, status=e.status)
    return answer()


@csrf_exempt
@require_POST
def assignment(request: HttpRequest, widget_id: str) -> HttpResponse:
    """The Workflow's assignment callback: answered `{}` at once; the agent decides later."""
    return _handle(request, widget_id, callbacks.handle_assignment, lambda: JsonResponse({}))


@csrf_exempt
@require_POST
def events(request: HttpRequest, widget_id: str) -> HttpResponse:
    """The Workspace's event callback: answered 204, as TaskRouter asks."""
    return _handle(
        request,
        widget_id,
        callbacks.handle_event,
        lambda: HttpResponse(status=204, content_type="application/json"),
    )
