"""TaskRouter's callbacks: checked, handled once, and brought to bear on the chat.

Each callback must carry Twilio's signature with the tenant's auth token, name the tenant's own
account and workspace and, where it names one, a Worker of the tenant; it is recorded so that a
retry or a replay changes nothing (docs/THREAT_MODEL.md, "Twilio TaskRouter").
"""

import hashlib
import json
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone
from twilio.request_validator import RequestValidator

from agents.models import Agent, Tenant
from chat.actions import presence as presence_actions
from chat.models import Offer
from taskrouter import api
from taskrouter.credentials import CredentialError, normal_sid
from taskrouter.models import Callback, Reservation, Worker, Workspace, sid_pattern
from taskrouter.router import TaskRouterRouter, close_unrouted, end_reservation, offer_reservation

log = logging.getLogger("sealdesk.twilio")

CALLBACK_MEMORY = timedelta(days=7)  # how long a handled callback is remembered
SID = {kind: re.compile(sid_pattern(kind)) for kind in ("WT", "WR", "WK", "WA")}


class WebhookRefused(Exception):
    """A callback that changes nothing: answered with STATUS and logged."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def not_signed() -> WebhookRefused:
    """The one answer to a callback that is not Twilio's for a Twilio-routed tenant with its
    token: an unknown widget id, another routing mode, no token and a bad signature all get it,
    so that the answer tells nothing of a tenant's routing mode or credentials."""
    return WebhookRefused(403, "bad_signature", "The X-Twilio-Signature does not match.")


def verify(space: Workspace, url: str, form: QueryDict, signature: str) -> None:
    """Refuse a callback that Twilio did not sign for this tenant, or that names another
    account or workspace than the tenant's. FORM is the request's POST data as received: the
    validator signs every value of a repeated field."""
    slug = space.tenant.slug
    try:
        token = space.auth_token()
    except CredentialError as e:
        # Answered as a bad signature: whoever calls learns nothing of the tenant's set-up.
        log.error("Twilio callback for %s refused: %s", slug, e)
        raise not_signed() from e
    if not signature or not RequestValidator(token).validate(url, form, signature):
        log.warning("Twilio callback for %s refused: bad signature on %s", slug, url)
        raise not_signed()
    account, workspace = form.get("AccountSid", ""), form.get("WorkspaceSid", "")
    if normal_sid(account) != space.account_sid or normal_sid(workspace) != space.sid:
        log.warning(
            "Twilio callback for %s refused: it names account %s, workspace %s",
            slug,
            account,
            workspace,
        )
        raise WebhookRefused(403, "foreign_workspace", "This is not this tenant's workspace.")


def first_time(tenant: Tenant, url: str, form: QueryDict) -> bool:
    """Record a callback; return False if the same one was handled before (a retry or replay)."""
    digest = hashlib.sha256(json.dumps([url, sorted(form.lists())]).encode()).hexdigest()
    try:
        with transaction.atomic():
            Callback.objects.create(tenant=tenant, digest=digest)
    except IntegrityError:
        log.info("Twilio callback for %s seen before: ignored", tenant.slug)
        return False
    return True


def forget_old_callbacks(now: datetime | None = None) -> int:
    """Drop the record of callbacks older than CALLBACK_MEMORY; return how many.

    Past that, a replay is harmless anyway: its offer exists, its Reservation or Task has ended,
    or its Activity change is older than the last one applied."""
    cutoff = (now or timezone.now()) - CALLBACK_MEMORY
    deleted, _ = Callback.objects.filter(received_at__lt=cutoff).delete()
    return deleted


def _sid(params: dict[str, str], name: str, kind: str) -> str:
    value = params.get(name, "")
    if not SID[kind].match(value):
        raise WebhookRefused(400, "malformed", f"{name} must be a {kind} SID.")
    return value


def _worker(space: Workspace, params: dict[str, str]) -> Worker | None:
    """Return the Worker that the callback's WorkerSid names; refuse one of no agent here."""
    if not params.get("WorkerSid"):
        return None
    sid = _sid(params, "WorkerSid", "WK")
    worker = Worker.objects.select_related("agent").filter(tenant=space.tenant, sid=sid).first()
    if worker is None:
        log.warning("Twilio callback for %s refused: unknown Worker %s", space.tenant.slug, sid)
        raise WebhookRefused(403, "unknown_worker", "No agent of this tenant is this Worker.")
    return worker


