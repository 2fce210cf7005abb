"""The interface between the chat core and whoever routes chats to agents.

A tenant's routing mode names its router: the built-in router (chat/builtin_router.py), or Twilio
TaskRouter for tenants that choose it (the taskrouter app). Routers register themselves when their
app is ready; this module imports no actions, so actions can tell routers what happened and
routers can call actions without an import circle.
"""

from collections.abc import Callable
from typing import Protocol

from agents.models import Agent, Team, Tenant
from chat.models import Conversation, Offer


class Router(Protocol):
    """What the chat core tells a router; each call comes after the change has committed."""

    def conversation_queued(self, conversation: Conversation) -> None:
        """A customer's chat waits in its team's queue."""

    def offer_accepted(self, offer: Offer) -> None:
        """An agent accepted an offer."""

    def offer_finished(self, offer: Offer) -> None:
        """An offer was declined, timed out or was withdrawn, not accepted."""

    def agent_changed(self, agent: Agent) -> None:
        """An agent's presence was set (also by the router itself, which then knows it)."""

    def conversation_closed(self, conversation: Conversation) -> None:
        """A conversation closed."""

    def conversation_requeued(self, conversation: Conversation, by: Agent | None) -> None:
        """A chat that had an agent waits in a queue again, ahead of the others: BY sent it to
        another (or its own) team's queue, or, with BY None, it resumed after parking."""

    def conversation_parked(self, conversation: Conversation, by: Agent) -> None:
        """BY parked a chat: nobody works on it until it resumes."""

    def dispatch(self, team: Team) -> int:
        """Offer or ask again for the team's waiting chats; return how many were handled."""


RouterFactory = Callable[[Tenant], Router]
_routers: dict[str, RouterFactory] = {}


def register(routing: str, factory: RouterFactory) -> None:
    """Make FACTORY the router of tenants whose routing mode is ROUTING (from an AppConfig)."""
    _routers[routing] = factory


def router_for(tenant: Tenant) -> Router:
    """Return the router of a tenant."""
    return _routers[tenant.routing](tenant)


def dispatch_waiting() -> int:
    """Dispatch every team that has a conversation waiting; return what the routers handled.

    Run periodically as a safety net: a dispatch that lost a race to a lock is retried here.
    """
    teams = Team.objects.filter(
        conversations__state=Conversation.State.QUEUED, tenant__is_active=True
    ).distinct()
    return sum(router_for(team.tenant).dispatch(team) for team in teams.select_related("tenant"))
