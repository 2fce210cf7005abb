"""Supervisors, as the server records them: Sam (Acme's supervisor of Support) sees his team's
board, opens Alice's chat to monitor it, whispers and barges in as Acme's policy allows; Alice
(an agent) has no board and opens no chat she was not given; Olga (Globex's supervisor) reaches
nothing of Acme. Who reads is the members' browsers' business (tests/js/supervision.test.mjs);
tests/test_supervision_browser.py plays it in Chromium.
"""

import json
from typing import Any

import pytest
from django.http import Http404
from django.test import Client
from django.urls import reverse

from agents import access
from agents.models import Agent, Team, Tenant
from chat import uploads
from chat.actions import invitations, lifecycle, messages, presence, supervision
from chat.builtin_router import BuiltinRouter
from chat.models import Event, Offer, Participant
from sealdesk_client import protocol
from tests.factories import PASSWORD, Staff, certified_device, device_for, start
from tests.test_invitations import Desk, refusal

pytestmark = pytest.mark.django_db

SENT_AT = "2026-12-01T09:00:00Z"


class Supervised(Desk):
    """The Desk of tests/test_invitations.py (Alice has taken Carla's chat; Acme has an
    organisation key) with Sam's browser approved, under POLICY."""

    def __init__(self, staff: Staff, policy: str = Tenant.Supervision.BARGE) -> None:
        staff.tenant.supervision = policy
        staff.tenant.save(update_fields=["supervision"])
        super().__init__(staff)  # Carla's chat starts under POLICY, and her widget says so
        self.sam = staff.supervisor
        self.sam_keys, self.sam_device = certified_device(staff, self.sam)
        self.tenant, self.id = staff.tenant.widget_id, str(self.conversation.id)

    def monitor(self) -> None:
        supervision.do_monitor(self.sam, self.sam_device, self.conversation)

    def message(self, plaintext: dict[str, Any], staff: bool = False, seq: int = 1) -> Any:
        key = protocol.new_epoch_key()
        after = protocol.head_after(self.tenant, self.id, [self.epoch])
        envelope = protocol.encrypt_message(
            self.sam_keys, self.tenant, self.id, self.epoch, key, seq, plaintext,
            after=after, staff=staff,
        )  # fmt: skip
        return envelope.to_json()

    def text(self, seq: int = 1) -> Any:
        return self.message({"type": "text", "body": "Hello", "sent_at": SENT_AT}, seq=seq)

    def whisper(self, seq: int = 1) -> Any:
        note = {"type": "note", "body": "Offer the refund.", "sent_at": SENT_AT}
        return self.message(note, staff=True, seq=seq)


def test_sam_monitors_alices_chat_whispers_and_barges_in(acme: Staff) -> None:
    desk = Supervised(acme)
    desk.monitor()
    seat = Participant.objects.get(conversation=desk.conversation, agent=desk.sam)
    assert seat.role == Participant.Role.SUPERVISOR and seat.barged_at is None
    joined = Event.objects.filter(conversation=desk.conversation, kind=Event.Kind.JOINED).last()
    assert joined is not None
    assert (joined.body["role"], joined.body["device"]["id"]) == ("supervisor", desk.sam_device.pk)
    assert joined.body["device"]["cert"] == desk.sam_device.cert  # for browsers to check
    # Monitoring: whispers only; nothing for the customer until he barges in.
    convo, device = desk.conversation, desk.sam_device
    messages.do_send_message(convo, device, desk.whisper(1))
    assert refusal(lambda: messages.do_send_message(convo, device, desk.text(2))) == (
        "supervisor_monitoring"
    )
    supervision.do_barge(desk.sam, desk.sam_device, desk.conversation)
    messages.do_send_message(convo, device, desk.text(2))
    seat.refresh_from_db()
    assert seat.barged_at is not None
    # He leaves with a signed leave like anyone; Alice stays.
    leave = desk.message({"type": "leave", "sent_at": SENT_AT}, seq=3)
    invitations.do_leave(desk.sam, desk.sam_device, desk.conversation, leave)
    assert desk.in_chat() == ["Alice"]


def test_a_monitoring_supervisor_signs_a_leave_without_barging_in(acme: Staff) -> None:
    desk = Supervised(acme, Tenant.Supervision.MONITOR)
    desk.monitor()
    leave = desk.message({"type": "leave", "sent_at": SENT_AT})
    invitations.do_leave(desk.sam, desk.sam_device, desk.conversation, leave)
    assert not Participant.objects.filter(agent=desk.sam, left_at__isnull=True).exists()


@pytest.mark.parametrize(
    ("policy", "refused"),
    [
        (Tenant.Supervision.OFF, ("monitor",)),
        (Tenant.Supervision.MONITOR, ("whisper", "barge")),
        (Tenant.Supervision.WHISPER, ("barge",)),
    ],
)
def test_the_policy_refuses_what_it_does_not_allow_and_changes_nothing(
    acme: Staff, policy: str, refused: tuple[str, ...]
) -> None:
    desk = Supervised(acme, policy)
    convo, sam, device = desk.conversation, desk.sam, desk.sam_device
    if "monitor" in refused:
        assert refusal(desk.monitor) == "supervision_off"
        assert not Participant.objects.filter(agent=sam).exists()
        return
    desk.monitor()
    before = Event.objects.count()
    if "whisper" in refused:
        assert refusal(lambda: messages.do_send_message(convo, device, desk.whisper())) == (
            "supervision_off"
        )
    assert refusal(lambda: supervision.do_barge(sam, device, convo)) == "supervision_off"
    assert Event.objects.count() == before
    assert Participant.objects.get(agent=sam, conversation=convo).barged_at is None


