"""Agents' presence: available for chats, away, or offline."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent
from chat.actions.events import queue_changed
from chat.actions.offers import rescind_pending
from chat.broadcast import agent_group, send_on_commit
from chat.errors import ChatError
from chat.payloads import presence_payload
from chat.router import router_for
from sealdesk_client.frames import PRESENCE, frame


def do_set_presence(agent: Agent, presence: object) -> Agent:
    """Set the agent's presence, tell the agent's dashboards, and let the router react.

    The router is told of every change, even of one that came from it (an Activity changed in
    Twilio TaskRouter): a router knows what it has already.
    """
    if presence not in Agent.Presence.values:
        choices = ", ".join(Agent.Presence.values)
        raise ChatError("invalid_presence", f"Presence must be one of {choices}.")
    with transaction.atomic():
        agent = (
            Agent.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=agent.pk)
        )
        now = timezone.now()
        if agent.presence != presence:
            # Who is available is part of the waiting customers' estimate (chat/waiting.py).
            for team_id in agent.teams.values_list("pk", flat=True):
                queue_changed(team_id)
            agent.presence = str(presence)
            agent.presence_changed_at = now
            fields = ["presence", "presence_changed_at"]
            if presence == Agent.Presence.AVAILABLE:
                agent.idle_since = now
                fields.append("idle_since")
            agent.save(update_fields=fields)
        if presence != Agent.Presence.AVAILABLE:
            # Offers wait for nobody who stepped away: they pass to the next agent.
            rescind_pending(Q(agent=agent), now)
        send_on_commit(agent_group(agent.pk), frame(PRESENCE, **presence_payload(agent)))
        tenant = agent.tenant
        transaction.on_commit(lambda: router_for(tenant).agent_changed(agent), robust=True)
    return agent
