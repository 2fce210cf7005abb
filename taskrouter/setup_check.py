"""The set-up check: ask Twilio whether a tenant's SIDs exist and fit what Sealdesk needs."""

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext
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
            problems.append(
                gettext("%(what)s: Twilio answered %(status)s (%(message)s).")
                % {"what": what, "status": e.status, "message": e.msg}
            )
            return None

    try:
        twilio_space = api.workspace_api(space)
        found = fetch(gettext("Workspace %(sid)s") % {"sid": space.sid}, twilio_space)
    except (CredentialError, TwilioException, RequestException) as e:
        return [gettext("Twilio could not be asked: %(error)s") % {"error": e}]
    if found is None:
        return problems
    assignment_url, events_url = callback_urls(tenant)
    if settings.PUBLIC_URL and found.event_callback_url != events_url:
        problems.append(
            gettext("The Workspace's event callback URL is %(found)s, not %(wanted)s.")
            % {"found": found.event_callback_url or gettext("empty"), "wanted": events_url}
        )
    workflow = fetch(
        gettext("Workflow %(sid)s") % {"sid": space.workflow_sid},
        twilio_space.workflows(space.workflow_sid),
    )
    timeout = getattr(workflow, "task_reservation_timeout", None)
    if workflow and timeout is not None and int(timeout) <= tenant.offer_timeout_seconds:
        problems.append(
            gettext(
                "The Workflow's Task Reservation Timeout (%(timeout)s s) must be longer than the "
                "offer timeout (%(offer_timeout)s s), or Twilio ends Reservations "
                "that agents are still deciding on."
            )
            % {"timeout": timeout, "offer_timeout": tenant.offer_timeout_seconds}
        )
    if not settings.PUBLIC_URL:
        problems.append(
            gettext(
                "PUBLIC_URL is not set, so the callback URLs in Twilio could not be compared; set "
                "it to the address Twilio calls (signatures are checked over it behind a proxy)."
            )
        )
    if workflow and settings.PUBLIC_URL and workflow.assignment_callback_url != assignment_url:
        problems.append(
            gettext("The Workflow's assignment callback URL is %(found)s, not %(wanted)s.")
            % {
                "found": workflow.assignment_callback_url or gettext("empty"),
                "wanted": assignment_url,
            }
        )
    for presence, sid in space.activity_sids().items():
        activity = fetch(
            gettext("Activity %(sid)s (%(presence)s)") % {"sid": sid, "presence": presence},
            twilio_space.activities(sid),
        )
        wanted = presence == Agent.Presence.AVAILABLE
        if activity is not None and bool(activity.available) != wanted:
            must = (
                gettext("Activity %(name)s (%(presence)s) must be available in Twilio.")
                if wanted
                else gettext("Activity %(name)s (%(presence)s) must be unavailable in Twilio.")
            )
            problems.append(must % {"name": activity.friendly_name, "presence": presence})
    for team in tenant.teams.all():
        if not (queue := TaskQueue.sid_of(team)):
            problems.append(
                gettext("Team %(team)s has no TaskQueue: its chats cannot be routed.")
                % {"team": team.name}
            )
        else:
            fetch(
                gettext("Team %(team)s's TaskQueue") % {"team": team.name},
                twilio_space.task_queues(queue),
            )
    for agent in tenant.agents.all():
        if not (worker := Worker.sid_of(agent)):
            problems.append(
                gettext("Agent %(agent)s has no Worker: gets no chats.")
                % {"agent": agent.display_name}
            )
        else:
            fetch(
                gettext("Agent %(agent)s's Worker") % {"agent": agent.display_name},
                twilio_space.workers(worker),
            )
    return problems
