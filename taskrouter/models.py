"""What Sealdesk keeps of Twilio TaskRouter: beside a core row, the Twilio resource it maps to.

A tenant's Workspace, a team's TaskQueue, an agent's Worker, a conversation's Task and an offer's
Reservation are each a row of their own here, one to one with the core row (agents, chat), which
knows nothing of them. Callbacks already handled are remembered so that replays change nothing.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents.models import Agent, Team, Tenant
from chat.models import Conversation, Offer
from taskrouter import credentials


def sid_pattern(prefix: str) -> str:
    """Return the pattern of a Twilio SID: two letters naming its kind, then 32 hex digits."""
    return rf"^{prefix}[0-9a-fA-F]{{32}}$"


class SidField(models.CharField):  # type: ignore[type-arg]
    """A Twilio SID as a tenant admin types it, kept as Twilio writes it (the kind in capitals,
    the hex digits in lower case), so that the same SID in another case is the same SID, in
    forms, in uniqueness checks and in look-ups."""

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return credentials.normal_sid(value) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return credentials.normal_sid(value) if isinstance(value, str) else value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if isinstance(value, str):
            value = credentials.normal_sid(value)
            setattr(model_instance, self.attname, value)
        return value


def sid_validator(prefix: str, what: str) -> RegexValidator:
    """Check a Twilio SID of the kind PREFIX in a form."""
    return RegexValidator(
        sid_pattern(prefix),
        f"A {what} SID is {prefix} followed by 32 hex digits, as Twilio's console shows it.",
    )


class Workspace(models.Model):
    """A tenant's TaskRouter Workspace: its account, its Workflow, an Activity per presence."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="twilio_workspace"
    )
    account_sid = SidField(
        "Account SID", max_length=34, blank=True, validators=[sid_validator("AC", "Account")]
    )
    sid = SidField(
        "Workspace SID",
        max_length=34,
        blank=True,
        null=True,
        # Not unique: the Workspace belongs to the tenant's account, which the operator gives to
        # one tenant (taskrouter/credentials.py); a uniqueness error would tell a tenant admin
        # that another tenant uses the SID typed in.
        validators=[sid_validator("WS", "Workspace")],
    )
    workflow_sid = SidField(
        "Workflow SID", max_length=34, blank=True, validators=[sid_validator("WW", "Workflow")]
    )
    available_activity_sid = SidField(
        "Activity SID for Available",
        max_length=34,
        blank=True,
        validators=[sid_validator("WA", "Activity")],
    )
    away_activity_sid = SidField(
        "Activity SID for Away",
        max_length=34,
        blank=True,
        validators=[sid_validator("WA", "Activity")],
    )
    offline_activity_sid = SidField(
        "Activity SID for Offline",
        max_length=34,
        blank=True,
        validators=[sid_validator("WA", "Activity")],
    )

    # What a tenant in Twilio TaskRouter routing mode must have set.
    REQUIRED = [
        "account_sid",
        "sid",
        "workflow_sid",
        "available_activity_sid",
        "away_activity_sid",
        "offline_activity_sid",
    ]

    class Meta:
        verbose_name = _("Twilio TaskRouter workspace")

    def __str__(self) -> str:
        return f"Workspace {self.sid or '(not set)'} of {self.tenant_id}"

    def auth_token(self) -> str:
        """Return the account's auth token, from the server's environment, if the operator gave
        the account to this tenant (taskrouter/credentials.py); else raise CredentialError."""
        return credentials.auth_token(self.account_sid, self.tenant.slug)

    def activity_sids(self) -> dict[str, str]:
        """Return the Activity SID of each presence."""
        return {
            Agent.Presence.AVAILABLE: self.available_activity_sid,
            Agent.Presence.AWAY: self.away_activity_sid,
            Agent.Presence.OFFLINE: self.offline_activity_sid,
        }

    def clean(self) -> None:
        self.sid = self.sid or None
        activities = [sid for sid in self.activity_sids().values() if sid]
        if len(set(activities)) != len(activities):
            raise ValidationError({"away_activity_sid": "Each presence needs its own Activity."})


