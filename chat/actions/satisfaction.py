"""The customer's rating of a closed conversation: a score from 1 to 5, given once, and an
optional comment.

The score is metadata the server stores in clear for the tenant's reports, like the wrap-up
disposition (docs/THREAT_MODEL.md). The comment is a message the customer's browser sealed under
the conversation's latest epoch, so only the people who were in the chat read it; the server
stores it, once, after the score (docs/PROTOCOL.md, "Widget socket").
"""

from django.db import transaction
from django.utils import timezone

from agents.models import Device
from chat.actions import messages
from chat.actions.events import lock_conversation
from chat.errors import ChatError
from chat.models import Conversation, Event

SCORES = range(1, 6)


def _locked_for_its_customer(conversation: Conversation, by: Device) -> Conversation:
    """Lock CONVERSATION, which must have ended, for its customer's device BY to rate."""
    conversation = lock_conversation(conversation)
    if by.pk != conversation.customer_device_id:
        raise ChatError("not_a_participant", "Only the customer rates a conversation.")
    if conversation.state != Conversation.State.CLOSED:
        raise ChatError("not_closed", "A conversation is rated once it has ended.")
    return conversation


def do_rate_conversation(conversation: Conversation, by: Device, score: object) -> Conversation:
    """Store the customer's score for a closed conversation, once; BY is its customer's device."""
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        raise ChatError("invalid_score", "score must be a whole number from 1 to 5.")
    with transaction.atomic():
        conversation = _locked_for_its_customer(conversation, by)
        if conversation.satisfaction is not None:
            raise ChatError("already_rated", "This conversation was rated already.")
        conversation.satisfaction = score
        conversation.rated_at = timezone.now()
        conversation.save(update_fields=["satisfaction", "rated_at"])
    return conversation


def do_comment_rating(conversation: Conversation, by: Device, envelope: object) -> Event:
    """Store the customer's sealed comment on its rating of a closed conversation, once, after
    the score; BY is its customer's device. The server cannot read it: it checks the envelope
    as any message's."""
    with transaction.atomic():
        conversation = _locked_for_its_customer(conversation, by)
        if conversation.satisfaction is None:
            raise ChatError("not_rated", "Rate the conversation first; the comment goes with it.")
        closed_at_seq = (
            Event.objects.filter(conversation=conversation, kind=Event.Kind.CLOSED)
            .order_by("-seq")
            .values_list("seq", flat=True)
            .first()
        ) or 0
        earlier = Event.objects.filter(
            conversation=conversation, kind=Event.Kind.MESSAGE, sender=by, seq__gt=closed_at_seq
        ).first()
        if earlier is not None and earlier.body != envelope:
            raise ChatError("already_commented", "This rating has its comment already.")
        # The same envelope again (an answer lost on the way): do_send_message answers it as
        # stored.
        return messages.do_send_message(conversation, by, envelope, closed=True)