def test_a_chat_started_with_supervision_off_stays_unsupervised(acme: Staff) -> None:
    """Carla's widget told her nobody supervises: switching the policy on later opens nothing
    of hers, and switching it off stops what a supervisor in her chat may still do."""
    desk = Supervised(acme, Tenant.Supervision.OFF)
    acme.tenant.supervision = Tenant.Supervision.BARGE
    acme.tenant.save(update_fields=["supervision"])
    assert refusal(desk.monitor) == "supervision_off"
    # A chat that starts now is told of the new policy.
    assert start(acme).supervision == Tenant.Supervision.BARGE


def test_a_supervisor_who_barged_in_stops_writing_when_the_policy_is_turned_off(
    acme: Staff,
) -> None:
    desk = Supervised(acme)
    desk.monitor()
    supervision.do_barge(desk.sam, desk.sam_device, desk.conversation)
    acme.tenant.supervision = Tenant.Supervision.MONITOR
    acme.tenant.save(update_fields=["supervision"])
    convo, device = desk.conversation, desk.sam_device
    assert refusal(lambda: messages.do_send_message(convo, device, desk.text(1))) == (
        "supervision_off"
    )
    assert refusal(lambda: messages.do_send_message(convo, device, desk.whisper(1))) == (
        "supervision_off"
    )


def test_a_monitoring_supervisor_neither_closes_nor_asks_in_nor_uploads(acme: Staff) -> None:
    desk = Supervised(acme)
    desk.monitor()
    convo, device = desk.conversation, desk.sam_device
    assert refusal(lambda: lifecycle.do_close_conversation(convo, device, "resolved")) == (
        "supervisor_monitoring"
    )
    assert refusal(
        lambda: invitations.do_invite(desk.sam, device, convo, desk.bob, "conference")
    ) == ("supervisor_monitoring")
    assert refusal(lambda: uploads.do_start_upload(convo, device, 100, 1)) == (
        "supervisor_monitoring"
    )


def test_a_supervisor_is_neither_invited_nor_routed_chats(acme: Staff) -> None:
    desk = Supervised(acme)
    assert refusal(lambda: desk.invite("transfer", invitee=desk.sam)) == "unknown_agent"
    presence.do_set_presence(desk.sam, Agent.Presence.AVAILABLE)
    waiting = start(acme)
    BuiltinRouter(acme.tenant).dispatch(acme.team)
    assert not Offer.objects.filter(conversation=waiting, agent=desk.sam).exists()


def test_a_browser_approved_as_an_agents_does_not_open_a_chat_as_a_supervisor(
    acme: Staff,
) -> None:
    desk = Supervised(acme)
    # Sam was approved while he was an agent: his certificate says so.
    desk.sam.role = Agent.Role.AGENT
    desk.sam.save(update_fields=["role"])
    _, old_device = certified_device(acme, desk.sam)
    desk.sam.role = Agent.Role.SUPERVISOR
    desk.sam.save(update_fields=["role"])
    assert refusal(lambda: supervision.do_monitor(desk.sam, old_device, desk.conversation)) == (
        "device_not_certified"
    )


def test_only_a_supervisor_of_the_chats_team_opens_it_with_an_approved_browser(
    acme: Staff, globex: Staff
) -> None:
    desk = Supervised(acme)
    # Alice is no supervisor: the chat is not among those she may open, nor is any other.
    assert not access.supervised_conversations(desk.alice).exists()
    # A chat of another team of Acme's is not Sam's to open.
    sales = Team.objects.create(tenant=acme.tenant, name="Sales")
    other = start(acme, team=sales)
    assert other not in access.supervised_conversations(desk.sam)
    with pytest.raises(Http404):
        access.access_supervised_conversation(desk.sam, str(other.id))
    # Olga, Globex's supervisor, finds none of Acme's.
    with pytest.raises(Http404):
        access.access_supervised_conversation(globex.supervisor, str(desk.conversation.id))
    # A browser no tenant admin approved does not open it; twice is refused.
    assert refusal(
        lambda: supervision.do_monitor(desk.sam, device_for(desk.sam), desk.conversation)
    ) == ("device_not_certified")
    desk.monitor()
    assert refusal(desk.monitor) == "already_in_conversation"


def test_a_waiting_chat_is_on_the_board_but_cannot_be_opened_yet(acme: Staff) -> None:
    desk = Supervised(acme)
    waiting = start(acme)
    assert refusal(lambda: supervision.do_monitor(desk.sam, desk.sam_device, waiting)) == (
        "conversation_not_active"
    )
    shown = supervision.board(desk.sam)
    assert shown["supervision"] == "barge"
    assert shown["queues"][0]["name"] == "Support"
    assert (shown["queues"][0]["waiting"], shown["queues"][0]["active"]) == (1, 1)
    rows = {row["id"]: row for row in shown["conversations"]}
    assert rows[str(waiting.id)]["state"] == "queued"
    assert rows[str(desk.conversation.id)]["agents"] == ["Alice"]


def test_the_board_is_metadata_for_supervisors_only(acme: Staff, globex: Staff) -> None:
    desk = Supervised(acme)
    desk.monitor()
    client = Client()
    client.login(username="sam", password=PASSWORD)
    answer = client.get(reverse("board"))
    assert answer.status_code == 200
    board = answer.json()
    row = board["conversations"][0]
    assert (row["agents"], row["supervisors"], row["mine"]) == (["Alice"], ["Sam"], True)
    # Routing metadata only: no customer name, question, key or message.
    text = json.dumps(board)
    assert "prechat" not in text and "sign_public" not in text
    for username in ("alice", "ada"):
        other = Client()
        other.login(username=username, password=PASSWORD)
        assert other.get(reverse("board")).status_code == 403
    olga = Client()
    olga.login(username="olga", password=PASSWORD)
    assert olga.get(reverse("board")).json()["conversations"] == []
