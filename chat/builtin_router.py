"""Sealdesk's own router: team queues, longest-idle agent first, offers that time out.

It offers the oldest queued conversation of a team (those sent back to it, by a transfer or a
resume, first) to the available agent of that team with free capacity who has been idle longest,
or to the agent who parked it, if that agent can take it. An offer that is declined, times out
or is withdrawn puts the conversation back in the queue for the next agent.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from agents.models import Agent, Team, Tenant
from chat import capacity
from chat.actions.offers import do_offer
from chat.models import Conversation, Offer

# An agent who declined a chat, or let its offer pass, is not offered it again this soon.
REOFFER_AFTER = timedelta(seconds=60)
# Queued conversations read at a time when offering them (docs/BENCHMARKS.md, issue 14).
DISPATCH_SLICE = 50


def eligible_agents(team: Team) -> QuerySet[Agent]:
    """Return the team's agents who may get an offer now, longest idle first (chat/capacity.py
    says what load and a usable device are)."""
    # Supervisors open their teams' chats from their board; they are not routed chats.
    available = team.agents.filter(
        presence=Agent.Presence.AVAILABLE,
        user__is_active=True,
        tenant__is_active=True,
    ).exclude(role=Agent.Role.SUPERVISOR)
    return capacity.with_room(capacity.with_usable_device(available)).order_by("idle_since", "pk")


class BuiltinRouter:
    """The Router (chat.router.Router) of tenants in built-in routing mode."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def conversation_queued(self, conversation: Conversation) -> None:
        self.dispatch(conversation.team)

    def offer_accepted(self, offer: Offer) -> None:
        pass

    def offer_finished(self, offer: Offer) -> None:
        # The agent who parked the chat declined it or let it pass: the next one is anyone.
        Conversation.objects.filter(pk=offer.conversation_id, preferred_agent=offer.agent).update(
            preferred_agent=None
        )
        self.dispatch(offer.conversation.team)

    def agent_changed(self, agent: Agent) -> None:
        for team in agent.teams.all():
            self.dispatch(team)

    def conversation_closed(self, conversation: Conversation) -> None:
        self.dispatch(conversation.team)

    def conversation_requeued(self, conversation: Conversation, by: Agent | None) -> None:
        self.dispatch(conversation.team)

    def conversation_parked(self, conversation: Conversation, by: Agent) -> None:
        pass  # the agent's freed slot is dispatched as the agent changed

    def dispatch(self, team: Team) -> int:
        """Offer the team's queued conversations to its eligible agents; return offers made."""
        made = 0
        # Read once who may take a chat, with their load, and keep count here as offers go out.
        agents = list(eligible_agents(team))
        if not agents:
            return made  # nobody may take a chat now: no need to read the queue
        with transaction.atomic():
            waiting = (
                Conversation.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("tenant", "team")
                .filter(team=team, state=Conversation.State.QUEUED)
                .exclude(offers__state=Offer.State.PENDING)
                .order_by("-priority", "queued_at")
            )
            # In slices: agents fill up long before a queue of thousands is read to its end.
            for conversation in waiting.iterator(chunk_size=DISPATCH_SLICE):
                if not agents:
                    break  # nobody of the team may take a chat now, so none of the others either
                agent = self.pick_agent(conversation, agents)
                if agent is None:
                    continue  # only who just passed this chat on could take it: the next one
                # Lock the agent and check again: it may have stepped away or been offered a chat
                # by another process since the agents were read.
                locked = Agent.objects.select_for_update().get(pk=agent.pk)
                if not eligible_agents(team).filter(pk=agent.pk).exists():
                    agents.remove(agent)
                    continue
                if do_offer(conversation, locked) is not None:
                    made += 1
                    agent.load += 1  # type: ignore[attr-defined]  # from capacity.with_room
                    if agent.load >= agent.max_concurrent_chats:  # type: ignore[attr-defined]
                        agents.remove(agent)
        return made

    def pick_agent(self, conversation: Conversation, eligible: list[Agent]) -> Agent | None:
        """Return who of ELIGIBLE (longest idle first) should be offered the conversation,
        preferring agents not yet asked."""
        # Who just declined this chat, or let it pass, is not asked again at once.
        recent = set(
            Offer.objects.filter(
                conversation=conversation,
                state__in=(Offer.State.DECLINED, Offer.State.EXPIRED),
                decided_at__gt=timezone.now() - REOFFER_AFTER,
            ).values_list("agent_id", flat=True)
        )
        candidates = [a for a in eligible if a.pk not in recent]
        if not candidates:
            return None
        asked = dict(
            Offer.objects.filter(conversation=conversation)
            .exclude(state=Offer.State.PENDING)
            .values_list("agent_id", "created_at")
            .order_by("created_at")
        )
        # A resumed chat goes to the agent who parked it first, if that agent can take it now.
        preferred = [a for a in candidates if a.pk == conversation.preferred_agent_id]
        if preferred:
            return preferred[0]
        fresh = [agent for agent in candidates if agent.pk not in asked]
        if fresh:
            return fresh[0]
        # Everyone eligible was asked already: ask again, starting with who was asked longest ago.
        return min(candidates, key=lambda agent: asked[agent.pk])
