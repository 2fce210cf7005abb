"""Signing in, with a limit on failures per account and per client address (chat/limits.py).

Django has no brute-force limit of its own; django-axes would add one, with its own tables and
its own lockout answers. Sealdesk counts failed sign-ins with the same counters as its other
limits (Redis in scale-out, the database on the embedded default), so that every process sees
them, and refuses like every limit: 429 with Retry-After, and a sentence on the page.
"""

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _

from chat import limits


def too_many_failures(wait: int) -> str:
    """Return the sentence of a sign-in held back WAIT seconds after too many failures."""
    return _("Too many failed sign-ins. Please try again %(when)s.") % {
        "when": limits.in_words(wait)
    }


class LimitedLogin(AuthenticationForm):
    """An AuthenticationForm that refuses before it checks the password once the account or
    the client address had too many failures; WAIT says for how long."""

    wait = 0

    def clean(self) -> dict[str, Any]:
        username = str(self.data.get("username", ""))
        if self.request is not None:
            self.wait = limits.login_wait(self.request, username)
        if self.wait:
            raise ValidationError(too_many_failures(self.wait), code="rate_limited")
        return super().clean()


class AdminLogin(LimitedLogin, AdminAuthenticationForm):
    """The admin's sign-in form, limited as the dashboard's is."""


def with_retry_after(response: Any) -> Any:
    """Turn the page of a refused sign-in into the limit's 429 with Retry-After."""
    form = getattr(response, "context_data", {}).get("form")
    wait = getattr(form, "wait", 0)
    return limits.held(response, wait) if wait and isinstance(response, HttpResponse) else response


class LoginView(auth_views.LoginView):
    authentication_form = LimitedLogin

    def form_invalid(self, form: Any) -> Any:
        return with_retry_after(super().form_invalid(form))
