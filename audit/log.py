"""Writing the audit log: one function for every security event, and the sign-in receivers.

Callers pass the request they act on, where there is one: the entry then says from where (the
client address as the rate limits see it, behind FORWARDED_FOR_HOPS trusted proxies), with
which browser and under which request id. Nothing secret goes in: no password, token, key or
message; a failed sign-in keeps the username typed, never the password.
"""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils import timezone

from agents.models import Agent, Tenant
from audit.models import Entry
from chat import limits
from chat.limits import client_address

log = logging.getLogger("sealdesk.audit")
Action = Entry.Action


def _tenant_of(user: Any) -> Tenant | None:
    if user is None or not getattr(user, "pk", None):
        return None
    agent = Agent.objects.select_related("tenant").filter(user_id=user.pk).first()
    return agent.tenant if agent is not None else None


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor: Any = None,
    tenant: Tenant | None = None,
    target: object = "",
    detail: dict[str, Any] | None = None,
) -> Entry:
    """Add an entry: ACTION by ACTOR (default: the request's user) on TARGET, in TENANT
    (default: the actor's agent's tenant; none for platform events)."""
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
    if tenant is None:
        tenant = _tenant_of(actor)
    entry = Entry(
        tenant=tenant,
        action=action,
        actor=actor,
        actor_name=(actor.get_username() if actor is not None else "")[:150],
        target=str(target)[:200],
        detail=detail or {},
    )
    if request is not None:
        entry.address = client_address(request, as_network=False)[:64]
        entry.user_agent = request.headers.get("User-Agent", "")[:200]
        entry.request_id = str(getattr(request, "request_id", ""))[:64]
    entry.save()
    log.info("audit %s by %s on %s", action, entry.actor_name or "-", entry.target or "-")
    return entry


def logged_in(sender: Any, request: HttpRequest | None, user: Any, **_: Any) -> None:
    record(Action.LOGIN, request=request, actor=user, target=user.get_username())


def logged_out(sender: Any, request: HttpRequest | None, user: Any, **_: Any) -> None:
    if user is not None:
        record(Action.LOGOUT, request=request, actor=user, target=user.get_username())


def tenant_of_username(username: str) -> Tenant | None:
    """Return the tenant of the account USERNAME names, if any."""
    return _tenant_of(get_user_model()._default_manager.filter(username=username).first())


def login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    """A failed sign-in: in the log of the tenant whose account it named, if any (its admin
    sees attempts on its agents), else a platform event. The password is never kept."""
    username = str(credentials.get("username", ""))[:150]
    record(
        Action.LOGIN_FAILED, request=request, tenant=tenant_of_username(username), target=username
    )
    limits.login_failed(request, username)


def forget_old_entries() -> int:
    """Drop the entries older than AUDIT_RETENTION_DAYS (0 keeps them for ever); return how
    many. A chore of the sweeper (chat/sweeper.py)."""
    days: int = settings.AUDIT_RETENTION_DAYS
    if not days:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Entry.objects.filter(at__lt=cutoff).delete()
    return deleted
