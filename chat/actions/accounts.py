"""Telling an agent's open sockets that what the agent may do changed: its account, its role,
its tenant. A socket checks the agent once and keeps the answer (chat/consumers.py) until this
tells it to check again, which it does at once, closing itself if the agent is cut off.

Connected to the models' save and delete signals (chat/apps.py), so that every change made
through a model, in the admin or a command, reaches the sockets; queryset updates bypass
signals and are not used for these fields.
"""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from agents.models import Agent, Tenant
from chat.broadcast import agent_group, send_on_commit

ACCESS_CHANGED = "access.changed"  # a channel-layer event only: it becomes no frame
# Agent fields that change nothing of what the agent may do: saving only these tells nobody.
WORKING_STATE = frozenset({"presence", "presence_changed_at", "idle_since"})


def tell_access_changed(agent_ids: Iterable[int]) -> None:
    """Have the sockets of these agents check them again, once the change has committed."""
    for agent_id in agent_ids:
        send_on_commit(agent_group(agent_id), {"type": ACCESS_CHANGED})


def agent_changed(instance: Agent, update_fields: Iterable[str] | None = None, **_: Any) -> None:
    if update_fields is None or not set(update_fields) <= WORKING_STATE:
        tell_access_changed([instance.pk])


def tenant_changed(instance: Tenant, **_: Any) -> None:
    tell_access_changed(Agent.objects.filter(tenant=instance).values_list("pk", flat=True))


def user_changed(instance: AbstractBaseUser, **_: Any) -> None:
    tell_access_changed(Agent.objects.filter(user_id=instance.pk).values_list("pk", flat=True))
