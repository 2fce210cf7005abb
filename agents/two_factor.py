"""Two-factor sign-in: a TOTP authenticator app (django-otp), and recovery codes.

Who needs a second factor: platform admins always, every agent of a tenant whose policy says so
(Tenant.require_two_factor), and anyone who set one up. Such a person signs in with the password
first, then a six-digit code from the app or a recovery code; until then the session reaches
only the sign-in pages (TwoFactorMiddleware), and the dashboard's socket refuses it
(chat/consumers.py). Someone who needs a second factor and has none sets one up right after the
password: a QR code (and the secret as text), a code to confirm, then ten recovery codes shown
once. Wrong codes count as failed sign-ins (chat/limits.py) and go to the audit log.
"""

import base64
from typing import Any
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from agents import access
from agents.login import too_many_failures
from audit import log as audit
from audit.models import Entry
from chat import limits

RECOVERY_CODES = 10
# What a signed-in session reaches, and so what waits for its second factor: the dashboard (its
# pages, API and uploads) and the admin, except the admin's own sign-in and sign-out. Nothing
# else is looked at, so that public answers (the widget's, Twilio's, the health check) never
# touch the session (nor vary by its cookie).
GUARDED_PATHS = ("/dashboard/", "/admin/")
OPEN_PATHS = ("/admin/login/", "/admin/logout/")


def required(user: Any) -> bool:
    """Return whether USER must sign in with a second factor by policy: a platform admin, or an
    agent of a tenant that asks for it."""
    if getattr(user, "is_superuser", False):
        return True
    agent = access.agent_of(user)
    return bool(agent is not None and agent.tenant.require_two_factor)


def needed(user: Any) -> bool:
    """Return whether USER signs in with a second factor: by policy, or having set one up."""
    return required(user) or user_has_device(user, confirmed=True)


def verified(user: Any, session: Any) -> bool:
    """Return whether USER's SESSION passed the second factor, or needs none (for sockets,
    whose scope has the session but no OTP middleware)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if not needed(user):
        return True
    device_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    return bool(device_id) and any(
        device.persistent_id == device_id for device in devices_for_user(user, confirmed=True)
    )


def _is_verified(user: Any) -> bool:
    """Return whether the request's user passed a second factor (django-otp's OTPMiddleware)."""
    return bool(getattr(user, "is_verified", lambda: False)())


class TwoFactorMiddleware:
    """Keep a signed-in session that still owes its second factor on the sign-in pages."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        user = request.user  # lazy: read only on a guarded path
        if (
            request.path.startswith(GUARDED_PATHS)
            and not request.path.startswith(OPEN_PATHS)
            and user.is_authenticated
            and not _is_verified(user)
            and needed(user)
        ):
            if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
                step = "two_factor_verify" if user_has_device(user) else "two_factor_setup"
                query = urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
                return HttpResponseRedirect(f"{reverse(step)}?{query}")
            return JsonResponse(
                {"code": "two_factor_required", "detail": _("Sign in with your second factor.")},
                status=403,
            )
        return self.get_response(request)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next(request: HttpRequest) -> str:
    wanted = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, {request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse(settings.LOGIN_REDIRECT_URL)


def _limited(request: HttpRequest, form: CodeForm, step: str) -> HttpResponse | None:
    """Refuse a code while the account or address is over its failed sign-ins."""
    wait = limits.login_wait(request, request.user.get_username())
    if not wait:
        return None
    form.add_error(None, too_many_failures(wait))
    return limits.held(_page(request, step, form), wait)


def _page(request: HttpRequest, step: str, form: CodeForm, **more: Any) -> HttpResponse:
    context = {"form": form, "next": _next(request), "step": step, **more}
    return render(request, f"registration/two_factor_{step}.html", context)


def _wrong(request: HttpRequest, form: CodeForm) -> None:
    username = request.user.get_username()
    audit.record(
        Entry.Action.LOGIN_FAILED,
        request=request,
        target=username,
        detail={"step": "second factor"},
    )
    limits.login_failed(request, username)
    form.add_error("code", _("That code is not right. Check your app and try again."))


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the app, or a recovery code."""
    user = request.user
    if not user_has_device(user, confirmed=True):
        return redirect(f"{reverse('two_factor_setup')}?{urlencode({'next': _next(request)})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        if refused := _limited(request, form, "verify"):
            return refused
        if form.is_valid():
            code = form.cleaned_data["code"].replace(" ", "")
            for device in devices_for_user(user, confirmed=True):
                if device.verify_token(code):
                    otp_login(request, device)
                    if isinstance(device, StaticDevice):
                        left = device.token_set.count()
                        audit.record(
                            Entry.Action.TWO_FACTOR,
                            request=request,
                            target=user.get_username(),
                            detail={"recovery_code_used": True, "left": left},
                        )
                    return redirect(_next(request))
            _wrong(request, form)
    return _page(request, "verify", form)


def _qr(device: TOTPDevice) -> str:
    """Return the QR code of DEVICE's otpauth URL as a data: URL of an SVG."""
    svg = segno.make(device.config_url, error="m").svg_inline(scale=5, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _secret(device: TOTPDevice) -> str:
    """Return DEVICE's key as the base32 an app takes when typed in, in groups of four."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _new_recovery_codes(user: Any) -> list[str]:
    """Replace USER's recovery codes with RECOVERY_CODES new ones; return them."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="recovery", defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: its QR code and secret, a code to confirm, then the
    recovery codes, shown once."""
    user = request.user
    if user_has_device(user, confirmed=True) and not _is_verified(user):
        return redirect(f"{reverse('two_factor_verify')}?{urlencode({'next': _next(request)})}")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        if refused := _limited(request, form, "setup"):
            return refused
        if form.is_valid() and device.verify_token(form.cleaned_data["code"].replace(" ", "")):
            with transaction.atomic():
                TOTPDevice.objects.filter(user=user, confirmed=True).delete()
                device.confirmed = True
                device.save()
                codes = _new_recovery_codes(user)
            otp_login(request, device)
            audit.record(
                Entry.Action.TWO_FACTOR,
                request=request,
                target=user.get_username(),
                detail={"authenticator": "set up", "recovery_codes": len(codes)},
            )
            return _page(request, "codes", form, codes=codes)
        if form.is_valid():
            _wrong(request, form)
    return _page(request, "setup", form, qr=_qr(device), secret=_secret(device))


@login_required
@require_http_methods(["POST"])
def new_recovery_codes(request: HttpRequest) -> HttpResponse:
    """Replace the signed-in (and verified) person's recovery codes, and show the new ones."""
    user = request.user
    if not _is_verified(user):
        return redirect("two_factor_verify")
    codes = _new_recovery_codes(user)
    audit.record(
        Entry.Action.TWO_FACTOR,
        request=request,
        target=user.get_username(),
        detail={"recovery_codes": "replaced"},
    )
    return _page(request, "codes", CodeForm(), codes=codes)


def remove_devices(user: Any) -> int:
    """Remove USER's second factors (an admin's help for someone who lost phone and codes);
    return how many. With a policy that requires one, the next sign-in sets up a new one."""
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).delete()[0]
    return removed