class _TenantSid(models.Model):
    """A team's or an agent's Twilio row, which carries a copy of its owner's tenant so that the
    database keeps a SID to one owner per tenant. OWNER names the team or agent field."""

    owner: str
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", editable=False)
    sid = models.CharField(max_length=34, blank=True)  # each kind says which SID, and checks it

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.tenant_id = getattr(self, self.owner).tenant_id  # an owner never changes tenant
        super().save(*args, **kwargs)

    @classmethod
    def sid_of(cls, owner: Team | Agent) -> str:
        """Return the SID of the owner's row, or "" if it has none."""
        sid = cls._default_manager.filter(**{cls.owner: owner}).values_list("sid", flat=True)
        return str(sid.first() or "")


class TaskQueue(_TenantSid):
    """The TaskQueue of a team's chats."""

    owner = "team"

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, primary_key=True, related_name="twilio_task_queue"
    )
    sid = SidField(
        "TaskQueue SID",
        max_length=34,
        blank=True,
        validators=[sid_validator("WQ", "TaskQueue")],
        help_text=_("With Twilio TaskRouter routing: the TaskQueue of this team's chats."),
    )

    class Meta:
        verbose_name = _("Twilio TaskQueue")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "sid"],
                condition=~models.Q(sid=""),
                name="task_queue_once_per_tenant",
                violation_error_message="Another team of this tenant has this TaskQueue.",
            ),
        ]

    def __str__(self) -> str:
        return f"TaskQueue {self.sid or '(not set)'} of team {self.team_id}"


class Worker(_TenantSid):
    """An agent's Worker, and the presence of its Activity as Twilio last reported or was sent."""

    owner = "agent"

    agent = models.OneToOneField(
        Agent, on_delete=models.CASCADE, primary_key=True, related_name="twilio_worker"
    )
    sid = SidField(
        "Worker SID",
        max_length=34,
        blank=True,
        validators=[sid_validator("WK", "Worker")],
        help_text=_("With Twilio TaskRouter routing: this agent's Worker."),
    )
    presence = models.CharField(
        max_length=20,
        choices=Agent.Presence.choices,
        blank=True,
        editable=False,
        help_text=_(
            "The presence of the Activity Twilio last reported or was sent; empty if unknown"
        ),
    )
    activity_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=_("Time of the last Activity event applied"),
    )

    class Meta:
        verbose_name = _("Twilio Worker")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "sid"],
                condition=~models.Q(sid=""),
                name="worker_once_per_tenant",
                violation_error_message="Another agent of this tenant is this Worker.",
            ),
        ]

    def __str__(self) -> str:
        return f"Worker {self.sid or '(not set)'} of agent {self.agent_id}"


class Task(models.Model):
    """A conversation's Task: asked for when the chat was queued, its SID once Twilio made it."""

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, primary_key=True, related_name="twilio_task"
    )
    sid = models.CharField("Task SID", max_length=34, blank=True, db_index=True)
    requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Twilio Task")

    def __str__(self) -> str:
        return f"Task {self.sid or '(asked for)'} of {self.conversation_id}"

    @classmethod
    def sid_of(cls, conversation: Conversation) -> str:
        """Return the SID of the conversation's Task, or "" if it has none yet."""
        return (
            cls.objects.filter(conversation=conversation).values_list("sid", flat=True).first()
            or ""
        )


class Reservation(models.Model):
    """The Reservation an offer stands for."""

    offer = models.OneToOneField(
        Offer, on_delete=models.CASCADE, primary_key=True, related_name="twilio_reservation"
    )
    sid = models.CharField("Reservation SID", max_length=34, unique=True)

    class Meta:
        verbose_name = _("Twilio Reservation")

    def __str__(self) -> str:
        return f"Reservation {self.sid} of offer {self.offer_id}"


class Callback(models.Model):
    """A signed TaskRouter callback already handled, so that a retry or replay changes nothing."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, help_text=_("SHA-256 of the URL and the parameters"))
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "digest"], name="taskrouter_callback_once")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.digest[:12]}"
