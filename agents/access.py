"""The one tenant-checked lookup per object kind, used by views, admin and consumers alike.

A lookup of an object outside the caller's tenant raises Http404, exactly as for an
object that does not exist, so an outsider learns nothing (docs/THREAT_MODEL.md).
"""

from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from agents.models import Agent, Team, Tenant

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


def _get_or_404(queryset: QuerySet[M], pk: object) -> M:
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError) as e:
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


def require_agent(user: User) -> Agent:
    """Return the user's own agent profile for the dashboard, else raise PermissionDenied."""
    agent = agent_of(user)
    if agent is None:
        raise PermissionDenied("This account is not an active agent of an active tenant.")
    return agent
