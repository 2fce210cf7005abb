"""Tenants, their teams and their agents. Every tenant-owned row carries its tenant."""

import logging
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents import hours as business_hours
from agents.branding import DEFAULT_BRAND_COLOR, validate_brand_color
from contactcenter.ids import TimeOrderedId

logger = logging.getLogger(__name__)


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


class Tenant(TimeOrderedId):
    """A company that embeds the widget and employs agents."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    widget_id = models.CharField(
        max_length=40,
        unique=True,
        default=new_widget_id,
        editable=False,
        help_text=_("Public id in the embed snippet; it grants nothing by itself."),
    )
    allowed_origins = models.TextField(
        blank=True,
        help_text=_(
            "Web origins that may embed the widget, one per line, such as https://www.example.com."
        ),
    )
    is_active = models.BooleanField(
        "active", default=True, help_text=_("Inactive tenants' agents and widgets are refused.")
    )
    offer_timeout_seconds = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(600)],
        help_text=_("How long an agent has to accept an offered chat before it passes on."),
    )
    max_file_bytes = models.PositiveBigIntegerField(
        "largest file",
        default=100 * 1024 * 1024,
        validators=[MinValueValidator(1024), MaxValueValidator(10 * 1024**3)],
        help_text=_("Bytes; the largest file a customer or agent may send."),
    )
    conversation_quota_bytes = models.PositiveBigIntegerField(
        "files per conversation",
        default=500 * 1024 * 1024,
        validators=[MinValueValidator(1024), MaxValueValidator(100 * 1024**3)],
        help_text=_("Bytes; all files of one conversation together."),
    )

    away_after_missed_offer = models.BooleanField(
        "set Away after a missed offer",
        default=True,
        help_text=_(
            "An agent who lets an offered chat time out is set Away, so that the next "
            "chats do not wait on someone who is not there."
        ),
    )
    park_resume_minutes = models.PositiveIntegerField(
        "resume parked chats after",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(60 * 24 * 30)],
        help_text=_(
            "Minutes; a parked chat goes back to the queue by itself after this. Empty: "
            "only when the customer writes again."
        ),
    )
    park_expiry_hours = models.PositiveIntegerField(
        "parked chats expire after",
        default=72,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 365)],
        help_text=_("Hours; a chat parked this long closes."),
    )

    class Supervision(models.TextChoices):
        OFF = "off", _("Off: supervisors cannot open chats")
        MONITOR = "monitor", _("Monitor: supervisors read chats")
        WHISPER = "whisper", _("Monitor and whisper to the agents")
        BARGE = "barge", _("Monitor, whisper and barge in")

    require_two_factor = models.BooleanField(
        _("require two-factor sign-in"),
        default=False,
        help_text=_(
            "Agents, supervisors and admins sign in with a code from an authenticator app as "
            "well as their password; who has none sets one up at the next sign-in."
        ),
    )
    supervision = models.CharField(
        max_length=10,
        choices=Supervision.choices,
        default=Supervision.OFF,
        help_text=_(
            "What supervisors may do in their teams' chats. When it is not off, the "
            "widget tells customers before the chat starts, and their browsers list every "
            "supervisor who reads."
        ),
    )

    message_after_minutes = models.PositiveSmallIntegerField(
        "offer a message after (minutes)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "When a customer has waited this long in the queue, the widget offers to "
            "leave a message instead. Empty: only outside business hours."
        ),
    )

    class Routing(models.TextChoices):
        BUILTIN = "builtin", _("Built-in router")
        TWILIO = "twilio", _("Twilio TaskRouter")

    routing = models.CharField(
        "routing mode",
        max_length=10,
        choices=Routing.choices,
        default=Routing.BUILTIN,
        help_text=_(
            "Who picks the agent for a new chat. Twilio sees routing attributes only, "
            "never messages or pre-chat answers."
        ),
    )

    brand_color = models.CharField(
        _("brand colour"),
        max_length=7,
        default=DEFAULT_BRAND_COLOR,
        validators=[validate_brand_color],
        help_text=_(
            "The widget's launcher, header and buttons, such as #1f5fbf. White text is written "
            "on it, so it must be dark enough for a contrast of at least 4.5:1."
        ),
    )

    class LauncherPosition(models.TextChoices):
        RIGHT = "right", _("Bottom right")
        LEFT = "left", _("Bottom left")

    launcher_position = models.CharField(
        _("launcher position"),
        max_length=5,
        choices=LauncherPosition.choices,
        default=LauncherPosition.RIGHT,
        help_text=_("Where on the page the widget's button and panel sit."),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
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


class Team(TimeOrderedId):
    """A queue of agents within one tenant, such as Sales or Support."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        blank=True,
        help_text=_(
            "The time zone of the team's business hours, such as Europe/Berlin (empty: UTC)."
        ),
    )
    hours = models.TextField(
        "business hours",
        blank=True,
        help_text=_(
            "When the team answers chats, one span of days a line, such as "
            '"mon-fri 09:00-17:30" and "sat 10:00-14:00". Empty: always open. Outside them '
            "the widget offers to leave a message."
        ),
    )
    holidays = models.TextField(
        blank=True,
        help_text=_('Days the team is closed, one date a line, such as "2026-12-25 Christmas".'),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="team_name_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        checks: tuple[tuple[str, Callable[[str], object]], ...] = (
            ("time_zone", business_hours.validate_time_zone),
            ("hours", business_hours.parse_hours),
            ("holidays", business_hours.parse_holidays),
        )
        for field, check in checks:
            try:
                check(getattr(self, field))
            except ValidationError as e:
                errors[field] = e.messages
        if errors:
            raise ValidationError(errors)

    def schedule(self) -> business_hours.Schedule:
        """Return the team's business hours (agents/hours.py). Hours stored past the admin's
        checks that no longer read (a time zone a newer tz database dropped) count as always
        open, with a warning in the log: a chat goes on rather than fail."""
        try:
            return business_hours.Schedule.of(self.time_zone, self.hours, self.holidays)
        except (ValidationError, ZoneInfoNotFoundError, ValueError):
            logger.warning("Team %s: business hours do not read; taken as always open", self.pk)
            return business_hours.Schedule.of("UTC", "", "")


