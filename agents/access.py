"""The one tenant-checked lookup per object kind, used by views, admin and consumers alike.

A lookup of an object outside the caller's tenant raises Http404, exactly as for an
object that does not exist, so an outsider learns nothing (docs/THREAT_MODEL.md).
"""

from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from agents.models import Agent, CannedResponse, Team, Tenant
from audit.models import Entry
from chat.models import Conversation, hash_token
from chat.payloads import members_prefetch

User = AbstractBaseUser | AnonymousUser
M = TypeVar("M", bound=Model)


def agent_of(user: User) -> Agent | None:
    """Return the user's agent profile if the user and its tenant are active, else None."""
    if not user.is_authenticated or not user.is_active:
        return None
    try:
        agent: Agent = Agent.objects.select_related("tenant").get(user_id=user.pk)
    except Agent.DoesNotExist:
        return None
    return agent if agent.tenant.is_active else None


def is_platform_admin(user: User) -> bool:
    """Return whether the user manages every tenant (a Django superuser)."""
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_superuser", False))


def tenant_admin_of(user: User) -> Agent | None:
    """Return the user's agent profile if it is an active tenant admin, else None."""
    agent = agent_of(user)
    return agent if agent is not None and agent.is_tenant_admin else None


def _scoped(user: User, queryset: QuerySet[M], tenant_field: str) -> QuerySet[M]:
    if is_platform_admin(user):
        return queryset
    agent = agent_of(user)
    if agent is None:
        return queryset.none()
    return queryset.filter(**{tenant_field: agent.tenant_id})


def tenants_for(user: User) -> QuerySet[Tenant]:
    """Return the tenants this user may see: all for platform admins, else their own."""
    return _scoped(user, Tenant.objects.all(), "pk")


def teams_for(user: User) -> QuerySet[Team]:
    """Return the teams this user may see."""
    return _scoped(user, Team.objects.select_related("tenant"), "tenant_id")


def agents_for(user: User) -> QuerySet[Agent]:
    """Return the agents this user may see."""
    return _scoped(user, Agent.objects.select_related("tenant", "user"), "tenant_id")


def canned_responses_for(user: User) -> QuerySet[CannedResponse]:
    """Return the canned responses this user may see (and, as an admin, edit)."""
    return _scoped(user, CannedResponse.objects.select_related("tenant", "team"), "tenant_id")


def canned_responses_of(agent: Agent) -> QuerySet[CannedResponse]:
    """Return the canned responses an agent inserts: its tenant's tenant-wide ones and those
    of its own teams, never another team's or another tenant's."""
    return (
        CannedResponse.objects.select_related("team")
        .filter(tenant_id=agent.tenant_id)
        .filter(Q(team__isnull=True) | Q(team__in=agent.teams.filter(tenant_id=agent.tenant_id)))
        .order_by("shortcut", "team__name", "pk")
    )


def audit_entries_for(user: User) -> QuerySet[Entry]:
    """Return the audit entries this user may read: every one for platform admins, else its
    tenant's (the admin shows them to tenant admins only)."""
    return _scoped(user, Entry.objects.select_related("tenant"), "tenant_id")


def _get_or_404(queryset: QuerySet[M], pk: object) -> M:
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError, OverflowError, ValidationError) as e:
        # OverflowError: a JSON Infinity as an id.
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from e


def access_tenant(user: User, pk: object) -> Tenant:
    """Return the tenant if this user may see it, else raise Http404."""
    return _get_or_404(tenants_for(user), pk)


def access_team(user: User, pk: object) -> Team:
    """Return the team if this user may see it, else raise Http404."""
    return _get_or_404(teams_for(user), pk)


def access_agent(user: User, pk: object) -> Agent:
    """Return the agent if this user may see it, else raise Http404."""
    return _get_or_404(agents_for(user), pk)


def access_canned_response(user: User, pk: object) -> CannedResponse:
    """Return the canned response if this user may see it, else raise Http404."""
    return _get_or_404(canned_responses_for(user), pk)


def access_audit_entry(user: User, pk: object) -> Entry:
    return _get_or_404(audit_entries_for(user), pk)


def require_agent(user: User) -> Agent:
    """Return the user's own agent profile for the dashboard, else raise PermissionDenied."""
    agent = agent_of(user)
    if agent is None:
        raise PermissionDenied(_("This account is not an active agent of an active tenant."))
    return agent


def access_conversation(agent: Agent, conversation_id: str) -> Conversation:
    """Return a conversation of the agent's tenant that the agent takes or took part in.

    Raises Http404 otherwise, as for a conversation that does not exist.
    """
    try:
        return (
            Conversation.objects.select_related("tenant", "team", "customer_device")
            .filter(tenant_id=agent.tenant_id, participants__agent=agent)
            .distinct()
            .get(pk=conversation_id)
        )
    except (ObjectDoesNotExist, ValueError, TypeError, ValidationError) as e:
        raise Http404("No conversation matches the given query.") from e


