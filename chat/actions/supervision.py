"""Supervisors: a board of their teams' queues and chats, and opening a chat to read it live, to
whisper to its agents, or to write to the customer (barge in), as far as the tenant's policy
(`Tenant.supervision`) allows.

The server only records and routes: a supervisor who opens a chat joins the server's record and
its device is announced with a `joined` notice; a member's browser adds the device with a signed
epoch once its supervisor certificate holds, and every member's screen lists it (docs/PROTOCOL.md,
"Who makes epochs"). A whisper is a staff note ("Staff-only messages"). What the board shows is
metadata the server has without reading a word.
"""

from typing import Any

from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from agents import access
from agents.models import Agent, Device, Tenant
from chat import capacity, states
from chat.actions import membership, trust
from chat.actions.events import lock_conversation
from chat.broadcast import agent_group, send_on_commit
from chat.errors import ChatError
from chat.models import Conversation, Participant, ParticipantDevice
from chat.payloads import conversation_payload
from sealdesk_client.frames import CONVERSATION, frame

Supervision = Tenant.Supervision


def board(supervisor: Agent) -> dict[str, Any]:
    """Return the supervisor's board: for each of its teams, the chats waiting and since when;
    and every waiting or active chat of those teams, with who is in it. Metadata only."""
    chats = list(access.supervised_conversations(supervisor))
    teams = (
        supervisor.teams.filter(tenant_id=supervisor.tenant_id)
        .order_by("name")
        .annotate(
            waiting=Count("conversations", filter=Q(conversations__state="queued")),
            oldest=Min("conversations__created_at", filter=Q(conversations__state="queued")),
            active=Count("conversations", filter=Q(conversations__state="active")),
        )
        .values("id", "name", "waiting", "oldest", "active")
        if supervisor.role == Agent.Role.SUPERVISOR
        else []
    )
    return {
        "type": "board",
        "supervision": supervisor.tenant.supervision,
        "queues": [
            {**team, "oldest": team["oldest"].isoformat() if team["oldest"] else None}
            for team in teams
        ],
        "agents": _board_agents(supervisor),
        "conversations": [_board_row(chat, supervisor) for chat in chats],
    }


def _board_agents(supervisor: Agent) -> list[dict[str, Any]]:
    """Return the agents of the supervisor's teams (supervisors aside, who take no routed
    chats): presence, and chats in hand against their maximum. One query."""
    if supervisor.role != Agent.Role.SUPERVISOR:
        return []
    members = Agent.teams.through.objects.filter(team__in=supervisor.teams.all())
    return list(
        Agent.objects.filter(
            tenant_id=supervisor.tenant_id, pk__in=members.values("agent_id"), user__is_active=True
        )
        .exclude(role=Agent.Role.SUPERVISOR)
        .annotate(chats=capacity.in_hand())
        .order_by("display_name", "pk")
        .values("id", "display_name", "presence", "chats", "max_concurrent_chats")
    )


def _board_row(conversation: Conversation, supervisor: Agent) -> dict[str, Any]:
    members = [m for m in conversation.participants.all() if m.left_at is None]
    staff = [m for m in members if m.agent is not None]
    return {
        "id": str(conversation.id),
        "team": conversation.team.name,
        "state": conversation.state,
        "created_at": conversation.created_at.isoformat(),
        "accepted_at": conversation.accepted_at.isoformat() if conversation.accepted_at else None,
        "agents": [
            m.agent.display_name for m in staff if m.role == Participant.Role.AGENT and m.agent
        ],
        "supervisors": [
            m.agent.display_name for m in staff if m.role == Participant.Role.SUPERVISOR and m.agent
        ],
        "events": conversation.last_seq,
        "mine": any(m.agent_id == supervisor.pk for m in staff),
    }


def _name(participant: Participant) -> str:
    return participant.agent.display_name if participant.agent else ""


# The policies from the strictest to the most permissive.
ORDER = (Supervision.OFF, Supervision.MONITOR, Supervision.WHISPER, Supervision.BARGE)


def policy_of(conversation: Conversation) -> str:
    """Return what supervisors may do in a chat: the stricter of its tenant's policy now and the
    one its customer was told of when the chat started."""
    return min(conversation.tenant.supervision, conversation.supervision, key=ORDER.index)


