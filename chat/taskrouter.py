"""Twilio TaskRouter as a tenant's router: new chats become Tasks, Reservations become offers.

Twilio learns routing attributes only (tenant, team, channel, language, conversation id): never
pre-chat answers, names or messages, which it could not read anyway (they are end-to-end
encrypted). The flow, with the README's "Twilio TaskRouter" section for the workspace set-up:

1. A queued conversation gets a Task (`create_task`), through the twilio SDK.
2. TaskRouter reserves a Worker and calls the assignment callback; the Worker's agent gets an
   offer on the dashboard and Twilio gets `{}` at once.
3. The agent accepts or declines, or the offer times out: the Reservation is accepted or rejected
   through the API. Closing the conversation completes its Task (or cancels it, if no agent had
   taken it).
4. The event callback keeps the rest consistent: Reservations that Twilio ends withdraw their
   offers, a canceled Task closes its waiting conversation, and Activity changes made in Twilio
   set the agent's presence (presence set in the dashboard goes the other way).

API calls run on background threads, after the change that asked for them has committed: a slow
Twilio must not hold up the chat or a webhook's 5 s answer. Calls about one conversation (or one
Worker) share a lane, one thread that runs them in order; there are LANES lanes per process. A
failed call is logged; a Task that could not be created is asked for again by the sweeper.
"""

import hashlib
import json
import logging
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from agents.credentials import CredentialError
from agents.models import Agent, Team, Tenant, sid_pattern
from chat.actions import lifecycle, offers
from chat.actions import presence as presence_actions
from chat.actions.events import lock_conversation
from chat.errors import ChatError
from chat.models import Conversation, Offer, TwilioCallback

log = logging.getLogger("sealdesk.twilio")

TASK_RETRY_AFTER = timedelta(seconds=60)
TASK_GIVE_UP_AFTER = timedelta(minutes=10)  # a chat whose Task could not be made by then closes
RETRY_PAUSES = (0.5, 2.0)  # seconds before trying a failed call again (5xx, 429, network)
CALLBACK_MEMORY = timedelta(days=7)  # how long a handled callback is remembered
CALL_TIMEOUT = 10.0  # seconds for one API request
SID = {kind: re.compile(sid_pattern(kind)) for kind in ("WT", "WR", "WK", "WA")}


class WebhookRefused(Exception):
    """A callback that changes nothing: answered with STATUS and logged."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


# --- Calls to Twilio's API ------------------------------------------------------------------


class _HttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending to settings.TWILIO_API_BASE_URL when that is set.

    Only tests and local trials set it (Twilio cannot be reached from CI): the requests are the
    SDK's own, with the same paths, bodies and authentication; only the host differs.
    """

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        base = settings.TWILIO_API_BASE_URL
        if base:
            url = base + "/" + url.split("/", 3)[3]
        return super().request(method, url, *args, **kwargs)


LANES = 8
_lanes = [
    ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"twilio-api-{n}") for n in range(LANES)
]
_local = threading.local()


def api(tenant: Tenant, http: _HttpClient | None = None) -> Client:
    """Return a twilio SDK client for the tenant's account, with this thread's own HTTP
    connections unless HTTP is given."""
    if http is None:
        if getattr(_local, "http", None) is None:
            _local.http = _HttpClient(timeout=CALL_TIMEOUT)
        http = _local.http
    return Client(tenant.twilio_account_sid, tenant.twilio_auth_token(), http_client=http)


def workspace(tenant: Tenant, http: _HttpClient | None = None) -> Any:
    return api(tenant, http).taskrouter.v1.workspaces(tenant.twilio_workspace_sid)


