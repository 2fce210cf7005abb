"""Tenants' Twilio accounts: server credentials from the environment, never in the database.

Sealdesk calls Twilio's API and checks Twilio's webhook signatures with a tenant's auth token. The
operator, not the tenant, decides which tenant uses which Twilio account: for each account the
environment names its tenant, TWILIO_ACCOUNT_TENANT_<Account SID>=<tenant slug>, and holds its
token, TWILIO_AUTH_TOKEN_<Account SID> or the file named by TWILIO_AUTH_TOKEN_<Account SID>_FILE
(Docker or systemd secrets). Both are read when needed, so a change takes effect without a
restart. A tenant whose admin types another tenant's Account SID gets no token, and the same
refusal whether or not the server holds one for that account: no oracle. The admin shows whether
the server has the tenant's own token, never what it is.
"""

import re

from django.core.exceptions import ImproperlyConfigured

from contactcenter.env import env, env_secret

SID = re.compile(r"^([A-Za-z]{2})([0-9a-fA-F]{32})$")


class CredentialError(Exception):
    """The tenant's auth token is not available to this server."""


def normal_sid(sid: str) -> str:
    """Return SID as Twilio writes it, the kind in capitals and the hex digits in lower case, so
    that SIDs compare equal whatever case they were typed in; anything else as it came."""
    sid = sid.strip()
    if found := SID.match(sid):
        return found[1].upper() + found[2].lower()
    return sid


def token_variable(account_sid: str) -> str:
    """Return the environment variable that holds the auth token of ACCOUNT_SID."""
    return f"TWILIO_AUTH_TOKEN_{normal_sid(account_sid)}"


def tenant_variable(account_sid: str) -> str:
    """Return the environment variable that names the tenant of ACCOUNT_SID."""
    return f"TWILIO_ACCOUNT_TENANT_{normal_sid(account_sid)}"


def auth_token(account_sid: str, tenant_slug: str) -> str:
    """Return the auth token of the Twilio account ACCOUNT_SID for the tenant TENANT_SLUG, or
    raise CredentialError: also when the operator gave the account to another tenant, or to none,
    with the same words whether or not the server has that account's token."""
    if not account_sid:
        raise CredentialError("No Twilio Account SID is set for this tenant.")
    account = normal_sid(account_sid)
    owner = env.str(tenant_variable(account), default="").strip()
    if not tenant_slug or owner != tenant_slug:
        raise CredentialError(
            f"The server has no Twilio account {account} for this tenant: its operator sets "
            f"{tenant_variable(account)}={tenant_slug or '<tenant slug>'} and the account's "
            f"token, {token_variable(account)} (or {token_variable(account)}_FILE)."
        )
    name = token_variable(account)
    try:
        token = env_secret(name)
    except (ImproperlyConfigured, OSError) as e:
        raise CredentialError(f"{name} cannot be read: {e}") from e
    if not token:
        raise CredentialError(f"Set {name} (or {name}_FILE) on the server to this account's token.")
    return token
