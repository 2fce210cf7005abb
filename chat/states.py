"""Which state may follow which, for conversations and offers: the one place that says so.

Actions move a row with `advance()`, which refuses a change the table does not allow with the
error code a client receives; nothing else compares states to decide whether a change may happen.
"""

from django.db.models import TextChoices

from chat.errors import ChatError
from chat.models import Conversation, Offer

Conv = Conversation.State

CONVERSATION: dict[str, frozenset[str]] = {
    # Taken by an agent, or left as a message (outside hours, or after a long wait).
    Conv.QUEUED: frozenset({Conv.ACTIVE, Conv.MESSAGE, Conv.CLOSED}),
    # Picked up by an agent it was addressed to, or closed by its customer.
    Conv.MESSAGE: frozenset({Conv.ACTIVE, Conv.CLOSED}),
    # Back to a queue: a cold transfer; parked: it waits on the customer.
    Conv.ACTIVE: frozenset({Conv.QUEUED, Conv.PARKED, Conv.CLOSED}),
    # Resumed (the customer wrote, or its time came), or closed (by the customer, or expired).
    Conv.PARKED: frozenset({Conv.QUEUED, Conv.CLOSED}),
    Conv.CLOSED: frozenset(),
}
# The refusal for a conversation that cannot take a change, by its state (a queued one takes
# every change).
CONVERSATION_REFUSALS: dict[str, tuple[str, str]] = {
    Conv.ACTIVE: ("conversation_taken", "The conversation is with an agent already."),
    Conv.PARKED: ("conversation_parked", "The conversation is parked until the customer writes."),
    Conv.MESSAGE: ("message_left", "The customer left a message: an agent picks it up."),
    Conv.CLOSED: ("conversation_closed", "The conversation is closed."),
}

OFFER: dict[str, frozenset[str]] = {
    Offer.State.PENDING: frozenset(
        {Offer.State.ACCEPTED, Offer.State.DECLINED, Offer.State.EXPIRED, Offer.State.RESCINDED}
    ),
    Offer.State.ACCEPTED: frozenset(),
    Offer.State.DECLINED: frozenset(),
    Offer.State.EXPIRED: frozenset(),
    Offer.State.RESCINDED: frozenset(),
}
OFFER_GONE_REFUSAL = ("offer_gone", "This offer has timed out or been withdrawn.")

# Who may close a conversation in which state: its participants while it is open; its router
# only while it waits (it gives up on a chat no agent took, never on one with an agent); the
# sweeper a chat parked too long.
CLOSABLE_BY: dict[str, frozenset[str]] = {
    "customer": frozenset({Conv.QUEUED, Conv.ACTIVE, Conv.PARKED, Conv.MESSAGE}),
    "agent": frozenset({Conv.QUEUED, Conv.ACTIVE}),
    "router": frozenset({Conv.QUEUED}),
    "sweeper": frozenset({Conv.PARKED}),
}

# What state a conversation must be in for an offer of each kind to be made or accepted: a
# queued chat is routed to its first agent; an assigned one takes in more (transfer, conference).
OFFER_TARGETS: dict[str, str] = {
    Offer.Kind.QUEUE: Conv.QUEUED,
    Offer.Kind.JOIN: Conv.ACTIVE,
}


def conversation_refusal(state: str) -> ChatError:
    """Return the refusal for a change that a conversation in STATE cannot take."""
    return ChatError(*CONVERSATION_REFUSALS[state])


def advance(conversation: Conversation, to: TextChoices | str) -> None:
    """Move a (locked) conversation to state TO, or refuse as its current state says."""
    if to not in CONVERSATION[conversation.state]:
        raise conversation_refusal(conversation.state)
    conversation.state = str(to)


def close(conversation: Conversation, closer: str) -> None:
    """Move a (locked) conversation to closed by CLOSER, or refuse as its state says."""
    if conversation.state not in CLOSABLE_BY[closer]:
        raise conversation_refusal(conversation.state)
    advance(conversation, Conv.CLOSED)


def advance_offer(offer: Offer, to: TextChoices | str) -> None:
    """Move a (locked) offer to state TO, or refuse it as gone."""
    if to not in OFFER[offer.state]:
        raise ChatError(*OFFER_GONE_REFUSAL)
    offer.state = str(to)


def require_open(conversation: Conversation) -> None:
    """Refuse changes to a closed conversation."""
    require_open_state(conversation.state)


def require_open_state(state: str) -> None:
    """Refuse changes to a conversation in STATE if that is closed."""
    if not CONVERSATION[state]:
        raise conversation_refusal(state)


def require_offer_target(offer: Offer, conversation: Conversation) -> None:
    """Refuse an offer whose conversation is no longer in the state its kind needs."""
    if conversation.state != OFFER_TARGETS[offer.kind]:
        raise ChatError("offer_gone", "This chat was closed or taken meanwhile.")
