"""The upgrade to protocol v2 closes the conversations still open, which v2 browsers cannot read,
and leaves closed ones, and other tenants' rows, as they were (docs/PROTOCOL.md, "From v1 to v2").

Today's actions fill the database; it is then taken back to the migration before the upgrade
(the rows stay, in the columns that schema had), migrated over the upgrade, and forward again to
the newest state for the next tests.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from chat.actions import lifecycle
from chat.builtin_router import BuiltinRouter
from chat.models import Conversation, Event, Offer
from tests.factories import Staff, accept, available, make_agent, pending, start

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_upgrade_closes_open_conversations_and_tells_their_members(
    acme: Staff, globex: Staff
) -> None:
    try:
        available(acme.agent, globex.agent)
        talking = start(acme)
        accept(acme, talking)
        bob = make_agent(acme.tenant, "bob", teams=(acme.team,))
        available(bob)
        waiting = start(acme)  # offered to Bob, not yet accepted
        BuiltinRouter(acme.tenant).dispatch(acme.team)
        offer = pending(waiting)
        assert offer is not None
        done = start(globex)
        accept(globex, done)
        lifecycle.do_close_conversation(done, done.customer_device, "")
        before = {c.pk: c.last_seq for c in Conversation.objects.all()}
        MigrationExecutor(connection).migrate([("chat", "0006_twilio_moved_to_taskrouter")])

        MigrationExecutor(connection).migrate([("chat", "0007_protocol_v2")])

        # Only the columns 0007 has: later migrations add others the model knows.
        columns = ["state", "disposition", "last_seq"]
        for conversation in (waiting, talking):
            conversation.refresh_from_db(fields=columns)
            assert conversation.state == Conversation.State.CLOSED
            assert conversation.disposition == Conversation.Disposition.UPGRADED
            assert conversation.last_seq == before[conversation.pk] + 1
            closed = Event.objects.get(conversation=conversation, seq=conversation.last_seq)
            assert (closed.kind, closed.body) == (
                "closed",
                {"by": "upgrade", "disposition": "upgraded"},
            )
        assert Offer.objects.filter(pk=offer.pk).values_list("state", flat=True).get() == (
            Offer.State.RESCINDED
        )
        done.refresh_from_db(fields=columns)
        assert (done.disposition, done.last_seq) == ("", before[done.pk])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_nobody_closes_a_conversation_as_upgraded(acme: Staff) -> None:
    conversation = start(acme)
    with pytest.raises(Exception, match="Disposition must be one of") as refused:
        lifecycle.do_close_conversation(conversation, conversation.customer_device, "upgraded")
    assert "upgraded" not in str(refused.value)
