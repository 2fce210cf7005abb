"""The set-up check: ask Twilio whether a tenant's SIDs exist and fit what Sealdesk needs."""

from typing import Any

from django.conf import settings
from django.urls import reverse
from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException

from agents.models import Agent, Tenant
from taskrouter import api
from taskrouter.credentials import CredentialError
from taskrouter.models import TaskQueue, Worker, Workspace


def callback_urls(tenant: Tenant) -> tuple[str, str]:
    """Return the assignment and event callback URLs to paste into Twilio."""
    return (
        settings.PUBLIC_URL + reverse("twilio_assignment", args=[tenant.widget_id]),
        settings.PUBLIC_URL + reverse("twilio_events", args=[tenant.widget_id]),
    )


def check_setup(space: Workspace) -> list[str]:
    """Ask Twilio whether the workspace's SIDs exist and fit; return the problems found."""
    problems: list[str] = []
    tenant = space.tenant

    def fetch(what: str, resource: Any) -> Any:
        try:
            return resource.fetch()
        except TwilioRestException as e:
            problems.append(f"{what}: Twilio answered {e.status} ({e.msg}).")
            return None

    try:
        twilio_space = api.workspace_api(space)
        found = fetch(f"Workspace {space.sid}", twilio_space)
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
    workflow = fetch(f"Workflow {space.workflow_sid}", twilio_space.workflows(space.workflow_sid))
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
    for presence, sid in space.activity_sids().items():
        activity = fetch(f"Activity {sid} ({presence})", twilio_space.activities(sid))
        wanted = presence == Agent.Presence.AVAILABLE
        if activity is not None and bool(activity.available) != wanted:
            problems.append(
                f"Activity {activity.friendly_name} ({presence}) must be "
                f"{'available' if wanted else 'unavailable'} in Twilio."
            )
    for team in tenant.teams.all():
        if not (queue := TaskQueue.sid_of(team)):
            problems.append(f"Team {team.name} has no TaskQueue: its chats cannot be routed.")
        else:
            fetch(f"Team {team.name}'s TaskQueue", twilio_space.task_queues(queue))
    for agent in tenant.agents.all():
        if not (worker := Worker.sid_of(agent)):
            problems.append(f"Agent {agent.display_name} has no Worker: gets no chats.")
        else:
            fetch(f"Agent {agent.display_name}'s Worker", twilio_space.workers(worker))
    return problems