class Agent(TimeOrderedId):
    """A person who answers chats: one Django user in exactly one tenant."""

    class Role(models.TextChoices):
        AGENT = "agent", _("Agent")
        SUPERVISOR = "supervisor", _("Supervisor")
        TENANT_ADMIN = "tenant_admin", _("Tenant admin")

    class Presence(models.TextChoices):
        AVAILABLE = "available", _("Available")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agents")
    display_name = models.CharField(
        max_length=100, help_text=_("The name customers see in the chat.")
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    max_concurrent_chats = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=_("How many chats the router may give this agent at once (1 to 50)."),
    )
    presence = models.CharField(max_length=20, choices=Presence.choices, default=Presence.OFFLINE)
    presence_changed_at = models.DateTimeField(default=timezone.now)
    idle_since = models.DateTimeField(
        default=timezone.now, help_text=_("Since when the router counts this agent idle.")
    )

    class Meta:
        ordering = ["display_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_concurrent_chats__gte=1, max_concurrent_chats__lte=50),
                name="agent_max_concurrent_chats_range",
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
        AGENT = "agent", _("Agent")
        CUSTOMER = "customer", _("Customer")

    id = models.CharField(primary_key=True, max_length=32)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="devices")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="devices"
    )
    sign_public = models.CharField(max_length=44, help_text=_("Ed25519 public key, base64"))
    box_public = models.CharField(max_length=44, help_text=_("X25519 public key, base64"))
    label = models.CharField(max_length=200, blank=True, help_text=_("Browser, as the device said"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # An agent's device, once a tenant admin approved it: its certificate, signed in the admin's
    # browser by the tenant's organisation key (docs/PROTOCOL.md, "Certified devices").
    cert = models.JSONField(null=True, blank=True)
    certified_at = models.DateTimeField(null=True, blank=True)
    certified_by = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revocation = models.JSONField(
        null=True, blank=True, help_text=_("The signed revocation, when a tenant admin revoked it")
    )

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


class OrgKey(models.Model):
    """A tenant's organisation key: the public half of the Ed25519 key that certifies its staff's
    devices. The private half never reaches the server: it stays in tenant admins' browsers and
    in the encrypted backup file they keep. Each key after the first is handed over to by a
    rotation the one before signed."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="org_keys")
    public_key = models.CharField(max_length=44, unique=True, help_text=_("Ed25519, base64"))
    rotation = models.JSONField(
        null=True, blank=True, help_text=_("The hand-over signed by the key before, if any")
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["tenant", "created_at", "pk"]

    def __str__(self) -> str:
        return f"Organisation key of {self.tenant} ({self.public_key[:8]}…)"


class OrgKeyShare(models.Model):
    """A tenant admin's browser asking for the organisation key, and, once an admin's browser
    that holds it sealed it to the asking browser's public keys, that sealed copy. The server
    cannot open it (docs/PROTOCOL.md, "Giving the key to another browser")."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="org_key_shares")
    requested_by = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    sign_public = models.CharField(max_length=44, help_text=_("The asking browser's, base64"))
    box_public = models.CharField(max_length=44, help_text=_("The asking browser's, base64"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    share = models.JSONField(null=True, blank=True, help_text=_("The key, sealed to the asker"))
    shared_by = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tenant", "-created_at", "pk"]

    def __str__(self) -> str:
        return f"Request for {self.tenant}'s organisation key by {self.requested_by}"


class CannedResponse(TimeOrderedId):
    """A reply an agent inserts into the draft by its shortcut: for the whole tenant, or for one
    of its teams. Tenant configuration, stored in clear like any admin setting; once inserted
    into a message it is encrypted like everything the agent types (docs/THREAT_MODEL.md)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="canned_responses")
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        help_text=_("Only this team's agents get it. Empty: every agent of the tenant."),
    )
    shortcut = models.SlugField(
        max_length=40,
        help_text=_(
            "What agents type after “/” in the reply box, such as greeting or refund-policy."
        ),
    )
    title = models.CharField(max_length=100, help_text=_("A few words agents see in the list."))
    text = models.TextField(
        max_length=8000,
        help_text=_("Inserted into the reply; the agent can edit it before sending."),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["shortcut", "pk"]
        constraints = [
            # One shortcut per scope: once tenant-wide, once per team.
            models.UniqueConstraint(
                fields=["tenant", "shortcut"],
                condition=models.Q(team__isnull=True),
                name="canned_shortcut_unique_per_tenant",
            ),
            models.UniqueConstraint(
                fields=["tenant", "team", "shortcut"],
                condition=models.Q(team__isnull=False),
                name="canned_shortcut_unique_per_team",
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class WidgetText(models.Model):
    """The tenant's own words in the widget for one language: its greeting and pre-chat labels.
    A blank one leaves the widget's own (translated) text."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="widget_texts")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    greeting = models.CharField(
        _("greeting"),
        max_length=300,
        blank=True,
        help_text=_("Above the pre-chat form. Empty: “Tell us who you are and how we can help.”"),
    )
    name_label = models.CharField(_("name label"), max_length=60, blank=True)
    email_label = models.CharField(_("email label"), max_length=60, blank=True)
    question_label = models.CharField(_("question label"), max_length=60, blank=True)

    # The texts the widget may take from the row, by the keys it asks for them with.
    KEYS = ["greeting", "name_label", "email_label", "question_label"]

    class Meta:
        ordering = ["language"]
        verbose_name = _("widget text")
        verbose_name_plural = _("widget texts for a language")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "language"], name="widget_text_unique_per_language"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} ({self.language})"

    def given(self) -> dict[str, str]:
        """Return the texts this row sets, without the blank ones."""
        return {key: text for key in self.KEYS if (text := getattr(self, key).strip())}