def call_later(description: str, key: object, function: Callable[..., None], *args: Any) -> None:
    """Run FUNCTION(*ARGS) once the current transaction has committed, on KEY's lane: after the
    calls asked for before with the same KEY (a conversation's id, or a Worker SID)."""

    def run() -> None:
        try:
            for attempt, pause in enumerate((*RETRY_PAUSES, None), start=1):
                try:
                    function(*args)
                    return
                except (TwilioRestException, RequestException) as e:
                    status = getattr(e, "status", 0)
                    if pause is None or (400 <= status < 500 and status != 429):
                        raise
                    log.warning("Twilio API call failed (try %d): %s: %s", attempt, description, e)
                    time.sleep(pause)
        except Exception:
            log.exception("Twilio API call failed: %s", description)
        finally:
            connection.close()  # this lane's own database connection

    lane = _lanes[zlib.crc32(str(key).encode()) % LANES]
    transaction.on_commit(lambda: lane.submit(run), robust=True)


def flush(timeout: float = 30) -> None:
    """Wait until the API calls asked for so far have run (tests, and shutting down)."""
    done: list[Future[None]] = [lane.submit(lambda: None) for lane in _lanes]
    for future in done:
        future.result(timeout)


def task_attributes(conversation: Conversation) -> dict[str, str]:
    """Return all that Twilio learns of a chat: what routing needs, nothing the customer wrote."""
    team = conversation.team
    return {
        "channel": "chat",
        "tenant": conversation.tenant.slug,
        "team": team.name,
        "task_queue_sid": team.twilio_task_queue_sid,
        "language": conversation.language,
        "conversation": str(conversation.pk),
    }


def create_task(conversation_id: uuid.UUID) -> None:
    """Create the conversation's Task; cancel it again if the chat closed meanwhile."""
    conversation = Conversation.objects.select_related("tenant", "team").get(pk=conversation_id)
    tenant = conversation.tenant
    if conversation.state != Conversation.State.QUEUED or conversation.twilio_task_sid:
        return  # closed, taken or given a Task since it was asked for
    task = workspace(tenant).tasks.create(
        attributes=json.dumps(task_attributes(conversation)),
        workflow_sid=tenant.twilio_workflow_sid,
        task_channel="chat",
    )
    log.info("Task %s created for conversation %s", task.sid, conversation.pk)
    Conversation.objects.filter(pk=conversation.pk, twilio_task_sid="").update(
        twilio_task_sid=task.sid
    )
    conversation.refresh_from_db()
    if conversation.twilio_task_sid != task.sid:
        finish_task(tenant, task.sid, "canceled", "Sealdesk has another Task for this chat")
    elif conversation.state == Conversation.State.CLOSED:
        finish_task(tenant, task.sid, "canceled", "The chat closed before an agent took it")


def finish_task(tenant: Tenant, task_sid: str, status: str, reason: str) -> None:
    workspace(tenant).tasks(task_sid).update(assignment_status=status, reason=reason)


def answer_reservation(tenant: Tenant, task_sid: str, reservation_sid: str, status: str) -> None:
    workspace(tenant).tasks(task_sid).reservations(reservation_sid).update(
        reservation_status=status
    )


def set_activity(tenant: Tenant, worker_sid: str, presence: str) -> None:
    activity = tenant.activity_sids()[presence]
    away = presence != Agent.Presence.AVAILABLE
    workspace(tenant).workers(worker_sid).update(
        activity_sid=activity, reject_pending_reservations=away
    )


def request_task(conversation: Conversation) -> bool:
    """Ask for the conversation's Task unless it has one or one was asked for lately."""
    now = timezone.now()
    claimed = (
        Conversation.objects.filter(
            pk=conversation.pk, state=Conversation.State.QUEUED, twilio_task_sid=""
        )
        .filter(
            Q(twilio_task_requested_at__isnull=True)
            | Q(twilio_task_requested_at__lt=now - TASK_RETRY_AFTER)
        )
        .update(twilio_task_requested_at=now)
    )
    if claimed:
        call_later(
            f"create the Task of {conversation.pk}", conversation.pk, create_task, conversation.pk
        )
    return bool(claimed)


