"""Conversations and what happens in them, as the server sees them: routing metadata and ciphertext.

Content is end-to-end encrypted (docs/PROTOCOL.md): an event's body holds only envelopes, epoch
records and key wraps that the server can neither read nor forge.
"""

import hashlib
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents.models import Agent, Device, Team, Tenant
from contactcenter.ids import TimeOrderedId


def hash_token(token: str) -> str:
    """Return how a customer token is stored: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


class Conversation(models.Model):
    """One customer's chat with a tenant, from the widget."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting in the queue")
        ACTIVE = "active", _("With an agent")
        PARKED = "parked", _("Parked: waits on the customer")
        MESSAGE = "message", _("Left as a message: waits for an agent")
        CLOSED = "closed", _("Closed")

    class Disposition(models.TextChoices):
        RESOLVED = "resolved", _("Resolved")
        FOLLOW_UP = "follow_up", _("Needs follow-up")
        NO_ANSWER = "no_answer", _("Customer left")
        SPAM = "spam", _("Spam or abuse")
        UNROUTED = "unrouted", _("No agent took it")
        EXPIRED = "expired", _("Parked too long")
        UPGRADED = "upgraded", _("Closed by the upgrade to protocol v2")

    # What a close may give as its disposition; "upgraded" only a migration gives, "expired"
    # only the sweeper.
    CLOSING_DISPOSITIONS = tuple(d for d in Disposition if d not in ("upgraded", "expired"))

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="conversations")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="conversations")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    customer_device = models.OneToOneField(
        Device, on_delete=models.PROTECT, related_name="customer_conversation"
    )
    customer_token_hash = models.CharField(max_length=64, unique=True)
    origin = models.CharField(max_length=200, blank=True, help_text=_("Page origin of the widget"))
    language = models.CharField(
        max_length=35, blank=True, help_text=_("The customer's browser language, for routing")
    )
    last_seq = models.PositiveBigIntegerField(default=0)
    disposition = models.CharField(max_length=10, choices=Disposition.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    accepted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    supervision = models.CharField(
        max_length=10,
        choices=Tenant.Supervision.choices,
        default=Tenant.Supervision.OFF,
        help_text=_(
            "The tenant's supervision policy when the chat started, as its widget told the "
            "customer: supervisors never do more than this"
        ),
    )
    customer_pins = models.BooleanField(
        default=False,
        help_text=_(
            "The customer's widget pins the organisation key (its tag names it): only then "
            "can its browser add an agent after the last one left, so only then is the chat sent "
            "back to a queue"
        ),
    )
    priority = models.BooleanField(
        default=False,
        help_text=_(
            "Routed ahead of the queue: a chat transferred to it, or resumed after parking"
        ),
    )
    preferred_agent = models.ForeignKey(
        Agent,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Offered the chat first when available: the agent who parked it"),
    )
    queued_at = models.DateTimeField(
        default=timezone.now,
        help_text=_("Since when the chat waits in its queue: its start, or when it was sent back"),
    )
    parked_at = models.DateTimeField(null=True, blank=True)
    park_expires_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When a parked chat closes if its customer stays away")
    )
    resume_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When a parked chat goes back to the queue by itself")
    )
    message_left_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "When the customer chose to leave a message (outside business hours, or after "
            "waiting long): its browser encrypted it to the team's certified agent devices"
        ),
    )
    message_devices = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "The agent devices the message was addressed to: only they can read it, so "
            "only they pick it up"
        ),
    )
    # The one thing of the customer the server keeps in clear, and only for a while
    # (docs/THREAT_MODEL.md): where to say that the answer to a message left is waiting.
    notify_email = models.EmailField(
        blank=True,
        help_text="The address the customer gave to hear, once, that the answer to its message "
        "is waiting; erased when that mail goes, or when the chat closes unanswered",
    )
    # The customer's rating of a closed chat: metadata the server sees, like the disposition
    # (docs/THREAT_MODEL.md); no comment goes with it.
    satisfaction = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("The customer's rating from 1 (poor) to 5 (very good), once the chat closed"),
    )
    rated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["team", "state", "created_at"]),
            # The reports' range: a tenant's conversations started between two days.
            models.Index(fields=["tenant", "created_at"], name="conversation_tenant_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(satisfaction__isnull=True)
                | models.Q(satisfaction__gte=1, satisfaction__lte=5),
                name="conversation_satisfaction_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {str(self.id)[:8]} ({self.get_state_display()})"

    def current_agents(self) -> list[Agent]:
        """Return the agents taking part now, first joined first."""
        return [
            participant.agent
            for participant in self.participants.filter(
                role=Participant.Role.AGENT, left_at__isnull=True
            )
            .select_related("agent")
            .order_by("joined_at", "pk")
            if participant.agent is not None
        ]


class Participant(models.Model):
    """A person's place in a conversation: its customer, or an agent or supervisor, from
    JOINED_AT until LEFT_AT. A person who comes back gets a new row; the old one is the record."""

    class Role(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        SUPERVISOR = "supervisor", _("Supervisor")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    role = models.CharField(max_length=12, choices=Role.choices)
    agent = models.ForeignKey(
        Agent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="participations",
        help_text=_("The agent or supervisor; none for the customer."),
    )
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    barged_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When a supervisor who monitored began to write to the customer (barged in)"),
    )

    class Meta:
        ordering = ["conversation", "joined_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="customer", agent__isnull=True)
                | (~models.Q(role="customer") & models.Q(agent__isnull=False)),
                name="participant_agent_matches_role",
            ),
            models.UniqueConstraint(
                fields=["conversation", "agent"],
                condition=models.Q(left_at__isnull=True),
                name="participant_once_at_a_time",
            ),
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(role="customer"),
                name="one_customer_per_conversation",
            ),
        ]
        indexes = [models.Index(fields=["agent", "left_at"])]

    def __str__(self) -> str:
        who = self.agent_id or "customer"
        return f"{self.get_role_display()} {who} in {self.conversation_id}"


