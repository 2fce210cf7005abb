"""Twilio TaskRouter routing: Tasks for new chats, signed callbacks, answers through the API.

Twilio cannot be reached from here: the twilio SDK's calls go to a local recording server
(tests/twilio_api.py) and every assertion on them is on the exact request the SDK made. The
callbacks are signed with the twilio library's RequestValidator, as Twilio signs them.
Personas: Acme (Ada, Sam, Alice) switched to Twilio mode; Globex (Oscar, Olga, Otto), the
outsider, with a workspace of its own.
"""

import json
import logging
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect
from twilio.request_validator import RequestValidator

from agents.models import Agent, Tenant
from chat import router
from chat.actions import lifecycle, offers, offline, requeue
from chat.actions.presence import do_set_presence
from chat.errors import ChatError
from chat.models import Conversation, Event, Offer
from chat.router import router_for
from taskrouter import api, callbacks, models, setup_check
from tests.admin_forms import admin_post, inline_fields
from tests.browser import (
    accept_offer,
    agent_says,
    chromium,
    csp_violations,
    customer_says,
    log_in_agent,
    open_page,
    open_widget,
    outside_playwright,
    start_chat,
)
from tests.factories import (
    PASSWORD,
    Staff,
    certified_device,
    device_for,
    pending,
    start,
    with_org_key,
)
from tests.live import DaphneServer, DemoSite, stored_text
from tests.test_requeue import Floor
from tests.twilio_api import Call, TwilioApi, sid, signed

# Committed for real: the API thread reads what the callbacks and actions wrote.
pytestmark = pytest.mark.django_db(transaction=True)

ACME_TOKEN = "a1" * 16
GLOBEX_TOKEN = "b2" * 16


@dataclass
class Workspace:
    """A tenant's TaskRouter workspace, as its admin entered it in Sealdesk."""

    staff: Staff
    token: str
    account: str = field(default_factory=lambda: sid("AC"))
    workspace: str = field(default_factory=lambda: sid("WS"))
    workflow: str = field(default_factory=lambda: sid("WW"))
    queue: str = field(default_factory=lambda: sid("WQ"))
    activities: dict[str, str] = field(
        default_factory=lambda: {presence: sid("WA") for presence in Agent.Presence.values}
    )
    workers: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tenant = self.staff.tenant
        tenant.routing = Tenant.Routing.TWILIO
        tenant.full_clean()
        tenant.save()
        space = models.Workspace(
            tenant=tenant,
            account_sid=self.account,
            sid=self.workspace,
            workflow_sid=self.workflow,
            available_activity_sid=self.activities["available"],
            away_activity_sid=self.activities["away"],
            offline_activity_sid=self.activities["offline"],
        )
        space.full_clean()
        space.save()
        models.TaskQueue.objects.create(team=self.staff.team, sid=self.queue)
        for agent in (self.staff.admin, self.staff.supervisor, self.staff.agent):
            self.workers[agent.pk] = sid("WK")
            models.Worker.objects.create(agent=agent, sid=self.workers[agent.pk])

    @property
    def tasks_path(self) -> str:
        return f"/v1/Workspaces/{self.workspace}/Tasks"

    def params(self, **values: str) -> dict[str, str]:
        """Return a callback's parameters: this account and workspace, and VALUES."""
        return {"AccountSid": self.account, "WorkspaceSid": self.workspace, **values}

    def assignment(self, conversation: Conversation, agent: Agent, **values: str) -> dict[str, str]:
        conversation.refresh_from_db()
        attributes = api.task_attributes(conversation)
        defaults = {
            "WorkflowSid": self.workflow,
            "TaskQueueSid": self.queue,
            "TaskSid": task_sid(conversation),
            "TaskAttributes": json.dumps(attributes),
            "TaskAge": "2",
            "TaskPriority": "0",
            "ReservationSid": sid("WR"),
            "WorkerSid": self.workers[agent.pk],
            "WorkerAttributes": "{}",
        }
        return self.params(**{**defaults, **values})

    def event(self, kind: str, **values: str) -> dict[str, str]:
        defaults = {"EventType": kind, "Timestamp": str(int(time.time())), "EventDescription": kind}
        return self.params(**{**defaults, **values})


@pytest.fixture
def twilio_api(settings: Any) -> Iterator[TwilioApi]:
    server = TwilioApi()
    server.start()
    settings.TWILIO_API_BASE_URL = server.url
    yield server
    api.flush()
    server.stop()