class TaskRouterRouter:
    """The Router of a tenant in Twilio TaskRouter mode (chat.router.Router)."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def conversation_queued(self, conversation: Conversation) -> None:
        request_task(conversation)

    def offer_accepted(self, offer: Offer) -> None:
        self.answer_offer(offer, "accepted")

    def offer_finished(self, offer: Offer) -> None:
        if offer.state in (Offer.State.DECLINED, Offer.State.EXPIRED):
            self.answer_offer(offer, "rejected")

    def answer_offer(self, offer: Offer, status: str) -> None:
        """Accept or reject the Reservation that OFFER stands for, if it stands for one."""
        if not offer.twilio_reservation_sid:
            return
        # On the Worker's lane: an Activity change must not overtake the answer.
        call_later(
            f"{status} Reservation {offer.twilio_reservation_sid}",
            offer.agent.twilio_worker_sid,
            answer_reservation,
            self.tenant,
            offer.conversation.twilio_task_sid,
            offer.twilio_reservation_sid,
            status,
        )

    def agent_changed(self, agent: Agent) -> None:
        if agent.twilio_worker_sid:
            call_later(
                f"set the Activity of Worker {agent.twilio_worker_sid}",
                agent.twilio_worker_sid,
                set_activity,
                self.tenant,
                agent.twilio_worker_sid,
                agent.presence,
            )

    def conversation_closed(self, conversation: Conversation) -> None:
        if not conversation.twilio_task_sid:
            return  # create_task cancels a Task that comes after the close
        if conversation.disposition == Conversation.Disposition.UNROUTED:
            return  # closed because Twilio ended its Task, or never made one
        key: object = conversation.pk
        if conversation.accepted_at:
            status, reason = "completed", "The chat was closed"
            agents = conversation.current_agents()
            if agents and agents[0].twilio_worker_sid:
                key = agents[0].twilio_worker_sid  # after the acceptance, on the Worker's lane
        else:
            status, reason = "canceled", "The customer left before an agent took the chat"
        call_later(
            f"{status} Task {conversation.twilio_task_sid}",
            key,
            finish_task,
            self.tenant,
            conversation.twilio_task_sid,
            status,
            reason,
        )

    def dispatch(self, team: Team) -> int:
        """Ask again for the Tasks of waiting chats whose Task could not be created, and close
        those that waited TASK_GIVE_UP_AFTER without one, so that no customer waits forever."""
        waiting = team.conversations.filter(state=Conversation.State.QUEUED, twilio_task_sid="")
        cutoff = timezone.now() - TASK_GIVE_UP_AFTER
        for conversation in waiting.filter(created_at__lt=cutoff):
            if close_unrouted(conversation):
                log.error("No Task could be created for %s: chat closed", conversation.pk)
        return sum(request_task(conversation) for conversation in waiting)


def offer_reservation(
    conversation: Conversation, agent: Agent, task_sid: str, reservation_sid: str
) -> str:
    """Offer a conversation for a Twilio TaskRouter Reservation, under the conversation's lock.

    Return what Twilio must be told: "" (nothing yet: the agent decides), "accepted" (the agent
    has the chat already: an earlier answer was lost), "rejected" (no offer could be made), or
    "cancel" (the Task must end: the chat closed, is another agent's, or has another Task).
    """
    now = timezone.now()
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        if not conversation.twilio_task_sid:  # the callback came before the Task SID was stored
            conversation.twilio_task_sid = task_sid
            conversation.save(update_fields=["twilio_task_sid"])
        if conversation.twilio_task_sid != task_sid:
            return "cancel"
        if conversation.state == Conversation.State.CLOSED:
            return "cancel"
        if conversation.state == Conversation.State.ACTIVE:
            return "accepted" if agent in conversation.current_agents() else "cancel"
        # TaskRouter reserves one Worker at a time: a new Reservation means the last one ended,
        # even if its timeout event has not arrived yet.
        offers.rescind_pending(Q(conversation=conversation), now)
        offer = offers.do_offer(conversation, agent, now)
        if offer is None:
            return "rejected"
        offer.twilio_reservation_sid = reservation_sid
        offer.save(update_fields=["twilio_reservation_sid"])
        return ""


def end_reservation(tenant: Tenant, reservation_sid: str, state: str) -> Offer | None:
    """End the pending offer that stands for a Reservation that Twilio ended (timed out,
    rescinded or canceled); return it, or None if no such offer was pending."""
    with transaction.atomic():
        offer = (
            Offer.objects.select_for_update()
            .filter(
                twilio_reservation_sid=reservation_sid,
                conversation__tenant=tenant,
                state=Offer.State.PENDING,
            )
            .first()
        )
        if offer is not None:
            offers.finish_offer(offer, state, timezone.now())
    return offer


def close_unrouted(conversation: Conversation) -> Conversation | None:
    """Close a waiting conversation that Twilio gave up on, so that the customer is not left
    waiting; return it, or None if it was not waiting."""
    try:
        return lifecycle.do_close_conversation(
            conversation, None, Conversation.Disposition.UNROUTED
        )
    except ChatError:
        return None  # taken or closed meanwhile


def callback_urls(tenant: Tenant) -> tuple[str, str]:
    """Return the assignment and event callback URLs to paste into Twilio."""
    return (
        settings.PUBLIC_URL + reverse("twilio_assignment", args=[tenant.widget_id]),
        settings.PUBLIC_URL + reverse("twilio_events", args=[tenant.widget_id]),
    )


def check_setup(tenant: Tenant) -> list[str]:
    """Ask Twilio whether the tenant's SIDs exist and fit; return the problems found."""
    problems: list[str] = []

    def fetch(what: str, resource: Any) -> Any:
        try:
            return resource.fetch()
        except TwilioRestException as e:
            problems.append(f"{what}: Twilio answered {e.status} ({e.msg}).")
            return None

    try:
        space = workspace(tenant)
        found = fetch(f"Workspace {tenant.twilio_workspace_sid}", space)
    except (CredentialError, TwilioException, RequestException) as e:
        return [f"Twilio could not be asked: {e}"]
    if found is None:
        return problems
    assignment_url, events_url = callback_urls(tenant)
    if settings.PUBLIC_URL and found.event_callback_url != events_url:
        problems.append(
            f"The Workspace's event callback URL is {found.event_callback_url or 'empty'}, "
            f"not {events_url}."
        )
    workflow = fetch(
        f"Workflow {tenant.twilio_workflow_sid}", space.workflows(tenant.twilio_workflow_sid)
    )
    timeout = getattr(workflow, "task_reservation_timeout", None)
    if workflow and timeout is not None and int(timeout) <= tenant.offer_timeout_seconds:
        problems.append(
            f"The Workflow's Task Reservation Timeout ({timeout} s) must be longer than the "
            f"offer timeout ({tenant.offer_timeout_seconds} s), or Twilio ends Reservations "
            f"that agents are still deciding on."
        )
    if not settings.PUBLIC_URL:
        problems.append(
            "PUBLIC_URL is not set, so the callback URLs in Twilio could not be compared; set it "
            "to the address Twilio calls (signatures are checked over it behind a proxy)."
        )
    if workflow and settings.PUBLIC_URL and workflow.assignment_callback_url != assignment_url:
        problems.append(
            f"The Workflow's assignment callback URL is "
            f"{workflow.assignment_callback_url or 'empty'}, not {assignment_url}."
        )
    for presence, sid in tenant.activity_sids().items():
        activity = fetch(f"Activity {sid} ({presence})", space.activities(sid))
        wanted = presence == Agent.Presence.AVAILABLE
        if activity is not None and bool(activity.available) != wanted:
            problems.append(
                f"Activity {activity.friendly_name} ({presence}) must be "
                f"{'available' if wanted else 'unavailable'} in Twilio."
            )
    for team in tenant.teams.all():
        if not team.twilio_task_queue_sid:
            problems.append(f"Team {team.name} has no TaskQueue: its chats cannot be routed.")
        else:
            fetch(f"Team {team.name}'s TaskQueue", space.task_queues(team.twilio_task_queue_sid))
    for agent in tenant.agents.all():
        if not agent.twilio_worker_sid:
            problems.append(f"Agent {agent.display_name} has no Worker: gets no chats.")
        else:
            fetch(f"Agent {agent.display_name}'s Worker", space.workers(agent.twilio_worker_sid))
    return problems


# --- Callbacks from Twilio ------------------------------------------------------------------


def verify(tenant: Tenant, url: str, form: QueryDict, signature: str) -> None:
    """Refuse a callback that Twilio did not sign for this tenant, or that names another
    account or workspace than the tenant's. FORM is the request's POST data as received: the
    validator signs every value of a repeated field."""
    try:
        token = tenant.twilio_auth_token()
    except CredentialError as e:
        log.error("Twilio callback for %s refused: %s", tenant.slug, e)
        raise WebhookRefused(403, "no_credentials", "This tenant's auth token is missing.") from e
    if not signature or not RequestValidator(token).validate(url, form, signature):
        log.warning("Twilio callback for %s refused: bad signature on %s", tenant.slug, url)
        raise WebhookRefused(403, "bad_signature", "The X-Twilio-Signature does not match.")
    account, space = form.get("AccountSid", ""), form.get("WorkspaceSid", "")
    if account != tenant.twilio_account_sid or space != tenant.twilio_workspace_sid:
        log.warning(
            "Twilio callback for %s refused: it names account %s, workspace %s",
            tenant.slug,
            account,
            space,
        )
        raise WebhookRefused(403, "foreign_workspace", "This is not this tenant's workspace.")


def first_time(tenant: Tenant, url: str, form: QueryDict) -> bool:
    """Record a callback; return False if the same one was handled before (a retry or replay)."""
    digest = hashlib.sha256(json.dumps([url, sorted(form.lists())]).encode()).hexdigest()
    try:
        with transaction.atomic():
            TwilioCallback.objects.create(tenant=tenant, digest=digest)
    except IntegrityError:
        log.info("Twilio callback for %s seen before: ignored", tenant.slug)
        return False
    return True


def forget_old_callbacks(now: datetime | None = None) -> int:
    """Drop the record of callbacks older than CALLBACK_MEMORY; return how many.

    Past that, a replay is harmless anyway: its offer exists, its Reservation or Task has ended,
    or its Activity change is older than the last one applied."""
    cutoff = (now or timezone.now()) - CALLBACK_MEMORY
    deleted, _ = TwilioCallback.objects.filter(received_at__lt=cutoff).delete()
    return deleted


def _sid(params: dict[str, str], name: str, kind: str) -> str:
    value = params.get(name, "")
    if not SID[kind].match(value):
        raise WebhookRefused(400, "malformed", f"{name} must be a {kind} SID.")
    return value


def _worker(tenant: Tenant, params: dict[str, str]) -> Agent | None:
    """Return the agent that the callback's WorkerSid maps to; refuse an unknown Worker."""
    if not params.get("WorkerSid"):
        return None
    worker_sid = _sid(params, "WorkerSid", "WK")
    agent = tenant.agents.filter(twilio_worker_sid=worker_sid).first()
    if agent is None:
        log.warning("Twilio callback for %s refused: unknown Worker %s", tenant.slug, worker_sid)
        raise WebhookRefused(403, "unknown_worker", "No agent of this tenant is this Worker.")
    return agent


def handle_assignment(tenant: Tenant, params: dict[str, str]) -> None:
    """Offer the reserved chat to the Worker's agent; the answer to Twilio is always `{}`."""
    agent = _worker(tenant, params)
    if agent is None:
        raise WebhookRefused(400, "malformed", "WorkerSid is missing.")
    task_sid = _sid(params, "TaskSid", "WT")
    reservation_sid = _sid(params, "ReservationSid", "WR")
    try:
        attributes = json.loads(params.get("TaskAttributes") or "{}")
        conversation_id = uuid.UUID(str(attributes.get("conversation")))
    except (ValueError, AttributeError) as e:
        raise WebhookRefused(400, "malformed", "TaskAttributes name no conversation.") from e
    conversation = (
        tenant.conversations.select_related("tenant", "team").filter(pk=conversation_id).first()
    )
    if conversation is None:
        log.warning("Task %s of %s names no conversation of its own", task_sid, tenant.slug)
        return
    if Offer.objects.filter(twilio_reservation_sid=reservation_sid).exists():
        return  # offered already
    decision = offer_reservation(conversation, agent, task_sid, reservation_sid)
    if decision == "cancel":
        log.warning("Task %s of %s is not routable any more: canceled", task_sid, conversation.pk)
        call_later(
            f"cancel Task {task_sid}",
            conversation.pk,
            finish_task,
            tenant,
            task_sid,
            "canceled",
            "The chat was closed, taken, or has another Task",
        )
    elif decision:
        call_later(
            f"{decision} Reservation {reservation_sid}",
            agent.twilio_worker_sid,
            answer_reservation,
            tenant,
            task_sid,
            reservation_sid,
            decision,
        )


def _timestamp(params: dict[str, str]) -> datetime:
    if params.get("TimestampMs", "").isdigit():  # sent with every event; seconds are too coarse
        return datetime.fromtimestamp(int(params["TimestampMs"]) / 1000, tz=UTC)
    value = params.get("Timestamp", "")
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except ValueError:
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


def handle_event(tenant: Tenant, params: dict[str, str]) -> None:
    """Bring our state in line with a TaskRouter event; ignore the kinds we do not need."""
    kind = params.get("EventType", "")
    agent = _worker(tenant, params)
    if kind in RESERVATION_ENDED:
        state = Offer.State.EXPIRED if kind == "reservation.timeout" else Offer.State.RESCINDED
        end_reservation(tenant, _sid(params, "ReservationSid", "WR"), state)
    elif kind in ("task.canceled", "task.deleted"):
        task_sid = _sid(params, "TaskSid", "WT")
        conversation = tenant.conversations.filter(twilio_task_sid=task_sid).first()
        if conversation is not None and close_unrouted(conversation):
            log.info("Task %s canceled in Twilio: %s closed", task_sid, conversation.pk)
    elif kind == "worker.activity.update" and agent is not None:
        _apply_activity(tenant, agent, _sid(params, "WorkerActivitySid", "WA"), _timestamp(params))


def _apply_activity(tenant: Tenant, agent: Agent, activity_sid: str, at: datetime) -> None:
    presences = {sid: presence for presence, sid in tenant.activity_sids().items()}
    presence = presences.get(activity_sid)
    if presence is None:
        log.warning("Activity %s of %s maps to no presence: ignored", activity_sid, tenant.slug)
        return
    with transaction.atomic():
        agent = Agent.objects.select_for_update().get(pk=agent.pk)
        if agent.twilio_activity_at and at <= agent.twilio_activity_at:
            return  # an older change, arriving late
        Agent.objects.filter(pk=agent.pk).update(twilio_activity_at=at)
        withdrawn = []
        if presence != Agent.Presence.AVAILABLE:
            withdrawn = list(
                Offer.objects.filter(
                    agent=agent, state=Offer.State.PENDING, twilio_reservation_sid__isnull=False
                ).select_related("conversation", "agent")
            )
        presence_actions.do_set_presence(agent, presence, from_router=True)
        for offer in withdrawn:  # Twilio may not end them itself when the Activity changes
            TaskRouterRouter(tenant).answer_offer(offer, "rejected")
