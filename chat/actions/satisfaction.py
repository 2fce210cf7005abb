"""The customer's rating of a closed conversation: a score from 1 to 5, given once.

The score is metadata the server stores in clear for the tenant's reports, like the wrap-up
disposition (docs/THREAT_MODEL.md); it is not a message and carries no comment.
"""

from django.db import transaction
from django.utils import timezone

from agents.models import Device
from chat.actions.events import lock_conversation
from chat.errors import ChatError
from chat.models import Conversation

SCORES = range(1, 6)


def do_rate_conversation(conversation: Conversation, by: Device, score: object) -> Conversation:
    """Store the customer's score for a closed conversation, once; BY is its customer's device."""
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        raise ChatError("invalid_score", "score must be a whole number from 1 to 5.")
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        if by.pk != conversation.customer_device_id:
            raise ChatError("not_a_participant", "Only the customer rates a conversation.")
        if conversation.state != Conversation.State.CLOSED:
            raise ChatError("not_closed", "A conversation is rated once it has ended.")
        if conversation.satisfaction is not None:
            raise ChatError("already_rated", "This conversation was rated already.")
        conversation.satisfaction = score
        conversation.rated_at = timezone.now()
        conversation.save(update_fields=["satisfaction", "rated_at"])
    return conversation
