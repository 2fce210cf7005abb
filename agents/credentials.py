"""Tenants' Twilio auth tokens, encrypted at rest.

The token is a server credential (it lets Sealdesk call Twilio's API and check Twilio's
signatures), not a chat key: the server must be able to use it, so it is sealed with a server key
(XSalsa20-Poly1305 secretbox) only so that a copy of the database alone does not reveal it. The key
is TWILIO_TOKEN_KEY, or one derived from SECRET_KEY; rotating either means entering the tokens
again in the admin.
"""

import base64
import hashlib

import nacl.exceptions
import nacl.secret
import nacl.utils
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialError(Exception):
    """The stored token cannot be read with this installation's key."""


def _box() -> nacl.secret.SecretBox:
    if settings.TWILIO_TOKEN_KEY:
        try:
            key = base64.b64decode(settings.TWILIO_TOKEN_KEY, validate=True)
        except ValueError as e:
            raise ImproperlyConfigured("TWILIO_TOKEN_KEY must be base64.") from e
        if len(key) != nacl.secret.SecretBox.KEY_SIZE:
            raise ImproperlyConfigured("TWILIO_TOKEN_KEY must hold 32 bytes.")
    else:
        key = hashlib.blake2b(
            settings.SECRET_KEY.encode(), digest_size=32, person=b"sealdesk-twilio"
        ).digest()
    return nacl.secret.SecretBox(key)


def seal(token: str) -> str:
    """Return TOKEN encrypted for storage."""
    return base64.b64encode(_box().encrypt(token.encode())).decode()


def unseal(sealed: str) -> str:
    """Return the token that seal() encrypted, or raise CredentialError."""
    try:
        return _box().decrypt(base64.b64decode(sealed)).decode()
    except (ValueError, nacl.exceptions.CryptoError) as e:
        raise CredentialError(
            "The stored Twilio auth token cannot be read with this installation's key: "
            "enter it again in the admin."
        ) from e
