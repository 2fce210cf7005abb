"""The audit log: security events of each tenant, append-only, kept for AUDIT_RETENTION_DAYS."""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents.models import Tenant


class AppendOnly(Exception):
    """An audit entry was to be changed or deleted one by one: entries are only ever added
    (and dropped past their retention, in bulk, by audit.log.forget_old_entries)."""


class Entry(models.Model):
    """One security event: who did what, when, from where, to what."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Signed in")
        LOGIN_FAILED = "login_failed", _("Sign-in failed")
        LOGOUT = "logout", _("Signed out")
        TWO_FACTOR = "two_factor", _("Two-factor set-up changed")
        DEVICE_APPROVED = "device_approved", _("Device approved")
        DEVICE_REVOKED = "device_revoked", _("Device revoked")
        ORG_KEY_CHANGED = "org_key_changed", _("Organisation key set or rotated")
        ORG_KEY_SHARED = "org_key_shared", _("Organisation key shared with an admin")
        ROLE_CHANGED = "role_changed", _("Role changed")
        AGENT_ADDED = "agent_added", _("Agent added")
        AGENT_CHANGED = "agent_changed", _("Agent changed")
        AGENT_DELETED = "agent_deleted", _("Agent deleted")
        ROUTING_CHANGED = "routing_changed", _("Routing changed")
        POLICY_CHANGED = "policy_changed", _("Tenant settings changed")
        TEAM_CHANGED = "team_changed", _("Team added, changed or deleted")
        REPORT_EXPORTED = "report_exported", _("Report exported")
        LIMIT_HIT = "limit_hit", _("Abuse limit reached")

    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty for platform events (a platform admin's, or a sign-in of no tenant)"),
    )
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    action = models.CharField(_("what"), max_length=30, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_name = models.CharField(
        _("who"), max_length=150, blank=True, help_text=_("The username then, kept if it goes")
    )
    target = models.CharField(_("to what"), max_length=200, blank=True)
    detail = models.JSONField(_("details"), default=dict, blank=True)
    address = models.CharField(_("from where"), max_length=64, blank=True)
    user_agent = models.CharField(_("browser"), max_length=200, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["tenant", "-at"], name="audit_tenant_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action} {self.target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("Audit entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnly("Audit entries are never deleted one by one.")