def with_token(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """Give the workspace's tenant its account and the server the account's auth token, as the
    operator would: in the environment (and so to the Daphne processes started after it)."""
    monkeypatch.setenv(f"TWILIO_ACCOUNT_TENANT_{workspace.account}", workspace.staff.tenant.slug)
    monkeypatch.setenv(f"TWILIO_AUTH_TOKEN_{workspace.account}", workspace.token)
    return workspace


@pytest.fixture
def acme_twilio(acme: Staff, twilio_api: TwilioApi, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    return with_token(Workspace(acme, ACME_TOKEN), monkeypatch)


@pytest.fixture
def globex_twilio(
    globex: Staff, twilio_api: TwilioApi, monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    return with_token(Workspace(globex, GLOBEX_TOKEN), monkeypatch)


def task_sid(conversation: Conversation) -> str:
    """Return the SID of the conversation's Task as stored now, or "" if there is none yet."""
    return models.Task.sid_of(conversation)


def with_task(twilio_api: TwilioApi, workspace: Workspace) -> Conversation:
    """Start a chat and wait until its Task is created and stored."""
    conversation = start(workspace.staff)
    twilio_api.wait_for(lambda c: c.path == workspace.tasks_path)
    api.flush()
    conversation.refresh_from_db()
    assert task_sid(conversation).startswith("WT")
    return conversation


def callback(
    client: Client,
    tenant: Tenant,
    kind: str,
    params: dict[str, str],
    token: str,
    signed_url: str | None = None,
) -> Any:
    """POST a callback as Twilio does: form-encoded and signed over the URL it calls."""
    path = reverse(f"twilio_{kind}", args=[tenant.widget_id])
    headers = signed(signed_url or f"http://testserver{path}", params, token)
    return client.post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def offered(conversation: Conversation) -> Offer:
    offer = pending(conversation)
    assert offer is not None, "no pending offer"
    return offer


def reservation_answers(twilio_api: TwilioApi) -> list[Call]:
    api.flush()
    return [call for call in twilio_api.posts() if "/Reservations/" in call.path]


# --- Tasks ----------------------------------------------------------------------------------


def test_a_new_chat_becomes_a_task_with_routing_attributes_only(
    acme_twilio: Workspace, globex: Staff, twilio_api: TwilioApi
) -> None:
    alice = acme_twilio.staff.agent
    device_for(alice)
    do_set_presence(alice, Agent.Presence.AVAILABLE)
    conversation = start(acme_twilio.staff, language="de-CH")

    [call] = twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path)
    assert call.method == "POST"
    assert (call.user, call.password) == (acme_twilio.account, ACME_TOKEN)
    assert set(call.form) == {"Attributes", "WorkflowSid", "TaskChannel"}
    assert call.form["WorkflowSid"] == acme_twilio.workflow
    assert call.form["TaskChannel"] == "chat"
    assert json.loads(call.form["Attributes"]) == {
        "channel": "chat",
        "tenant": "acme",
        "team": "Support",
        "task_queue_sid": acme_twilio.queue,
        "language": "de-CH",
        "conversation": str(conversation.pk),
    }
    api.flush()
    conversation.refresh_from_db()
    assert task_sid(conversation).startswith("WT")
    # TaskRouter picks the agent: the built-in router offered nothing, though Alice is free.
    assert not Offer.objects.exists()

    # Globex keeps the built-in router: its chats never reach Twilio.
    start(globex)
    api.flush()
    assert len(twilio_api.posts("/Tasks")) == 1


def test_a_failed_call_is_tried_again_and_a_task_that_could_not_be_created_is_asked_for_later(
    acme_twilio: Workspace, twilio_api: TwilioApi
) -> None:
    twilio_api.failures += [503]  # once: the lane tries again after half a second
    retried = start(acme_twilio.staff)
    twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path, count=2)
    api.flush()
    retried.refresh_from_db()
    assert task_sid(retried).startswith("WT")
    twilio_api.calls.clear()

    twilio_api.failures += [500, 500, 500]  # every try fails
    conversation = start(acme_twilio.staff)
    twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path, count=3)
    api.flush()
    conversation.refresh_from_db()
    assert task_sid(conversation) == ""

    router.dispatch_waiting()  # too soon: the first request is still recent
    api.flush()
    assert len(twilio_api.posts("/Tasks")) == 3
    models.Task.objects.filter(conversation=conversation).update(
        requested_at=timezone.now() - timedelta(minutes=2)
    )
    router.dispatch_waiting()
    twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path, count=4)
    api.flush()
    conversation.refresh_from_db()
    assert task_sid(conversation).startswith("WT")


def test_a_chat_that_never_got_a_task_is_closed_after_ten_minutes_instead_of_waiting_forever(
    acme_twilio: Workspace, twilio_api: TwilioApi
) -> None:
    twilio_api.failures += [500, 500, 500]
    conversation = start(acme_twilio.staff)
    twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path, count=3)
    api.flush()
    # Waiting since eleven minutes ago (since it started, or was sent back to the queue).
    Conversation.objects.filter(pk=conversation.pk).update(
        queued_at=timezone.now() - timedelta(minutes=11)
    )
    models.Task.objects.filter(conversation=conversation).update(
        requested_at=timezone.now() - timedelta(minutes=2)
    )
    router.dispatch_waiting()
    api.flush()
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.CLOSED
    assert conversation.disposition == Conversation.Disposition.UNROUTED
    assert len(twilio_api.posts("/Tasks")) == 3  # and no further try


# An agent may file a chat it took as "No agent took it" too: its Task is completed all the same.
@pytest.mark.parametrize(
    "disposition", [Conversation.Disposition.RESOLVED, Conversation.Disposition.UNROUTED]
)
def test_closing_completes_the_task_whatever_the_disposition_and_leaving_the_queue_cancels_it(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client, disposition: str
) -> None:
    alice = acme_twilio.staff.agent
    device = device_for(alice)
    answered = with_task(twilio_api, acme_twilio)
    callback(
        client,
        acme_twilio.staff.tenant,
        "assignment",
        acme_twilio.assignment(answered, alice),
        ACME_TOKEN,
    )
    offers.do_accept_offer(alice, device, offered(answered).pk)
    lifecycle.do_close_conversation(answered, device, disposition)

    left = with_task(twilio_api, acme_twilio)
    lifecycle.do_close_conversation(left, left.customer_device)
    api.flush()

    finished = {
        call.path.rsplit("/", 1)[1]: call.form
        for call in twilio_api.posts()
        if call.path.count("/") == 5
    }
    assert finished[task_sid(answered)] == {
        "AssignmentStatus": "completed",
        "Reason": "The chat was closed",
    }
    assert finished[task_sid(left)] == {
        "AssignmentStatus": "canceled",
        "Reason": "The customer left before an agent took the chat",
    }


# --- Assignment callback and the agent's answer -----------------------------------------------


@pytest.mark.parametrize("decision", ["accept", "decline", "time out"])
def test_an_assignment_offers_the_chat_and_the_agents_decision_answers_the_reservation(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client, decision: str
) -> None:
    alice = acme_twilio.staff.agent
    device = device_for(alice)
    conversation = with_task(twilio_api, acme_twilio)
    params = acme_twilio.assignment(conversation, alice)

    started = time.monotonic()
    response = callback(client, acme_twilio.staff.tenant, "assignment", params, ACME_TOKEN)
    assert time.monotonic() - started < 5  # Twilio waits 5 s for the answer
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    offer = pending(conversation)
    assert offer is not None and offer.agent == alice
    assert offer.twilio_reservation.sid == params["ReservationSid"]
    assert reservation_answers(twilio_api) == []  # nothing until Alice decides

    if decision == "accept":
        offers.do_accept_offer(alice, device, offer.pk)
        status = "accepted"
    elif decision == "decline":
        offers.do_decline_offer(alice, offer.pk)
        status = "rejected"
    else:
        offers.do_expire_offers(now=timezone.now() + timedelta(minutes=5))
        status = "rejected"
    [answer] = reservation_answers(twilio_api)
    task = f"{acme_twilio.tasks_path}/{task_sid(conversation)}"
    assert answer.path == f"{task}/Reservations/{offer.twilio_reservation.sid}"
    assert answer.form == {"ReservationStatus": status}
    assert (answer.user, answer.password) == (acme_twilio.account, ACME_TOKEN)
    # TaskRouter, not the built-in router, finds the next agent after a decline or timeout.
    assert Offer.objects.filter(conversation=conversation).count() == 1


