"""Tenants, their teams and their agents. Every tenant-owned row carries its tenant."""

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from agents import credentials


def sid_pattern(prefix: str) -> str:
    """Return the pattern of a Twilio SID: two letters naming its kind, then 32 hex digits."""
    return rf"^{prefix}[0-9a-fA-F]{{32}}$"


def sid_validator(prefix: str, what: str) -> RegexValidator:
    """Check a Twilio SID of the kind PREFIX in a form."""
    return RegexValidator(
        sid_pattern(prefix),
        f"A {what} SID is {prefix} followed by 32 hex digits, as Twilio's console shows it.",
    )


def new_widget_id() -> str:
    """Return a fresh public widget id, the value a tenant pastes into its embed snippet."""
    return "wid_" + secrets.token_urlsafe(16)


def normalize_origin(value: str) -> str:
    """Return VALUE as a web origin (scheme://host[:port]) or raise ValidationError."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"“{value}” is not an origin such as https://www.example.com.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValidationError(
            f"“{value}” has more than an origin: give only scheme, host and port."
        )
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{host}{port}"


class Tenant(models.Model):
    """A company that embeds the widget and employs agents."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    widget_id = models.CharField(
        max_length=40,
        unique=True,
        default=new_widget_id,
        editable=False,
        help_text="Public id in the embed snippet; it grants nothing by itself.",
    )
    allowed_origins = models.TextField(
        blank=True,
        help_text="Web origins that may embed the widget, one per line, "
        "such as https://www.example.com.",
    )
    is_active = models.BooleanField(
        "active", default=True, help_text="Inactive tenants' agents and widgets are refused."
    )
    offer_timeout_seconds = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(600)],
        help_text="How long an agent has to accept an offered chat before it passes on.",
    )
    max_file_bytes = models.PositiveBigIntegerField(
        "largest file",
        default=100 * 1024 * 1024,
        validators=[MinValueValidator(1024), MaxValueValidator(10 * 1024**3)],
        help_text="Bytes; the largest file a customer or agent may send.",
    )
    conversation_quota_bytes = models.PositiveBigIntegerField(
        "files per conversation",
        default=500 * 1024 * 1024,
        validators=[MinValueValidator(1024), MaxValueValidator(100 * 1024**3)],
        help_text="Bytes; all files of one conversation together.",
    )

    class Routing(models.TextChoices):
        BUILTIN = "builtin", "Built-in router"
        TWILIO = "twilio", "Twilio TaskRouter"

    routing = models.CharField(
        "routing mode",
        max_length=10,
        choices=Routing.choices,
        default=Routing.BUILTIN,
        help_text="Who picks the agent for a new chat. Twilio sees routing attributes only, "
        "never messages or pre-chat answers.",
    )
    twilio_account_sid = models.CharField(
        "Account SID", max_length=34, blank=True, validators=[sid_validator("AC", "Account")]
    )
    twilio_workspace_sid = models.CharField(
        "Workspace SID",
        max_length=34,
        blank=True,
        unique=True,
        null=True,
        validators=[sid_validator("WS", "Workspace")],
    )
    twilio_workflow_sid = models.CharField(
        "Workflow SID", max_length=34, blank=True, validators=[sid_validator("WW", "Workflow")]
    )
    twilio_available_activity_sid = models.CharField(
        "Activity SID for Available",
        max_length=34,
        blank=True,
        validators=[sid_validator("WA", "Activity")],
    )
    twilio_away_activity_sid = models.CharField(
        "Activity SID for Away",
        max_length=34,
        blank=True,
        validators=[sid_validator("WA", "Activity")],
    )
    twilio_offline_activity_sid = models.CharField(
        "Activity SID for Offline",
        max_length=34,
        blank=True,
        validators=[sid_validator("WA", "Activity")],
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def uses_twilio(self) -> bool:
        return self.routing == self.Routing.TWILIO

    def twilio_auth_token(self) -> str:
        """Return the Twilio auth token, from the server's environment (agents/credentials.py);
        raise CredentialError if it is not there."""
        return credentials.twilio_auth_token(self.twilio_account_sid)

    def activity_sids(self) -> dict[str, str]:
        """Return the Twilio Activity SID of each presence."""
        return {
            Agent.Presence.AVAILABLE: self.twilio_available_activity_sid,
            Agent.Presence.AWAY: self.twilio_away_activity_sid,
            Agent.Presence.OFFLINE: self.twilio_offline_activity_sid,
        }

    def clean(self) -> None:
        self.twilio_workspace_sid = self.twilio_workspace_sid or None  # unique, but optional
        if self.uses_twilio:
            required = [
                "twilio_account_sid",
                "twilio_workspace_sid",
                "twilio_workflow_sid",
                "twilio_available_activity_sid",
                "twilio_away_activity_sid",
                "twilio_offline_activity_sid",
            ]
            missing = {
                name: "Twilio TaskRouter routing needs this."
                for name in required
                if not getattr(self, name)
            }
            if missing:
                raise ValidationError(missing)
            activities = [s for s in self.activity_sids().values() if s]
            if len(set(activities)) != len(activities):
                raise ValidationError(
                    {"twilio_away_activity_sid": "Each presence needs its own Activity."}
                )
        origins = []
        errors = []
        for line in self.allowed_origins.splitlines():
            if not line.strip():
                continue
            try:
                origins.append(normalize_origin(line))
            except ValidationError as e:
                errors.extend(e.messages)
        if errors:
            raise ValidationError({"allowed_origins": errors})
        self.allowed_origins = "\n".join(dict.fromkeys(origins))

    def origin_list(self) -> list[str]:
        """Return the normalized origins allowed to embed the widget."""
        return [line for line in self.allowed_origins.splitlines() if line.strip()]


class Team(models.Model):
    """A queue of agents within one tenant, such as Sales or Support."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    twilio_task_queue_sid = models.CharField(
        "TaskQueue SID",
        max_length=34,
        blank=True,
        validators=[sid_validator("WQ", "TaskQueue")],
        help_text="With Twilio TaskRouter routing: the TaskQueue of this team's chats.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="team_name_unique_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant", "twilio_task_queue_sid"],
                condition=~models.Q(twilio_task_queue_sid=""),
                name="team_task_queue_unique_per_tenant",
                violation_error_message="Another team of this tenant has this TaskQueue.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Agent(models.Model):
    """A person who answers chats: one Django user in exactly one tenant."""

    class Role(models.TextChoices):
        AGENT = "agent", "Agent"
        SUPERVISOR = "supervisor", "Supervisor"
        TENANT_ADMIN = "tenant_admin", "Tenant admin"

    class Presence(models.TextChoices):
        AVAILABLE = "available", "Available"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agents")
    display_name = models.CharField(max_length=100, help_text="The name customers see in the chat.")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    max_concurrent_chats = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="How many chats the router may give this agent at once (1 to 50).",
    )
    presence = models.CharField(max_length=20, choices=Presence.choices, default=Presence.OFFLINE)
    presence_changed_at = models.DateTimeField(default=timezone.now)
    idle_since = models.DateTimeField(
        default=timezone.now, help_text="Since when the router counts this agent idle."
    )
    twilio_worker_sid = models.CharField(
        "Worker SID",
        max_length=34,
        blank=True,
        validators=[sid_validator("WK", "Worker")],
        help_text="With Twilio TaskRouter routing: this agent's Worker.",
    )
    twilio_activity_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Time of the last Activity event applied"
    )

    class Meta:
        ordering = ["display_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_concurrent_chats__gte=1, max_concurrent_chats__lte=50),
                name="agent_max_concurrent_chats_range",
            ),
            models.UniqueConstraint(
                fields=["tenant", "twilio_worker_sid"],
                condition=~models.Q(twilio_worker_sid=""),
                name="agent_worker_unique_per_tenant",
                violation_error_message="Another agent of this tenant is this Worker.",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_tenant_admin(self) -> bool:
        return self.role == self.Role.TENANT_ADMIN


class Device(models.Model):
    """One browser's public keys: an agent's browser, or a customer's for one conversation.

    The id is derived from the keys (docs/PROTOCOL.md, "Devices"), so the server cannot give a
    known key another id. Private keys never reach the server.
    """

    class Kind(models.TextChoices):
        AGENT = "agent", "Agent"
        CUSTOMER = "customer", "Customer"

    id = models.CharField(primary_key=True, max_length=32)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="devices")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="devices"
    )
    sign_public = models.CharField(max_length=44, help_text="Ed25519 public key, base64")
    box_public = models.CharField(max_length=44, help_text="X25519 public key, base64")
    label = models.CharField(max_length=200, blank=True, help_text="Browser, as the device said")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="customer", agent__isnull=True)
                | models.Q(kind="agent", agent__isnull=False),
                name="device_agent_matches_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} device {self.id[:8]}"
