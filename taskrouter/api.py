"""Calls to Twilio's TaskRouter API, through the twilio SDK, on lanes.

API calls run on background threads, after the change that asked for them has committed: a slow
Twilio must not hold up the chat or a callback's 5 s answer. Calls about one conversation (or one
Worker) share a lane, one thread that runs them in order; there are LANES lanes per process. A
call that fails on a 5xx, a 429 or the network is tried again; one that still fails is logged,
and a Task that could not be created is asked for again by the router's dispatch.
"""

import json
import logging
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from requests import RequestException
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from agents.models import Agent
from chat.models import Conversation
from taskrouter.models import Task, TaskQueue, Worker, Workspace

log = logging.getLogger("sealdesk.twilio")

RETRY_PAUSES = (0.5, 2.0)  # seconds before trying a failed call again (5xx, 429, network)
CALL_TIMEOUT = 10.0  # seconds for one API request


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


def client(space: Workspace, http: _HttpClient | None = None) -> Client:
    """Return a twilio SDK client for the workspace's account, with this thread's own HTTP
    connections unless HTTP is given."""
    if http is None:
        if getattr(_local, "http", None) is None:
            _local.http = _HttpClient(timeout=CALL_TIMEOUT)
        http = _local.http
    return Client(space.account_sid, space.auth_token(), http_client=http)


def workspace_api(space: Workspace, http: _HttpClient | None = None) -> Any:
    """Return the SDK's handle on the Workspace."""
    return client(space, http).taskrouter.v1.workspaces(space.sid)


def call_later(
    description: str,
    key: object,
    function: Callable[..., None],
    *args: Any,
    on_failure: Callable[[], None] | None = None,
) -> None:
    """Run FUNCTION(*ARGS) once the current transaction has committed, on KEY's lane: after the
    calls asked for before with the same KEY (a conversation's id, or a Worker SID). Run
    ON_FAILURE, on the lane, if every try failed."""

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
            if on_failure is not None:
                on_failure()
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
    attributes = {
        "channel": "chat",
        "tenant": conversation.tenant.slug,
        "team": team.name,
        "task_queue_sid": TaskQueue.sid_of(team),
        "language": conversation.language,
        "conversation": str(conversation.pk),
    }
    # A parked chat that resumes goes to its agent first where the Workflow targets this.
    preferred = conversation.preferred_agent
    if preferred is not None and (worker := Worker.sid_of(preferred)):
        attributes["preferred_worker"] = worker
    return attributes


def create_task(conversation_id: uuid.UUID) -> None:
    """Create the conversation's Task; cancel it again if the chat closed meanwhile."""
    conversation = Conversation.objects.select_related(
        "tenant__twilio_workspace", "team", "preferred_agent"
    ).get(pk=conversation_id)
    space = conversation.tenant.twilio_workspace
    asked = Task.objects.filter(conversation=conversation)
    if conversation.state != Conversation.State.QUEUED or asked.exclude(sid="").exists():
        return  # closed, taken or given a Task since it was asked for
    # A chat sent back to a queue (a transfer, a resume) goes ahead of those waiting there.
    ahead = {"priority": 10} if conversation.priority else {}
    task = workspace_api(space).tasks.create(
        attributes=json.dumps(task_attributes(conversation)),
        workflow_sid=space.workflow_sid,
        task_channel="chat",
        **ahead,
    )
    log.info("Task %s created for conversation %s", task.sid, conversation.pk)
    asked.filter(sid="").update(sid=task.sid)
    conversation.refresh_from_db()
    if asked.get().sid != task.sid:
        finish_task(space, task.sid, "canceled", "Sealdesk has another Task for this chat")
    elif conversation.state in (Conversation.State.CLOSED, Conversation.State.MESSAGE):
        # Closed, or left as a message, before an agent took it (chat/actions/offline.py).
        finish_task(space, task.sid, "canceled", "The chat closed before an agent took it")


def finish_task(space: Workspace, task_sid: str, status: str, reason: str) -> None:
    workspace_api(space).tasks(task_sid).update(assignment_status=status, reason=reason)


def answer_reservation(space: Workspace, task_sid: str, reservation_sid: str, status: str) -> None:
    workspace_api(space).tasks(task_sid).reservations(reservation_sid).update(
        reservation_status=status
    )


def set_activity(space: Workspace, worker_sid: str, presence: str) -> None:
    activity = space.activity_sids()[presence]
    away = presence != Agent.Presence.AVAILABLE
    workspace_api(space).workers(worker_sid).update(
        activity_sid=activity, reject_pending_reservations=away
    )
