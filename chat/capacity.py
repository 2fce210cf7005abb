"""Whether an agent can take one more chat: the one count that routing and invitations share.

An agent's load is the active chats it takes part in as an agent, and its pending offers; it
takes more while its load is below its maximum, and only through a device it may take part
through (once the tenant has an organisation key, a certified one: chat/actions/trust.py).

Each count is a subquery of its own, correlated with the agent: joining participations and
offers in one query would count over their product, which grows with an agent's whole history
(docs/BENCHMARKS.md, issue 14's set-up).
"""

from typing import Any

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from agents.models import Agent, Device
from chat.models import Conversation, Offer, Participant


def _count_per_agent(rows: QuerySet[Any]) -> Coalesce:
    """Return the number of ROWS (filtered on agent=OuterRef("pk")) as an expression."""
    counted = rows.order_by().values("agent").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def in_hand() -> Coalesce:
    """Return the expression of the active chats an agent takes part in as an agent, for
    `annotate` on a queryset of agents (a supervisor's board shows it)."""
    return _count_per_agent(
        Participant.objects.filter(
            agent=OuterRef("pk"),
            role=Participant.Role.AGENT,
            left_at__isnull=True,
            conversation__state=Conversation.State.ACTIVE,
        )
    )


def pending_offers() -> Coalesce:
    """Return the expression of an agent's pending offers, for `annotate` on agents."""
    return _count_per_agent(Offer.objects.filter(agent=OuterRef("pk"), state=Offer.State.PENDING))


def with_usable_device(agents: QuerySet[Agent]) -> QuerySet[Agent]:
    """Return AGENTS that have a device they may take part through."""
    return agents.filter(
        Exists(
            Device.objects.filter(agent=OuterRef("pk"), revoked_at__isnull=True).filter(
                Q(cert__isnull=False) | Q(tenant__org_keys__isnull=True)
            )
        )
    )


def with_room(agents: QuerySet[Agent]) -> QuerySet[Agent]:
    """Return AGENTS whose load is below their maximum, each annotated with its `load`."""
    return agents.annotate(load=in_hand() + pending_offers()).filter(
        load__lt=F("max_concurrent_chats")
    )
