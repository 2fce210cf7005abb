"""The e-mail notice of a message left: one mail saying that the answer is waiting.

A customer who leaves a message (chat/actions/offline.py) may give an address for that purpose
alone. It is the one thing of the customer the server keeps in clear (docs/THREAT_MODEL.md): the
first time staff answer in the conversation (a text or file their browser marks as an answer:
the server cannot tell it from a receipt), the server sends one mail that says only that a
reply is waiting, with the tenant's name, and erases the address; a chat that closes unanswered
erases it too. The mail goes after the commit, on a thread of its own, so that no socket waits
on a mail server; a mail that cannot go is logged, and the answer stays in the chat all the same.
"""

import logging
import threading

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext

from agents.models import Device
from chat.actions.events import lock_conversation
from chat.actions.membership import require_participant
from chat.errors import ChatError
from chat.models import Conversation, Participant

logger = logging.getLogger(__name__)

MAX_EMAIL_LENGTH = 254  # Conversation.notify_email's, RFC 5321's longest path


def do_set_notice_email(conversation: Conversation, by: Device, email: object) -> Conversation:
    """Keep the address the customer (device BY) gave to hear that the answer to its message is
    waiting; an empty EMAIL, or None, forgets it."""
    if email is None:
        email = ""
    if not isinstance(email, str):
        raise ChatError("invalid_email", "email must be an e-mail address, or empty to forget it.")
    email = email.strip()
    if email:
        try:
            if len(email) > MAX_EMAIL_LENGTH:
                raise ValidationError("too long")
            EmailValidator()(email)
        except ValidationError:
            raise ChatError(
                "invalid_email", "That is not an e-mail address, such as name@example.com."
            ) from None
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        seat = require_participant(conversation, by)
        if seat.participant.role != Participant.Role.CUSTOMER:
            raise ChatError("not_a_participant", "Only the customer asks for an e-mail notice.")
        if conversation.state != Conversation.State.MESSAGE:
            raise ChatError(
                "notice_unavailable",
                "An e-mail notice is for a message left and not yet answered.",
            )
        conversation.notify_email = email
        conversation.save(update_fields=["notify_email"])
    return conversation


def answered(conversation: Conversation) -> None:
    """Staff answered in the (locked) conversation: if its customer asked to hear of the answer by
    e-mail, erase the address and mail it once, after the commit."""
    address = conversation.notify_email
    if not address:
        return
    conversation.notify_email = ""
    conversation.save(update_fields=["notify_email"])
    tenant = conversation.tenant.name
    language = conversation.language
    transaction.on_commit(lambda: _mail_in_background(address, tenant, language), robust=True)


def _mail_in_background(address: str, tenant: str, language: str) -> None:
    subject, body = notice_text(tenant, language)
    threading.Thread(
        target=_send, args=(address, subject, body), name="sealdesk-notice", daemon=True
    ).start()


def notice_text(tenant: str, language: str) -> tuple[str, str]:
    """Return the notice's subject and body, in the customer's language where Sealdesk has it:
    that a reply is waiting, and where to read it; no message, no name of the customer."""
    try:
        chosen = translation.get_supported_language_variant(language or settings.LANGUAGE_CODE)
    except LookupError:
        chosen = settings.LANGUAGE_CODE
    with translation.override(chosen):
        subject = gettext("A reply from %(tenant)s is waiting for you") % {"tenant": tenant}
        body = gettext(
            "%(tenant)s has answered the message you left in their website's chat.\n\n"
            "To read the reply, come back to the page where you wrote to us, in the same "
            "browser: the conversation is encrypted so that only that browser can read it.\n\n"
            "We kept your e-mail address only to send you this one notice, and have now erased "
            "it."
        ) % {"tenant": tenant}
    return subject, body


def _send(address: str, subject: str, body: str) -> None:
    try:
        send_mail(subject, body, None, [address])
    except Exception:
        # Logged without the address: the reply is in the chat whether or not the mail went.
        logger.exception("the e-mail notice of a reply could not be sent")
