"""Whether an agent can take one more chat: the one count that routing and invitations share.

An agent's load is the active chats it takes part in as an agent, and its pending offers; it
takes more while its load is below its maximum, and only through a device it may take part
through (once the tenant has an organisation key, a certified one: chat/actions/trust.py).
"""

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import CombinedExpression

from agents.models import Agent, Device
from chat.models import Conversation, Offer, Participant


def in_hand() -> Count:
    """Return the expression of the active chats an agent takes part in as an agent, for
    `annotate` on a queryset of agents (a supervisor's board shows it)."""
    return Count(
        "participations",
        filter=Q(
            participations__role=Participant.Role.AGENT,
            participations__left_at__isnull=True,
            participations__conversation__state=Conversation.State.ACTIVE,
        ),
        distinct=True,
    )


def load() -> CombinedExpression:
    """Return the expression of an agent's load, for `alias` on a queryset of agents."""
    return in_hand() + Count("offers", filter=Q(offers__state=Offer.State.PENDING), distinct=True)


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
    """Return AGENTS whose load is below their maximum."""
    return agents.alias(load=load()).filter(load__lt=F("max_concurrent_chats"))