class ParticipantDevice(models.Model):
    """A device through which a participant takes part: the devices epoch keys go to."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="devices")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="participations")
    last_sender_seq = models.PositiveBigIntegerField(
        default=0, help_text=_("The device's last message number in the conversation")
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "device"], name="participant_device_once"
            )
        ]

    def __str__(self) -> str:
        return f"Device {self.device_id[:8]} of {self.participant}"


class Event(models.Model):
    """One entry of a conversation's log, numbered by the server; clients resume from a number."""

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Encrypted message")
        EPOCH = "epoch", _("Epoch record and key wraps")
        SHARE = "share", _("History key wraps")
        JOINED = "joined", _("A device joined")
        LEFT = "left", _("A device left")
        QUEUED = "queued", _("Back in a queue")
        PARKED = "parked", _("Parked")
        CLOSED = "closed", _("Conversation closed")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sender = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sender_seq = models.PositiveBigIntegerField(null=True, blank=True)
    epoch = models.PositiveIntegerField(null=True, blank=True)
    body = models.JSONField()
    size = models.PositiveIntegerField(default=0, help_text=_("Bytes of ciphertext"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="event_seq_unique"),
            models.UniqueConstraint(
                fields=["conversation", "sender", "sender_seq"],
                condition=models.Q(kind="message"),
                name="message_sender_seq_unique",
            ),
            models.UniqueConstraint(
                fields=["conversation", "epoch"],
                condition=models.Q(kind="epoch"),
                name="epoch_number_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Event {self.seq} ({self.kind}) of {self.conversation_id}"


class Offer(TimeOrderedId):
    """A conversation offered to one agent, who accepts or declines before it expires: a queued
    one to route it, or an assigned one to join it (chat/states.py)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the agent")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Timed out")
        RESCINDED = "rescinded", _("Withdrawn")

    class Kind(models.TextChoices):
        QUEUE = "queue", _("A waiting chat, for its first agent")
        JOIN = "join", _("A chat with an agent already, to join")

    class Purpose(models.TextChoices):
        ROUTE = "route", _("Routed by the tenant's router")
        CONFERENCE = "conference", _("An agent in the chat asks for help")
        TRANSFER = "transfer", _("An agent in the chat hands it over")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="offers")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="offers")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.QUEUE)
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.ROUTE)
    invited_by = models.ForeignKey(
        Agent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations",
        help_text=_("The agent in the conversation who asked this agent to join it"),
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(state="pending", kind="queue"),
                name="one_pending_offer_per_conversation",
            ),
            models.UniqueConstraint(
                fields=["conversation", "agent"],
                condition=models.Q(state="pending"),
                name="one_pending_offer_per_agent",
            ),
        ]
        indexes = [models.Index(fields=["state", "expires_at"])]

    def __str__(self) -> str:
        return f"Offer of {self.conversation_id} to {self.agent_id} ({self.state})"


class Upload(models.Model):
    """An encrypted file's ciphertext, uploaded in numbered parts by a participant.

    The server knows only sizes and digests of ciphertext (docs/PROTOCOL.md, "Files"); it offers
    an upload for download only once every part arrived and the digest the uploader named matches.
    """

    class State(models.TextChoices):
        UPLOADING = "uploading", _("Uploading")
        COMPLETE = "complete", _("Complete")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="uploads")
    uploader = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="uploads")
    state = models.CharField(max_length=10, choices=State.choices, default=State.UPLOADING)
    size = models.PositiveBigIntegerField(help_text=_("Ciphertext bytes, as the uploader declared"))
    parts = models.PositiveIntegerField()
    received_parts = models.PositiveIntegerField(default=0)
    received_bytes = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"Upload {str(self.id)[:8]} ({self.state})"


class UploadPart(models.Model):
    """One stored part of an upload: where the storage keeps it, and its SHA-512."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="stored_parts")
    index = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    sha512 = models.CharField(max_length=128)
    name = models.CharField(max_length=300, help_text=_("The storage's name of the part"))

    class Meta:
        ordering = ["upload", "index"]
        constraints = [models.UniqueConstraint(fields=["upload", "index"], name="upload_part_once")]

    def __str__(self) -> str:
        return f"Part {self.index} of {self.upload_id}"


class RateCounter(models.Model):
    """A rate limit's counter for one window, on the embedded default (chat/limits.py): in the
    database, so that every process counts the same hits. Scale-out counts in Redis instead."""

    key = models.CharField(max_length=250, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