def conversations_for(agent: Agent) -> QuerySet[Conversation]:
    """Return the conversations the agent takes part in now."""
    return (
        Conversation.objects.select_related("tenant", "team", "customer_device")
        .filter(
            tenant_id=agent.tenant_id,
            state=Conversation.State.ACTIVE,
            participants__agent=agent,
            participants__left_at__isnull=True,
        )
        .distinct()
        .prefetch_related(members_prefetch())
        .order_by("accepted_at")
    )


def history_for(agent: Agent) -> QuerySet[Conversation]:
    """Return the conversations of the agent's history, newest first: those it took part in
    and no longer works on (closed, or left), and for a supervisor also its teams' closed ones.

    Metadata only: whether this browser can read one depends on whether it was in its epochs,
    which the agent's dashboard works out from the devices each entry names."""
    took_part = Q(participants__agent=agent)
    if agent.role == Agent.Role.SUPERVISOR:
        took_part |= Q(team__in=agent.teams.all(), state=Conversation.State.CLOSED)
    working_on = conversations_for(agent).order_by().values("pk")
    return (
        Conversation.objects.select_related("tenant", "team", "customer_device")
        .filter(took_part, tenant_id=agent.tenant_id)
        .exclude(pk__in=working_on)
        .distinct()
        .prefetch_related(members_prefetch())
        .order_by("-created_at", "-pk")
    )


def supervised_conversations(agent: Agent) -> QuerySet[Conversation]:
    """Return the waiting and active conversations of a supervisor's teams (none for anyone
    who is not a supervisor): what the supervisor's board lists and may open."""
    if agent.role != Agent.Role.SUPERVISOR:
        return Conversation.objects.none()
    return (
        Conversation.objects.select_related("tenant", "team", "customer_device")
        .filter(
            tenant_id=agent.tenant_id,
            team__in=agent.teams.all(),
            state__in=(Conversation.State.QUEUED, Conversation.State.ACTIVE),
        )
        .prefetch_related(members_prefetch())
        .order_by("created_at")
    )


def access_supervised_conversation(agent: Agent, conversation_id: object) -> Conversation:
    """Return a waiting or active conversation of one of the supervisor's teams.

    Raises Http404 otherwise, as for a conversation that does not exist.
    """
    return _get_or_404(supervised_conversations(agent), conversation_id)


def left_messages(agent: Agent) -> QuerySet[Conversation]:
    """Return the conversations left as messages for the agent's teams, in any state (none for a
    supervisor: messages are encrypted to agents' browsers), oldest first."""
    if agent.role == Agent.Role.SUPERVISOR:
        return Conversation.objects.none()
    return (
        Conversation.objects.select_related("tenant", "team")
        .filter(
            tenant_id=agent.tenant_id,
            team__in=agent.teams.all(),
            message_left_at__isnull=False,
        )
        .order_by("message_left_at", "pk")
    )


def access_left_message(agent: Agent, conversation_id: object) -> Conversation:
    """Return a conversation left as a message for one of the agent's teams.

    Raises Http404 otherwise, as for a conversation that does not exist.
    """
    return _get_or_404(left_messages(agent), conversation_id)


def access_customer_conversation(
    tenant: Tenant, conversation_id: object, token: object
) -> Conversation:
    """Return the tenant's conversation whose customer token this is, else raise Http404."""
    if not isinstance(token, str) or not token or not isinstance(conversation_id, str):
        raise Http404("No conversation matches the given query.")
    try:
        return Conversation.objects.select_related("tenant", "team", "customer_device").get(
            pk=conversation_id, tenant=tenant, customer_token_hash=hash_token(token)
        )
    except (ObjectDoesNotExist, ValueError, TypeError, ValidationError) as e:
        raise Http404("No conversation matches the given query.") from e


def access_widget_tenant(widget_id: object) -> Tenant:
    """Return the active tenant whose widget id this is, else raise Http404."""
    if not isinstance(widget_id, str) or "\x00" in widget_id:  # PostgreSQL holds no NUL
        raise Http404("No widget matches the given query.")
    try:
        return Tenant.objects.get(widget_id=widget_id, is_active=True)
    except (ObjectDoesNotExist, ValueError, TypeError) as e:
        raise Http404("No widget matches the given query.") from e


def report_teams(agent: Agent) -> QuerySet[Team]:
    """Return the teams whose reports the agent may see: every team of its tenant for a tenant
    admin, its own teams for a supervisor, none for an agent."""
    teams = Team.objects.filter(tenant_id=agent.tenant_id)
    if agent.is_tenant_admin:
        return teams
    if agent.role == Agent.Role.SUPERVISOR:
        return teams.filter(pk__in=agent.teams.values("pk"))
    return teams.none()


def conversation_metadata_for(user: User) -> QuerySet[Conversation]:
    """Return the conversations whose metadata this user may list in the admin (never their
    events): every tenant's for platform admins, else its own tenant's."""
    return _scoped(user, Conversation.objects.select_related("tenant", "team"), "tenant_id")


def access_conversation_metadata(user: User, pk: object) -> Conversation:
    """Return the conversation's metadata if this user may see it, else raise Http404."""
    return _get_or_404(conversation_metadata_for(user), pk)
