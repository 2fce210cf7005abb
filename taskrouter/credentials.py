"""Tenants' Twilio auth tokens: server credentials from the environment, never in the database.

Sealdesk calls Twilio's API and checks Twilio's webhook signatures with a tenant's auth token. The
operator provides it like every other secret, as TWILIO_AUTH_TOKEN_<Account SID> or in the file
named by TWILIO_AUTH_TOKEN_<Account SID>_FILE (Docker or systemd secrets); it is read when needed,
so a new token takes effect without a restart. The admin shows whether it is there, never what.
"""

from django.core.exceptions import ImproperlyConfigured

from contactcenter.env import env_secret


class CredentialError(Exception):
    """The tenant's auth token is not available to this server."""


def token_variable(account_sid: str) -> str:
    """Return the environment variable that holds the auth token of ACCOUNT_SID."""
    return f"TWILIO_AUTH_TOKEN_{account_sid}"


def auth_token(account_sid: str) -> str:
    """Return the auth token of the Twilio account ACCOUNT_SID, or raise CredentialError."""
    if not account_sid:
        raise CredentialError("No Twilio Account SID is set for this tenant.")
    name = token_variable(account_sid)
    try:
        token = env_secret(name)
    except (ImproperlyConfigured, OSError) as e:
        raise CredentialError(f"{name} cannot be read: {e}") from e
    if not token:
        raise CredentialError(f"Set {name} (or {name}_FILE) on the server to this account's token.")
    return token