def handle_assignment(space: Workspace, params: dict[str, str]) -> None:
    """Offer the reserved chat to the Worker's agent; the answer to Twilio is always `{}`."""
    worker = _worker(space, params)
    if worker is None:
        raise WebhookRefused(400, "malformed", "WorkerSid is missing.")
    task_sid = _sid(params, "TaskSid", "WT")
    reservation_sid = _sid(params, "ReservationSid", "WR")
    try:
        attributes = json.loads(params.get("TaskAttributes") or "{}")
        conversation_id = uuid.UUID(str(attributes.get("conversation")))
    except (ValueError, AttributeError, RecursionError) as e:
        raise WebhookRefused(400, "malformed", "TaskAttributes name no conversation.") from e
    tenant = space.tenant
    conversation = (
        tenant.conversations.select_related("tenant", "team").filter(pk=conversation_id).first()
    )
    if conversation is None:
        log.warning("Task %s of %s names no conversation of its own", task_sid, tenant.slug)
        return
    if Reservation.objects.filter(sid=reservation_sid).exists():
        return  # offered already
    decision = offer_reservation(conversation, worker.agent, task_sid, reservation_sid)
    if decision == "cancel":
        log.warning("Task %s of %s is not routable any more: canceled", task_sid, conversation.pk)
        api.call_later(
            f"cancel Task {task_sid}",
            conversation.pk,
            api.finish_task,
            space,
            task_sid,
            "canceled",
            "The chat was closed, taken, or has another Task",
        )
    elif decision:
        api.call_later(
            f"{decision} Reservation {reservation_sid}",
            worker.sid,
            api.answer_reservation,
            space,
            task_sid,
            reservation_sid,
            decision,
        )


def _timestamp(params: dict[str, str]) -> datetime:
    milliseconds = params.get("TimestampMs", "")
    if milliseconds.isascii() and milliseconds.isdigit():  # with every event; seconds are coarse
        try:
            return datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC)
        except (ValueError, OverflowError, OSError) as e:  # past the years a datetime holds
            raise WebhookRefused(400, "malformed", "TimestampMs is out of range.") from e
    value = params.get("Timestamp", "")
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise WebhookRefused(400, "malformed", "Timestamp is missing or malformed.") from e


# Reservations that ended in Twilio; "rejected" by someone else than Sealdesk (Flex, the console):
# Sealdesk's own rejections leave no pending offer behind.
RESERVATION_ENDED = (
    "reservation.timeout",
    "reservation.rescinded",
    "reservation.canceled",
    "reservation.rejected",
)


def handle_event(space: Workspace, params: dict[str, str]) -> None:
    """Bring our state in line with a TaskRouter event; ignore the kinds we do not need."""
    kind = params.get("EventType", "")
    worker = _worker(space, params)
    tenant = space.tenant
    if kind in RESERVATION_ENDED:
        state = Offer.State.EXPIRED if kind == "reservation.timeout" else Offer.State.RESCINDED
        end_reservation(tenant, _sid(params, "ReservationSid", "WR"), state)
    elif kind in ("task.canceled", "task.deleted"):
        task_sid = _sid(params, "TaskSid", "WT")
        conversation = tenant.conversations.filter(twilio_task__sid=task_sid).first()
        if conversation is not None and close_unrouted(conversation):
            log.info("Task %s canceled in Twilio: %s closed", task_sid, conversation.pk)
    elif kind == "worker.activity.update" and worker is not None:
        _apply_activity(space, worker, _sid(params, "WorkerActivitySid", "WA"), _timestamp(params))


def _apply_activity(space: Workspace, worker: Worker, activity_sid: str, at: datetime) -> None:
    """Set the agent's presence to the one of the Worker's new Activity, unless a newer Activity
    change was applied already. The Worker remembers it, so that the router does not send it
    back to Twilio (TaskRouterRouter.agent_changed)."""
    presences = {sid: presence for presence, sid in space.activity_sids().items()}
    presence = presences.get(activity_sid)
    if presence is None:
        log.warning(
            "Activity %s of %s maps to no presence: ignored", activity_sid, space.tenant.slug
        )
        return
    with transaction.atomic():
        worker = Worker.objects.select_for_update().select_related("agent").get(pk=worker.pk)
        if worker.activity_at and at <= worker.activity_at:
            return  # an older change, arriving late
        worker.activity_at, worker.presence = at, presence
        worker.save(update_fields=["activity_at", "presence"])
        agent = worker.agent
        withdrawn = []
        if presence != Agent.Presence.AVAILABLE:
            withdrawn = list(
                Offer.objects.filter(
                    agent=agent, state=Offer.State.PENDING, twilio_reservation__isnull=False
                ).select_related("conversation", "agent")
            )
        presence_actions.do_set_presence(agent, presence)
        for offer in withdrawn:  # Twilio may not end them itself when the Activity changes
            TaskRouterRouter(space.tenant).answer_offer(offer, "rejected")
