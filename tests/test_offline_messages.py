"""Messages left when no one can answer (chat/actions/offline.py), as the server records them:
Carla leaves a message for Acme's Support outside its hours, or after waiting too long; it is
addressed to the approved browsers of Support's agents, Alice and Bob, and to no one else (not Sam
the supervisor, not Eve's unapproved browser, not Dave of Billing, not a revoked browser); Alice
picks it up and it goes on as her chat. Otto (Globex) sees nothing of it and picks nothing up.
Who can read it is the browsers' business (tests/js/offline-messages.test.mjs); Chromium plays it
in tests/test_offline_messages_browser.py.
"""

import pytest
from django.http import Http404
from django.utils import timezone

from agents import access
from agents.models import Agent, Device, Team
from chat.actions import lifecycle, offline, presence
from chat.builtin_router import BuiltinRouter
from chat.errors import ChatError
from chat.models import Conversation, Event, Offer, Participant
from sealdesk_client import protocol
from tests.factories import (
    Staff,
    b64,
    certified_device,
    device_for,
    make_agent,
    pending,
    with_org_key,
)

pytestmark = pytest.mark.django_db


class Support:
    """Acme's Support with an organisation key: Alice and Bob with approved browsers, Eve with
    an unapproved one, Sam the supervisor approved too; Dave approved, in Billing."""

    def __init__(self, staff: Staff) -> None:
        self.staff = staff
        with_org_key(staff)
        self.alice = staff.agent
        _, self.alice_device = certified_device(staff, self.alice)
        self.bob = make_agent(staff.tenant, "bob", teams=(staff.team,))
        _, self.bob_device = certified_device(staff, self.bob)
        self.eve = make_agent(staff.tenant, "eve", teams=(staff.team,))
        self.eve_device = device_for(self.eve)
        _, self.sam_device = certified_device(staff, staff.supervisor)
        billing = Team.objects.create(tenant=staff.tenant, name="Billing")
        self.dave = make_agent(staff.tenant, "dave", teams=(billing,))
        certified_device(staff, self.dave)

    def carla(self, message: bool = True, pins: bool = True) -> Conversation:
        keys = protocol.generate_device()
        conversation, _ = lifecycle.do_start_conversation(
            self.staff.tenant,
            self.staff.team,
            b64(keys.sign_public),
            b64(keys.box_public),
            "https://www.acme.example",
            pins=pins,
            message=message,
        )
        return conversation


def joined_devices(conversation: Conversation) -> list[str]:
    return [
        e.body["device"]["id"]
        for e in Event.objects.filter(conversation=conversation, kind=Event.Kind.JOINED)
    ]


def test_a_message_is_addressed_to_the_teams_approved_agent_browsers_only(acme: Staff) -> None:
    support = Support(acme)
    # A revoked browser of Bob's (revoked directly: revocation itself is
    # tests/test_certified_devices.py's) gets nothing.
    _, old = certified_device(acme, support.bob)
    Device.objects.filter(pk=old.pk).update(revoked_at=timezone.now())
    conversation = support.carla()
    assert conversation.state == Conversation.State.MESSAGE
    assert conversation.message_left_at is not None
    expected = sorted([support.alice_device.pk, support.bob_device.pk])
    assert sorted(conversation.message_devices) == expected
    assert sorted(joined_devices(conversation)) == expected
    # Nobody takes part yet but Carla, and nothing is offered.
    roles = list(conversation.participants.values_list("role", flat=True))
    assert roles == [Participant.Role.CUSTOMER]
    presence.do_set_presence(support.alice, Agent.Presence.AVAILABLE)
    BuiltinRouter(acme.tenant).dispatch(acme.team)
    assert pending(conversation) is None


def test_no_message_without_a_pinned_key_or_anyone_to_read_it(acme: Staff) -> None:
    support = Support(acme)
    with pytest.raises(ChatError) as unpinned:
        support.carla(pins=False)
    assert unpinned.value.code == "messages_unavailable"
    Device.objects.filter(agent__in=[support.alice, support.bob]).update(cert=None)
    with pytest.raises(ChatError) as nobody:
        support.carla()
    assert nobody.value.code == "messages_unavailable"
    assert not Conversation.objects.exists()  # nothing stored from refused input


def test_a_customer_who_waited_too_long_leaves_a_message_instead(acme: Staff) -> None:
    support = Support(acme)
    conversation = support.carla(message=False)
    presence.do_set_presence(support.alice, Agent.Presence.AVAILABLE)
    BuiltinRouter(acme.tenant).dispatch(acme.team)
    offer = pending(conversation)
    assert offer is not None  # Alice was offered it, and let it wait
    offline.do_leave_message(conversation, conversation.customer_device)
    conversation.refresh_from_db()
    offer.refresh_from_db()
    assert conversation.state == Conversation.State.MESSAGE
    assert offer.state == Offer.State.RESCINDED
    with pytest.raises(ChatError) as again:
        offline.do_leave_message(conversation, conversation.customer_device)
    assert again.value.code == "message_left"
    with pytest.raises(ChatError) as agent:
        offline.do_leave_message(conversation, support.alice_device)
    assert agent.value.code == "not_a_participant"