def test_an_assignment_that_comes_before_the_task_sid_was_stored_still_finds_its_chat(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    alice = acme_twilio.staff.agent
    conversation = with_task(twilio_api, acme_twilio)
    stored = task_sid(conversation)
    models.Task.objects.filter(conversation=conversation).update(sid="")
    params = acme_twilio.assignment(conversation, alice, TaskSid=stored)
    assert callback(client, acme_twilio.staff.tenant, "assignment", params, ACME_TOKEN).json() == {}
    assert task_sid(conversation) == stored
    assert offered(conversation).agent == alice


def test_an_assignment_for_a_chat_that_closed_meanwhile_cancels_its_task(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    alice = acme_twilio.staff.agent
    conversation = with_task(twilio_api, acme_twilio)
    lifecycle.do_close_conversation(conversation, conversation.customer_device)
    params = acme_twilio.assignment(conversation, alice)
    assert callback(client, acme_twilio.staff.tenant, "assignment", params, ACME_TOKEN).json() == {}
    assert not Offer.objects.exists()
    api.flush()
    cancels = twilio_api.posts(f"/Tasks/{task_sid(conversation)}")
    assert [call.form["AssignmentStatus"] for call in cancels] == ["canceled", "canceled"]


def test_a_chat_left_as_a_message_cancels_its_task_and_a_late_assignment_is_cancelled(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    """A customer who waited too long leaves a message for the team's browsers instead
    (chat/actions/offline.py): Twilio is told no agent will take it from the queue."""
    staff = acme_twilio.staff
    with_org_key(staff)
    certified_device(staff, staff.agent)
    conversation = with_task(twilio_api, acme_twilio)
    Conversation.objects.filter(pk=conversation.pk).update(customer_pins=True)
    offline.do_leave_message(conversation, conversation.customer_device)
    params = acme_twilio.assignment(conversation, staff.agent)
    assert callback(client, staff.tenant, "assignment", params, ACME_TOKEN).json() == {}
    assert not Offer.objects.exists()
    api.flush()
    cancels = twilio_api.posts(f"/Tasks/{task_sid(conversation)}")
    assert [call.form["AssignmentStatus"] for call in cancels] == ["canceled", "canceled"]
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.MESSAGE


# --- Event callback -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        ("reservation.timeout", Offer.State.EXPIRED),
        ("reservation.rescinded", Offer.State.RESCINDED),
        ("reservation.canceled", Offer.State.RESCINDED),
        ("reservation.rejected", Offer.State.RESCINDED),  # rejected in Flex or the console
    ],
)
def test_a_reservation_that_twilio_ends_withdraws_the_offer(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client, kind: str, state: str
) -> None:
    alice = acme_twilio.staff.agent
    conversation = with_task(twilio_api, acme_twilio)
    params = acme_twilio.assignment(conversation, alice)
    callback(client, acme_twilio.staff.tenant, "assignment", params, ACME_TOKEN)
    event = acme_twilio.event(
        kind,
        TaskSid=task_sid(conversation),
        ReservationSid=params["ReservationSid"],
        WorkerSid=params["WorkerSid"],
        ResourceType="Reservation",
        ResourceSid=params["ReservationSid"],
    )
    response = callback(client, acme_twilio.staff.tenant, "events", event, ACME_TOKEN)
    assert response.status_code == 204
    offer = Offer.objects.get(conversation=conversation)
    assert offer.state == state
    # Twilio ended it: Sealdesk does not answer the Reservation again.
    assert reservation_answers(twilio_api) == []
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.QUEUED


@pytest.mark.parametrize("kind", ["task.canceled", "task.deleted"])
def test_a_task_canceled_in_twilio_closes_the_waiting_chat_for_the_customer(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client, kind: str
) -> None:
    conversation = with_task(twilio_api, acme_twilio)
    event = acme_twilio.event(
        kind,
        TaskSid=task_sid(conversation),
        TaskCanceledReason="Task TTL Exceeded",
        ResourceType="Task",
        ResourceSid=task_sid(conversation),
    )
    assert (
        callback(client, acme_twilio.staff.tenant, "events", event, ACME_TOKEN).status_code == 204
    )
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.CLOSED
    assert conversation.disposition == Conversation.Disposition.UNROUTED
    closed = conversation.events.get(kind=Event.Kind.CLOSED)
    assert closed.body == {"by": "router", "disposition": "unrouted"}
    api.flush()
    assert twilio_api.posts(f"/Tasks/{task_sid(conversation)}") == []


def test_presence_set_in_the_dashboard_sets_the_workers_activity(
    acme_twilio: Workspace, twilio_api: TwilioApi
) -> None:
    alice = acme_twilio.staff.agent
    do_set_presence(alice, Agent.Presence.AWAY)
    do_set_presence(alice, Agent.Presence.AVAILABLE)
    api.flush()
    worker = f"/v1/Workspaces/{acme_twilio.workspace}/Workers/{acme_twilio.workers[alice.pk]}"
    assert [
        (call.path, call.form)
        for call in twilio_api.posts("/Workers/" + acme_twilio.workers[alice.pk])
    ] == [
        (
            worker,
            {"ActivitySid": acme_twilio.activities["away"], "RejectPendingReservations": "true"},
        ),
        (
            worker,
            {
                "ActivitySid": acme_twilio.activities["available"],
                "RejectPendingReservations": "false",
            },
        ),
    ]


def test_a_presence_goes_to_twilio_once_and_again_if_it_never_arrived(
    acme_twilio: Workspace, twilio_api: TwilioApi
) -> None:
    alice = acme_twilio.staff.agent
    worker = acme_twilio.workers[alice.pk]
    do_set_presence(alice, Agent.Presence.AWAY)
    do_set_presence(alice, Agent.Presence.AWAY)  # what the Worker's Activity has already
    api.flush()
    assert len(twilio_api.posts("/Workers/" + worker)) == 1

    twilio_api.failures += [500, 500, 500]  # every try of the next change fails
    do_set_presence(alice, Agent.Presence.AVAILABLE)
    api.flush()
    do_set_presence(alice, Agent.Presence.AVAILABLE)  # so Twilio is asked again
    api.flush()
    sent = [call.form["ActivitySid"] for call in twilio_api.posts("/Workers/" + worker)]
    assert sent == [acme_twilio.activities["away"]] + [acme_twilio.activities["available"]] * 4


def test_activity_changes_made_in_twilio_show_as_presence_and_late_ones_are_ignored(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    alice = acme_twilio.staff.agent
    now = int(time.time())

    def activity(presence: str, at: int) -> dict[str, str]:
        return acme_twilio.event(
            "worker.activity.update",
            WorkerSid=acme_twilio.workers[alice.pk],
            WorkerActivitySid=acme_twilio.activities[presence],
            WorkerActivityName=presence.capitalize(),
            ResourceType="Worker",
            ResourceSid=acme_twilio.workers[alice.pk],
            Timestamp=str(at),
        )

    tenant = acme_twilio.staff.tenant
    assert (
        callback(client, tenant, "events", activity("available", now), ACME_TOKEN).status_code
        == 204
    )
    alice.refresh_from_db()
    assert alice.presence == Agent.Presence.AVAILABLE
    callback(client, tenant, "events", activity("away", now - 30), ACME_TOKEN)  # older: ignored
    alice.refresh_from_db()
    assert alice.presence == Agent.Presence.AVAILABLE
    callback(client, tenant, "events", activity("away", now + 1), ACME_TOKEN)
    alice.refresh_from_db()
    assert alice.presence == Agent.Presence.AWAY
    # A change that came from Twilio is not sent back to it.
    api.flush()
    assert twilio_api.posts("/Workers/" + acme_twilio.workers[alice.pk]) == []


# --- Refused callbacks ----------------------------------------------------------------------


def assert_nothing_changed(twilio_api: TwilioApi) -> None:
    assert not Offer.objects.exists()
    assert not models.Callback.objects.exists()
    api.flush()
    assert reservation_answers(twilio_api) == []


def test_a_tampered_missing_or_wrongly_keyed_signature_gets_403_and_changes_nothing(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    alice, sam = acme_twilio.staff.agent, acme_twilio.staff.supervisor
    conversation = with_task(twilio_api, acme_twilio)
    params = acme_twilio.assignment(conversation, alice)
    tenant = acme_twilio.staff.tenant
    path = reverse("twilio_assignment", args=[tenant.widget_id])

    tampered = {**params, "WorkerSid": acme_twilio.workers[sam.pk]}
    good = signed(f"http://testserver{path}", params, ACME_TOKEN)
    attempts = [
        client.post(
            path,
            urlencode(tampered),
            content_type="application/x-www-form-urlencoded",
            headers=good,
        ),
        client.post(path, urlencode(params), content_type="application/x-www-form-urlencoded"),
        callback(client, tenant, "assignment", params, GLOBEX_TOKEN),
        callback(
            client,
            tenant,
            "assignment",
            params,
            ACME_TOKEN,
            signed_url="http://testserver/twilio/other/assignment",
        ),
    ]
    for response in attempts:
        assert response.status_code == 403
        assert response.json()["code"] == "bad_signature"
    assert_nothing_changed(twilio_api)


def test_a_replayed_callback_changes_nothing(
    acme_twilio: Workspace,
    twilio_api: TwilioApi,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = acme_twilio.staff.agent
    conversation = with_task(twilio_api, acme_twilio)
    params = acme_twilio.assignment(conversation, alice)
    tenant = acme_twilio.staff.tenant
    with caplog.at_level(logging.INFO, logger="sealdesk.twilio"):
        for _ in range(2):  # Twilio retries on a lost answer
            assert callback(client, tenant, "assignment", params, ACME_TOKEN).json() == {}
    assert "seen before: ignored" in caplog.text
    assert models.Callback.objects.count() == 1
    offer = Offer.objects.get(conversation=conversation)
    offers.do_decline_offer(alice, offer.pk)

    # The same signed request again, after Alice declined: still no second offer.
    assert callback(client, tenant, "assignment", params, ACME_TOKEN).json() == {}
    assert Offer.objects.filter(conversation=conversation).count() == 1
    assert len(reservation_answers(twilio_api)) == 1

    # A replayed "available" event, after Alice stepped away, does not bring her back.
    event = acme_twilio.event(
        "worker.activity.update",
        WorkerSid=acme_twilio.workers[alice.pk],
        WorkerActivitySid=acme_twilio.activities["available"],
    )
    callback(client, tenant, "events", event, ACME_TOKEN)
    do_set_presence(alice, Agent.Presence.AWAY)
    # Even with the newer-than check out of the way, the replay record stops it.
    models.Worker.objects.filter(agent=alice).update(activity_at=None)
    assert callback(client, tenant, "events", event, ACME_TOKEN).status_code == 204
    alice.refresh_from_db()
    assert alice.presence == Agent.Presence.AWAY


def test_an_unknown_worker_is_refused_and_logged(
    acme_twilio: Workspace,
    globex_twilio: Workspace,
    twilio_api: TwilioApi,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice, otto = acme_twilio.staff.agent, globex_twilio.staff.agent
    conversation = with_task(twilio_api, acme_twilio)
    tenant = acme_twilio.staff.tenant
    for worker in (sid("WK"), globex_twilio.workers[otto.pk]):
        params = acme_twilio.assignment(conversation, alice, WorkerSid=worker)
        with caplog.at_level(logging.WARNING, logger="sealdesk.twilio"):
            response = callback(client, tenant, "assignment", params, ACME_TOKEN)
        assert response.status_code == 403
        assert response.json()["code"] == "unknown_worker"
        assert f"unknown Worker {worker}" in caplog.text
    assert_nothing_changed(twilio_api)


def test_a_callback_naming_another_tenants_workspace_is_refused_and_logged(
    acme_twilio: Workspace,
    globex_twilio: Workspace,
    twilio_api: TwilioApi,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice, otto = acme_twilio.staff.agent, globex_twilio.staff.agent
    acme, globex = acme_twilio.staff.tenant, globex_twilio.staff.tenant
    conversation = with_task(twilio_api, acme_twilio)

    # Globex's own signed callback, sent to Acme's URL: Acme's token does not verify it.
    foreign = globex_twilio.assignment(conversation, otto)
    assert callback(client, acme, "assignment", foreign, GLOBEX_TOKEN).status_code == 403
    # Signed with Acme's token but naming Globex's workspace: refused and logged.
    naming = acme_twilio.assignment(conversation, alice, WorkspaceSid=globex_twilio.workspace)
    with caplog.at_level(logging.WARNING, logger="sealdesk.twilio"):
        response = callback(client, acme, "assignment", naming, ACME_TOKEN)
    assert response.status_code == 403
    assert response.json()["code"] == "foreign_workspace"
    assert f"workspace {globex_twilio.workspace}" in caplog.text
    # Globex's URL and token cannot reach an Acme chat either.
    outsider = globex_twilio.assignment(conversation, otto)
    with caplog.at_level(logging.WARNING, logger="sealdesk.twilio"):
        assert callback(client, globex, "assignment", outsider, GLOBEX_TOKEN).json() == {}
    assert "names no conversation of its own" in caplog.text
    assert not Offer.objects.exists()
    # A tenant on the built-in router has no callbacks at all: answered as a bad signature.
    acme.routing = Tenant.Routing.BUILTIN
    acme.save()
    response = callback(client, acme, "assignment", naming, ACME_TOKEN)
    assert (response.status_code, response.json()["code"]) == (403, "bad_signature")


def test_behind_a_reverse_proxy_the_signature_is_checked_over_the_public_url(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client, settings: Any
) -> None:
    settings.PUBLIC_URL = "https://desk.acme.example"
    alice = acme_twilio.staff.agent
    conversation = with_task(twilio_api, acme_twilio)
    tenant = acme_twilio.staff.tenant
    path = reverse("twilio_assignment", args=[tenant.widget_id])
    params = acme_twilio.assignment(conversation, alice)
    assert callback(client, tenant, "assignment", params, ACME_TOKEN).status_code == 403
    public = f"https://desk.acme.example{path}"
    assert (
        callback(client, tenant, "assignment", params, ACME_TOKEN, signed_url=public).json() == {}
    )
    assert offered(conversation).agent == alice


# --- Admin ----------------------------------------------------------------------------------


def tenant_form(client: Client, tenant: Tenant, **fields: str) -> dict[str, Any]:
    """Return the admin's tenant form as a tenant admin sees it, with FIELDS changed: the
    tenant's own, or the Workspace's as workspace_fields() names them."""
    url = reverse("admin:agents_tenant_change", args=[tenant.pk])
    return {
        **inline_fields(client, url),
        "name": tenant.name,
        "allowed_origins": tenant.allowed_origins,
        "offer_timeout_seconds": tenant.offer_timeout_seconds,
        "routing": tenant.routing,
        "supervision": tenant.supervision,
        "park_resume_minutes": tenant.park_resume_minutes or "",
        "park_expiry_hours": tenant.park_expiry_hours,
        "max_file_mb": "100",
        "conversation_quota_mb": "500",
        **fields,
    }


def workspace_fields(**values: str) -> dict[str, str]:
    """Return VALUES as the fields of the Workspace inline on the tenant's admin page."""
    return {f"twilio_workspace-0-{name}": value for name, value in values.items()}


def test_a_tenant_admin_switches_to_twilio_once_the_server_has_the_token_and_never_sees_it(
    acme: Staff, client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client.force_login(acme.admin.user)
    tenant = acme.tenant
    url = reverse("admin:agents_tenant_change", args=[tenant.pk])

    page = client.post(url, tenant_form(client, tenant, routing="twilio")).content.decode()
    assert page.count("Twilio TaskRouter routing needs this.") == 6
    wrong = tenant_form(client, tenant, **workspace_fields(sid="WS123"))
    page = client.post(url, wrong).content.decode()
    assert "A Workspace SID is WS followed by 32 hex digits" in page

    account = sid("AC")
    sids = workspace_fields(
        account_sid=account,
        sid=sid("WS"),
        workflow_sid=sid("WW"),
        available_activity_sid=sid("WA"),
        away_activity_sid=sid("WA"),
        offline_activity_sid=sid("WA"),
    )
    variable = f"TWILIO_AUTH_TOKEN_{account}"
    switched = tenant_form(client, tenant, routing="twilio", **sids)
    # The operator has not given this account to Acme yet: refused, and what the operator sets.
    page = client.post(url, switched).content.decode()
    assert f"TWILIO_ACCOUNT_TENANT_{account}=acme and the account&#x27;s token" in page
    tenant.refresh_from_db()
    assert tenant.routing == Tenant.Routing.BUILTIN
    # Given to Acme, but without its token yet.
    monkeypatch.setenv(f"TWILIO_ACCOUNT_TENANT_{account}", "acme")
    page = client.post(url, switched).content.decode()
    assert f"Set {variable} (or {variable}_FILE) on the server" in page
    tenant.refresh_from_db()
    assert tenant.routing == Tenant.Routing.BUILTIN

    monkeypatch.setenv(variable, ACME_TOKEN)
    assert client.post(url, switched).status_code == 302
    tenant.refresh_from_db()
    assert tenant.routing == Tenant.Routing.TWILIO
    assert tenant.twilio_workspace.auth_token() == ACME_TOKEN
    assert ACME_TOKEN not in stored_text()  # never in the database

    page = client.get(url).content.decode()
    assert ACME_TOKEN not in page
    assert f"The server has it, in {variable}" in page
    # The URLs to paste into Twilio, and the mapping with what is missing.
    assert f"/twilio/{tenant.widget_id}/assignment" in page
    assert f"/twilio/{tenant.widget_id}/events" in page
    assert "Team Support" in page and "Agent Alice" in page
    assert page.count("missing: gets no chats") == 4

    monkeypatch.delenv(variable)
    assert f"Missing: Set {variable}" in client.get(url).content.decode()
    # A token file works as well as the variable (Docker or systemd secrets).
    secret = tmp_path / "twilio-token"
    secret.write_text(ACME_TOKEN + "\n")
    monkeypatch.setenv(f"{variable}_FILE", str(secret))
    assert tenant.twilio_workspace.auth_token() == ACME_TOKEN
    assert f"The server has it, in {variable}" in client.get(url).content.decode()


def test_teams_and_agents_map_to_task_queues_and_workers_once_each(
    acme: Staff, client: Client
) -> None:
    # Only a tenant that routes with Twilio has these sections on its team and agent pages.
    Tenant.objects.filter(pk=acme.tenant.pk).update(routing=Tenant.Routing.TWILIO)
    client.force_login(acme.admin.user)
    queue, worker = sid("WQ"), sid("WK")
    team_url, team_add = (
        reverse("admin:agents_team_change", args=[acme.team.pk]),
        reverse("admin:agents_team_add"),
    )
    queue_field = "twilio_task_queue-0-sid"
    assert admin_post(client, team_url, {"name": "Support", queue_field: queue}).status_code == 302
    page = admin_post(client, team_add, {"name": "Sales", queue_field: queue}).content.decode()
    assert "The team “Support” has this TaskQueue." in page
    page = admin_post(client, team_add, {"name": "Sales", queue_field: "WQnope"}).content.decode()
    assert "A TaskQueue SID is WQ followed by 32 hex digits" in page

    alice, sam = acme.agent, acme.supervisor
    fields = {
        "display_name": alice.display_name,
        "email": alice.user.email,
        "is_active": "on",
        "role": alice.role,
        "teams": [acme.team.pk],
        "max_concurrent_chats": 3,
    }
    worker_field = "twilio_worker-0-sid"
    alice_url = reverse("admin:agents_agent_change", args=[alice.pk])
    assert admin_post(client, alice_url, {**fields, worker_field: worker}).status_code == 302
    alice.refresh_from_db()
    assert alice.twilio_worker.sid == worker
    sam_fields = {**fields, "display_name": "Sam", "role": sam.role, worker_field: worker}
    sam_url = reverse("admin:agents_agent_change", args=[sam.pk])
    page = admin_post(client, sam_url, sam_fields).content.decode()
    assert "Alice is this Worker already." in page
    listing = client.get(reverse("admin:agents_agent_changelist")).content.decode()
    assert worker in listing
    assert queue in client.get(reverse("admin:agents_team_changelist")).content.decode()


def test_the_admin_checks_the_setup_with_twilio(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client, settings: Any
) -> None:
    settings.PUBLIC_URL = "https://desk.acme.example"
    tenant, staff = acme_twilio.staff.tenant, acme_twilio.staff
    assignment_url, events_url = setup_check.callback_urls(tenant)
    assert assignment_url == f"https://desk.acme.example/twilio/{tenant.widget_id}/assignment"
    space = f"/v1/Workspaces/{acme_twilio.workspace}"
    activities = acme_twilio.activities
    twilio_api.resources = {
        space: {"sid": acme_twilio.workspace, "event_callback_url": events_url},
        f"{space}/Workflows/{acme_twilio.workflow}": {
            "sid": acme_twilio.workflow,
            "assignment_callback_url": "https://old.example/assign",
            "task_reservation_timeout": 30,
        },
        f"{space}/Activities/{activities['available']}": {
            "friendly_name": "Idle",
            "available": True,
        },
        f"{space}/Activities/{activities['away']}": {"friendly_name": "Break", "available": True},
        f"{space}/Activities/{activities['offline']}": {
            "friendly_name": "Offline",
            "available": False,
        },
        f"{space}/TaskQueues/{acme_twilio.queue}": {"sid": acme_twilio.queue},
        f"{space}/Workers/{acme_twilio.workers[staff.agent.pk]}": {"sid": "WK"},
        f"{space}/Workers/{acme_twilio.workers[staff.admin.pk]}": {"sid": "WK"},
    }
    client.force_login(staff.admin.user)
    response = client.post(
        reverse("admin:agents_tenant_changelist"),
        {"action": "check_twilio_setup", "_selected_action": [tenant.pk]},
        follow=True,
    )
    found = [str(message) for message in response.context["messages"]]
    assert found == [
        "Acme: The Workflow's Task Reservation Timeout (30 s) must be longer than the offer "
        "timeout (30 s), or Twilio ends Reservations that agents are still deciding on.",
        f"Acme: The Workflow's assignment callback URL is https://old.example/assign, "
        f"not {assignment_url}.",
        "Acme: Activity Break (away) must be unavailable in Twilio.",
        "Acme: Agent Sam's Worker: Twilio answered 404 (Unable to fetch record: not found).",
    ]
    assert all(call.method == "GET" for call in twilio_api.calls)
    assert {(call.user, call.password) for call in twilio_api.calls} == {
        (acme_twilio.account, ACME_TOKEN)
    }


# --- The whole flow in Chromium -------------------------------------------------------------


@pytest.fixture
def twilio_daphne(
    acme_twilio: Workspace, twilio_api: TwilioApi, settings: Any, tmp_path: Path
) -> Iterator[DaphneServer]:
    """A Daphne process whose twilio SDK calls go to the recording server."""
    settings.MEDIA_ROOT = tmp_path / "media"
    server = DaphneServer(
        env={"MEDIA_ROOT": str(settings.MEDIA_ROOT), "TWILIO_API_BASE_URL": twilio_api.url}
    )
    server.start()
    yield server
    server.stop()


def post_signed(url: str, params: dict[str, str], token: str) -> int:
    """POST a callback to a live server as Twilio does; return the status."""
    body, headers = urlencode(params).encode(), signed(url, params, token)
    request = urllib.request.Request(url, body, headers, method="POST")  # noqa: S310 (test server)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return int(response.status)


def stored_task(conversation_id: str) -> Conversation:
    """Wait until the live server stored the conversation's Task SID; return the conversation."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        conversation = Conversation.objects.get(pk=conversation_id)
        if task_sid(conversation):
            return conversation
        time.sleep(0.05)
    raise AssertionError("the Task SID was never stored")


@pytest.mark.browser
def test_a_chat_routed_by_taskrouter_from_widget_to_dashboard_in_chromium(
    acme_twilio: Workspace, twilio_api: TwilioApi, twilio_daphne: DaphneServer
) -> None:
    """Customer starts a chat, a Task is created, TaskRouter assigns Alice, she accepts in the
    dashboard, the Reservation is accepted, and the encrypted chat goes on; Twilio saw no word
    of it. Activity changed in Twilio shows on her dashboard."""
    tenant, alice = acme_twilio.staff.tenant, acme_twilio.staff.agent
    worker = acme_twilio.workers[alice.pk]
    site = DemoSite(twilio_daphne.url, tenant.widget_id)
    tenant.allowed_origins = site.origin
    tenant.save()
    site.start()
    question = "Where is parcel 4471-Q? It was due Monday."
    secrets_said = [question, "Hal Hollis", "hal@example.org", "Dispatched today", "Thank you!"]
    try:
        with chromium() as browser:
            agent, agent_problems = open_page(browser)
            customer, problems = open_page(browser)
            log_in_agent(agent, twilio_daphne.url, "alice", PASSWORD)
            # Her presence reached her Worker's Activity.
            available = acme_twilio.activities["available"]
            twilio_api.wait_for(
                lambda c: (
                    c.path.endswith(f"/Workers/{worker}") and c.form.get("ActivitySid") == available
                )
            )

            dialog = open_widget(customer, site.origin, "Acme")
            start_chat(dialog, "Hal Hollis", "hal@example.org", question)
            [task] = twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path)
            attributes = json.loads(task.form["Attributes"])
            assert set(attributes) == {
                "channel",
                "tenant",
                "team",
                "task_queue_sid",
                "language",
                "conversation",
            }
            assert attributes["language"] == customer.evaluate("navigator.language")
            conversation = outside_playwright(stored_task, attributes["conversation"])
            stored_sid = outside_playwright(task_sid, conversation)

            # TaskRouter reserves Alice's Worker: the offer shows on her dashboard.
            params = outside_playwright(acme_twilio.assignment, conversation, alice)
            path = reverse("twilio_assignment", args=[tenant.widget_id])
            assert post_signed(f"{twilio_daphne.url}{path}", params, ACME_TOKEN) == 200
            expect(agent.locator("#offers li")).to_contain_text("Support")
            accept_offer(agent, question)
            reservation = f"/Reservations/{params['ReservationSid']}"
            [answer] = twilio_api.wait_for(lambda c: c.path.endswith(reservation))
            assert answer.form == {"ReservationStatus": "accepted"}

            # The chat itself is end-to-end encrypted, as with the built-in router.
            agent_says(agent, "Dispatched today")
            expect(dialog.get_by_role("log", name="Messages")).to_contain_text("Dispatched today")
            expect(dialog).to_contain_text("You are chatting with Alice.")
            customer_says(dialog, "Thank you!")
            expect(agent.locator("#messages")).to_contain_text("Thank you!")

            # Alice goes on a break in Twilio's console: her dashboard shows Away.
            event = acme_twilio.event(
                "worker.activity.update",
                WorkerSid=worker,
                WorkerActivitySid=acme_twilio.activities["away"],
                WorkerActivityName="Break",
                Timestamp=str(int(time.time()) + 1),
            )
            path = reverse("twilio_events", args=[tenant.widget_id])
            assert post_signed(f"{twilio_daphne.url}{path}", event, ACME_TOKEN) == 204
            away = agent.get_by_role("button", name="Away")
            expect(away).to_have_attribute("aria-pressed", "true")

            # The customer ends the chat: the Task is completed.
            dialog.get_by_role("button", name="End chat").click()
            dialog.get_by_role("button", name="Yes, end the chat").click()
            [done] = twilio_api.wait_for(lambda c: c.path.endswith(f"/Tasks/{stored_sid}"))
            assert done.form == {"AssignmentStatus": "completed", "Reason": "The chat was closed"}

            assert problems.errors == []
            assert agent_problems.errors == []
            assert csp_violations(customer) == [] and csp_violations(agent) == []
    finally:
        site.stop()
    # No request to Twilio carried a word of the chat or the pre-chat form.
    sent = json.dumps([call.form for call in twilio_api.calls])
    for said in secrets_said:
        assert said not in sent
    assert [call.path for call in twilio_api.posts()].count(acme_twilio.tasks_path) == 1


def test_handled_callbacks_are_forgotten_after_a_week_and_a_late_replay_is_still_harmless(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    alice = acme_twilio.staff.agent
    conversation = with_task(twilio_api, acme_twilio)
    params = acme_twilio.assignment(conversation, alice)
    tenant = acme_twilio.staff.tenant
    callback(client, tenant, "assignment", params, ACME_TOKEN)
    offers.do_decline_offer(alice, offered(conversation).pk)
    assert callbacks.forget_old_callbacks() == 0
    assert callbacks.forget_old_callbacks(timezone.now() + timedelta(days=8)) == 1
    assert not models.Callback.objects.exists()
    assert callback(client, tenant, "assignment", params, ACME_TOKEN).json() == {}
    assert Offer.objects.filter(conversation=conversation).count() == 1


def test_a_new_reservation_replaces_a_pending_offer_and_a_late_accept_is_refused(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    """TaskRouter reserves one Worker at a time: a new Reservation means the last one ended,
    even when its timeout event comes later. The agent of the old one can no longer accept."""
    alice, sam = acme_twilio.staff.agent, acme_twilio.staff.supervisor
    alice_device = device_for(alice)
    conversation = with_task(twilio_api, acme_twilio)
    tenant = acme_twilio.staff.tenant
    callback(client, tenant, "assignment", acme_twilio.assignment(conversation, alice), ACME_TOKEN)
    first = offered(conversation)
    callback(client, tenant, "assignment", acme_twilio.assignment(conversation, sam), ACME_TOKEN)
    first.refresh_from_db()
    assert first.state == Offer.State.RESCINDED
    assert offered(conversation).agent == sam
    with pytest.raises(ChatError, match="timed out or been withdrawn"):
        offers.do_accept_offer(alice, alice_device, first.pk)
    assert reservation_answers(twilio_api) == []


def test_an_offer_left_pending_on_a_closed_chat_cannot_be_accepted(acme: Staff) -> None:
    alice = acme.agent
    device = device_for(alice)
    conversation = start(acme)
    offer = offers.do_offer(conversation, alice)
    assert offer is not None
    # As if the close had raced past the offer: the chat closed, the offer still pending.
    Conversation.objects.filter(pk=conversation.pk).update(state=Conversation.State.CLOSED)
    with pytest.raises(ChatError, match="closed or taken meanwhile"):
        offers.do_accept_offer(alice, device, offer.pk)
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.CLOSED and conversation.current_agents() == []
    assert not conversation.participants.filter(devices__device=device).exists()


def test_an_acceptance_that_never_reached_twilio_is_repaired_on_the_next_reservation(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    """Alice accepted, but Twilio never heard (its Reservation timed out first, say) and
    reserves again: her own Worker gets "accepted"; another Worker ends the Task instead of
    bouncing it between agents."""
    alice, sam = acme_twilio.staff.agent, acme_twilio.staff.supervisor
    device = device_for(alice)
    conversation = with_task(twilio_api, acme_twilio)
    tenant = acme_twilio.staff.tenant
    callback(client, tenant, "assignment", acme_twilio.assignment(conversation, alice), ACME_TOKEN)
    offers.do_accept_offer(alice, device, offered(conversation).pk)
    api.flush()
    twilio_api.calls.clear()

    again = acme_twilio.assignment(conversation, alice)
    assert callback(client, tenant, "assignment", again, ACME_TOKEN).json() == {}
    [answer] = reservation_answers(twilio_api)
    assert answer.path.endswith(again["ReservationSid"])
    assert answer.form == {"ReservationStatus": "accepted"}

    other = acme_twilio.assignment(conversation, sam)
    assert callback(client, tenant, "assignment", other, ACME_TOKEN).json() == {}
    api.flush()
    [cancel] = twilio_api.posts(f"/Tasks/{task_sid(conversation)}")
    assert cancel.form["AssignmentStatus"] == "canceled"
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ACTIVE
    assert conversation.current_agents() == [alice]


def test_stepping_away_in_twilio_rejects_the_pending_reservation(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    alice = acme_twilio.staff.agent
    conversation = with_task(twilio_api, acme_twilio)
    tenant = acme_twilio.staff.tenant
    params = acme_twilio.assignment(conversation, alice)
    callback(client, tenant, "assignment", params, ACME_TOKEN)
    event = acme_twilio.event(
        "worker.activity.update",
        WorkerSid=acme_twilio.workers[alice.pk],
        WorkerActivitySid=acme_twilio.activities["offline"],
        TimestampMs=str(int(time.time() * 1000)),
    )
    callback(client, tenant, "events", event, ACME_TOKEN)
    assert Offer.objects.get(conversation=conversation).state == Offer.State.RESCINDED
    [answer] = reservation_answers(twilio_api)
    assert answer.path.endswith(params["ReservationSid"])
    assert answer.form == {"ReservationStatus": "rejected"}


def test_activity_changes_within_one_second_keep_their_order_by_milliseconds(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    alice = acme_twilio.staff.agent
    tenant = acme_twilio.staff.tenant
    now_ms = int(time.time() * 1000)
    for presence, offset in (("away", 100), ("available", 600)):
        event = acme_twilio.event(
            "worker.activity.update",
            WorkerSid=acme_twilio.workers[alice.pk],
            WorkerActivitySid=acme_twilio.activities[presence],
            Timestamp=str(now_ms // 1000),  # the same second for both
            TimestampMs=str(now_ms + offset),
        )
        assert callback(client, tenant, "events", event, ACME_TOKEN).status_code == 204
    alice.refresh_from_db()
    assert alice.presence == Agent.Presence.AVAILABLE


def test_a_repeated_form_field_is_signed_over_every_value(
    acme_twilio: Workspace, twilio_api: TwilioApi, client: Client
) -> None:
    """Twilio signs each value of a repeated parameter; checking only the last would refuse a
    genuine callback (and hashing only the last would let a variant pass as a replay)."""
    tenant = acme_twilio.staff.tenant
    path = reverse("twilio_events", args=[tenant.widget_id])
    url = f"http://testserver{path}"
    pairs = [*acme_twilio.event("workflow.timeout").items(), ("Extra", "1"), ("Extra", "2")]
    token = RequestValidator(ACME_TOKEN)
    signature = token.compute_signature(url, QueryDict(urlencode(pairs)))
    response = client.post(
        path,
        urlencode(pairs),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 204


# --- Back to a queue: a new Task (chat/actions/requeue.py) ----------------------------------


def test_parking_completes_the_task_and_resuming_makes_a_new_one_ahead_for_the_same_worker(
    acme_twilio: Workspace, twilio_api: TwilioApi
) -> None:
    """A parked chat's Task completes (Alice's work on it is done for now); when Carla writes
    again the chat waits as a new Task on the team's TaskQueue, with priority and Alice's Worker
    named, so that a Workflow can send it back to her first. Twilio is not reachable from CI:
    the calls go to the local recording server of tests/twilio_api.py."""
    floor = Floor(acme_twilio.staff)
    twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path)
    api.flush()
    first = task_sid(floor.conversation)
    assert first.startswith("WT")
    floor.park()
    api.flush()
    [done] = [c for c in twilio_api.posts() if c.path == f"{acme_twilio.tasks_path}/{first}"]
    assert done.form == {
        "AssignmentStatus": "completed",
        "Reason": "The chat went back to a queue or was parked",
    }
    assert task_sid(floor.conversation) == ""

    # Carla started the chat long ago: the chat waits again from now, and the sweep that gives up
    # on chats that get no Task in ten minutes leaves it alone meanwhile.
    Conversation.objects.filter(pk=floor.conversation.pk).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    requeue.do_resume(floor.conversation, floor.conversation.customer_device)
    router_for(acme_twilio.staff.tenant).dispatch(acme_twilio.staff.team)
    assert Conversation.objects.get(pk=floor.conversation.pk).state == "queued"
    second = twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path, count=2)[-1]
    assert second.form["Priority"] == "10"
    attributes = json.loads(second.form["Attributes"])
    assert attributes["preferred_worker"] == acme_twilio.workers[floor.alice.pk]
    assert attributes["team"] == "Support"
    api.flush()
    assert task_sid(floor.conversation).startswith("WT") and task_sid(floor.conversation) != first


def test_a_cold_transfer_completes_the_task_and_waits_as_a_new_one_on_the_other_teams_queue(
    acme_twilio: Workspace, twilio_api: TwilioApi
) -> None:
    """Alice sends Carla's chat to Billing: her Task completes, and a new one, with priority,
    goes to Billing's TaskQueue (calls to the local recording server: Twilio is unreachable)."""
    floor = Floor(acme_twilio.staff)
    billing_queue = sid("WQ")
    models.TaskQueue.objects.create(team=floor.billing, sid=billing_queue)
    twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path)
    api.flush()
    first = task_sid(floor.conversation)
    floor.transfer(floor.billing)
    second = twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path, count=2)[-1]
    api.flush()
    [done] = [c for c in twilio_api.posts() if c.path == f"{acme_twilio.tasks_path}/{first}"]
    assert done.form["AssignmentStatus"] == "completed"
    attributes = json.loads(second.form["Attributes"])
    assert (attributes["team"], attributes["task_queue_sid"]) == ("Billing", billing_queue)
    assert second.form["Priority"] == "10"
    assert "preferred_worker" not in attributes  # a transfer goes to whoever Billing has


def test_asking_a_colleague_in_keeps_the_task_which_completes_on_the_last_agents_lane(
    acme_twilio: Workspace, twilio_api: TwilioApi
) -> None:
    """A warm transfer is an offer Sealdesk makes itself: no Reservation is answered, the Task
    stays the chat's, and closing completes it after the agent who has the chat now."""
    floor = Floor(acme_twilio.staff)
    floor.bob.teams.add(acme_twilio.staff.team)
    twilio_api.wait_for(lambda c: c.path == acme_twilio.tasks_path)
    api.flush()
    task = task_sid(floor.conversation)
    offer = floor.invite("transfer")
    offers.do_accept_offer(floor.bob, floor.bob_device, offer.pk)
    floor.leave(floor.alice, floor.alice_device, floor.alice_keys)
    assert reservation_answers(twilio_api) == []
    assert task_sid(floor.conversation) == task
    lifecycle.do_close_conversation(floor.conversation, floor.bob_device, "resolved")
    api.flush()
    [done] = [c for c in twilio_api.posts() if c.path == f"{acme_twilio.tasks_path}/{task}"]
    assert done.form == {"AssignmentStatus": "completed", "Reason": "The chat was closed"}