def _require_policy(conversation: Conversation, *allowed: str) -> None:
    policy = policy_of(conversation)
    if policy not in allowed:
        label = Supervision(policy).label
        raise ChatError(
            "supervision_off",
            f"The supervision policy of this chat is '{label}': this is not allowed.",
        )


def do_monitor(supervisor: Agent, device: Device, conversation: Conversation) -> Conversation:
    """Let a supervisor open an active chat of its teams through a certified device: it joins
    the record as a supervisor, and a member's browser adds the device with a signed epoch."""
    _require_policy(conversation, Supervision.MONITOR, Supervision.WHISPER, Supervision.BARGE)
    if trust.current_org_key(supervisor.tenant) is None:
        # Without certificates no browser could tell a supervisor's device from one the server
        # holds (docs/THREAT_MODEL.md).
        raise ChatError(
            "no_org_key",
            "Your organisation needs an organisation key before supervisors open chats.",
        )
    device = Device.objects.get(pk=device.pk)  # as it is now: revoked since the socket opened?
    if device.agent_id != supervisor.pk or device.revoked_at is not None:
        raise ChatError("unknown_device", "Register this browser's keys first.")
    if device.cert is None or device.cert.get("role") != "supervisor":
        # The widget names a supervisor by its certificate's role: one approved as an agent
        # would read unnamed as a supervisor.
        raise ChatError(
            "device_not_certified",
            "A tenant admin must approve this browser as a supervisor's first.",
        )
    now = timezone.now()
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        states.require_open(conversation)
        if conversation.state != Conversation.State.ACTIVE:
            raise ChatError("conversation_not_active", "Nobody has taken this chat yet.")
        if conversation.participants.filter(
            agent=supervisor, left_at__isnull=True, devices__device=device
        ).exists():
            raise ChatError("already_in_conversation", "You are in this chat already.")
        membership.do_join(conversation, supervisor, device, Participant.Role.SUPERVISOR, now)
        send_on_commit(
            agent_group(supervisor.pk),
            frame(CONVERSATION, conversation=conversation_payload(conversation)),
        )
    return conversation


def do_barge(supervisor: Agent, device: Device, conversation: Conversation) -> Participant:
    """Let a supervisor who monitors a chat write to its customer from now on, where the policy
    allows barging in."""
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        _require_policy(conversation, Supervision.BARGE)
        states.require_open(conversation)
        seat = membership.require_participant(conversation, device)
        participant = seat.participant
        if participant.role != Participant.Role.SUPERVISOR:
            raise ChatError("not_a_participant", "Only a supervisor who monitors barges in.")
        if participant.barged_at is None:
            participant.barged_at = timezone.now()
            participant.save(update_fields=["barged_at"])
        send_on_commit(
            agent_group(supervisor.pk),
            frame(CONVERSATION, conversation=conversation_payload(conversation)),
        )
    return participant


def require_may_write(seat: ParticipantDevice, conversation: Conversation, staff: bool) -> None:
    """Refuse a message a supervisor may not send: one for the customer while it monitors (it
    barges in first) or once the policy no longer lets it barge in, and a whisper where the
    policy allows none."""
    participant = seat.participant
    if participant.role != Participant.Role.SUPERVISOR:
        return
    if staff:
        _require_policy(conversation, Supervision.WHISPER, Supervision.BARGE)
        return
    if participant.barged_at is None:
        raise ChatError(
            "supervisor_monitoring",
            "You are monitoring this chat: barge in before you write to the customer.",
        )
    _require_policy(conversation, Supervision.BARGE)


def require_may_act(seat: ParticipantDevice) -> None:
    """Refuse what only people in the conversation itself do (closing it, asking others in,
    files) to a supervisor who monitors and has not barged in."""
    if is_silent(seat):
        raise ChatError(
            "supervisor_monitoring",
            "You are monitoring this chat: barge in before you act in it.",
        )


def is_silent(seat: ParticipantDevice) -> bool:
    """Whether the device's person monitors without having barged in: nobody sees it type."""
    participant = seat.participant
    return participant.role == Participant.Role.SUPERVISOR and participant.barged_at is None