def test_the_team_lists_it_and_alice_picks_it_up(acme: Staff, globex: Staff) -> None:
    support = Support(acme)
    conversation = support.carla()
    listed = [
        offline.message_payload(c, support.alice_device)
        for c in offline.messages_for(support.alice)
    ]
    assert [(m["id"], m["readable"]) for m in listed] == [(str(conversation.id), True)]
    assert [m.pk for m in offline.messages_for(support.dave)] == []
    assert [m.pk for m in offline.messages_for(globex.agent)] == []
    # Eve's unapproved browser is not one it was encrypted to: listed, not readable, refused.
    [eve_sees] = [
        offline.message_payload(c, support.eve_device) for c in offline.messages_for(support.eve)
    ]
    assert eve_sees["readable"] is False
    with pytest.raises(ChatError) as refused:
        offline.do_pick_up(support.eve, support.eve_device, conversation)
    assert refused.value.code == "not_addressed"
    # Otto (Globex), Dave (Billing) and Sam (the supervisor) find no such message.
    for outsider in (globex.agent, support.dave, acme.supervisor):
        with pytest.raises(Http404):
            access.access_left_message(outsider, str(conversation.id))

    found = access.access_left_message(support.alice, str(conversation.id))
    taken = offline.do_pick_up(support.alice, support.alice_device, found)
    assert taken.state == Conversation.State.ACTIVE and taken.accepted_at is not None
    assert [a.pk for a in taken.current_agents()] == [support.alice.pk]
    assert offline.messages_for(support.bob).count() == 0
    with pytest.raises(ChatError) as late:
        offline.do_pick_up(support.bob, support.bob_device, conversation)
    assert late.value.code == "conversation_taken"


def test_alice_picks_up_only_through_a_browser_it_was_encrypted_to(acme: Staff) -> None:
    support = Support(acme)
    conversation = support.carla()
    # A browser Alice had approved after the message was left cannot read it.
    _, later = certified_device(acme, support.alice)
    with pytest.raises(ChatError) as refused:
        offline.do_pick_up(support.alice, later, conversation)
    assert refused.value.code == "not_addressed"
    with pytest.raises(ChatError) as bob_device:
        offline.do_pick_up(support.alice, support.bob_device, conversation)
    assert bob_device.value.code == "unknown_device"
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.MESSAGE


def test_carla_may_end_her_message_and_then_nobody_picks_it_up(acme: Staff) -> None:
    support = Support(acme)
    conversation = support.carla()
    lifecycle.do_close_conversation(conversation, conversation.customer_device)
    with pytest.raises(ChatError) as closed:
        offline.do_pick_up(support.alice, support.alice_device, conversation)
    assert closed.value.code == "conversation_closed"


def test_a_chat_that_had_an_agent_is_not_left_as_a_message(acme: Staff) -> None:
    support = Support(acme)
    conversation = support.carla(message=False)
    # Alice took it and sent it back to the queue (the fields as requeue.py leaves them).
    Conversation.objects.filter(pk=conversation.pk).update(accepted_at=timezone.now())
    with pytest.raises(ChatError) as refused:
        offline.do_leave_message(conversation, conversation.customer_device)
    assert refused.value.code == "messages_unavailable"
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.QUEUED


def test_a_former_message_back_in_a_queue_is_offered_not_picked_up(acme: Staff) -> None:
    support = Support(acme)
    conversation = support.carla()
    Conversation.objects.filter(pk=conversation.pk).update(state=Conversation.State.QUEUED)
    conversation.refresh_from_db()
    with pytest.raises(ChatError) as refused:
        offline.do_pick_up(support.alice, support.alice_device, conversation)
    assert refused.value.code == "not_found"


def test_a_browser_revoked_since_its_socket_opened_picks_nothing_up(acme: Staff) -> None:
    support = Support(acme)
    conversation = support.carla()
    stale = Device.objects.get(pk=support.alice_device.pk)  # as the socket holds it
    Device.objects.filter(pk=stale.pk).update(revoked_at=timezone.now())
    with pytest.raises(ChatError) as refused:
        offline.do_pick_up(support.alice, stale, conversation)
    assert refused.value.code == "unknown_device"


def test_a_message_goes_to_the_most_recently_approved_browsers_within_the_frames_limits(
    acme: Staff,
) -> None:
    support = Support(acme)
    extra = [make_agent(acme.tenant, f"agent{i}", teams=(acme.team,)) for i in range(20)]
    newest = [certified_device(acme, agent)[1].pk for agent in extra]
    conversation = support.carla()
    assert len(conversation.message_devices) == offline.MAX_MESSAGE_DEVICES == 20
    assert sorted(conversation.message_devices) == sorted(newest)
