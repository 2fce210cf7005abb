"""Two-factor sign-in: Alice (Acme's agent) has an authenticator app; Acme's policy makes Sam
(supervisor) set one up at his next sign-in; Rita (platform admin) needs one whatever her tenant;
Otto (Globex, no policy) signs in with his password alone."""

import base64
import re
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from audit.models import Entry
from contactcenter.asgi import application
from tests.browser import chromium, open_page
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer
from tests.sockets import AGENT_HOST, AGENT_ORIGIN, Socket, open_agent_socket

pytestmark = pytest.mark.django_db


def authenticator(user: Any) -> TOTPDevice:
    """Give USER a confirmed authenticator app, as if set up earlier."""
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def code(device: TOTPDevice) -> str:
    """Return the code DEVICE's app shows now."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def sign_in(client: Client, username: str) -> Any:
    return client.post(reverse("login"), {"username": username, "password": PASSWORD})


def test_alice_with_an_app_needs_its_code_before_anything_else(acme: Staff) -> None:
    device = authenticator(acme.agent.user)
    alice = Client()
    first = sign_in(alice, "alice")
    assert first.status_code == 302
    # The password alone reaches only the second step, whatever is asked for.
    page = alice.get(reverse("dashboard"), headers={"accept": "text/html"})
    assert page.status_code == 302 and page["Location"].startswith(reverse("two_factor_verify"))
    api = alice.get(reverse("history"), headers={"accept": "application/json"})
    assert api.status_code == 403 and api.json()["code"] == "two_factor_required"
    wrong = alice.post(reverse("two_factor_verify"), {"code": "000000"})
    assert "That code is not right" in wrong.content.decode()
    right = alice.post(reverse("two_factor_verify"), {"code": code(device), "next": "/dashboard/"})
    assert right.status_code == 302 and right["Location"] == "/dashboard/"
    assert alice.get(reverse("dashboard")).status_code == 200
    failed = Entry.objects.get(action=Entry.Action.LOGIN_FAILED)
    assert failed.detail == {"step": "second factor"} and failed.tenant == acme.tenant


@pytest.mark.django_db(transaction=True)
async def test_the_dashboard_socket_opens_only_once_the_second_factor_passed(
    acme: Staff,
) -> None:
    device = await database_sync_to_async(authenticator)(acme.agent.user)
    _socket, connected, _ = await open_agent_socket(acme.agent.user)
    assert not connected  # the password's session alone

    def verified_cookie() -> bytes:
        client = Client()
        client.force_login(acme.agent.user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return f"sessionid={session.session_key}".encode()

    cookie = await database_sync_to_async(verified_cookie)()
    headers = [(b"origin", AGENT_ORIGIN), (b"host", AGENT_HOST), (b"cookie", cookie)]
    socket = Socket(application, "/ws/agent/", headers=headers)
    assert await socket.open() == (True, None)
    await socket.disconnect()


def test_wrong_codes_count_as_failed_sign_ins_and_are_limited(acme: Staff, settings: Any) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    device = authenticator(acme.agent.user)
    alice = Client()
    sign_in(alice, "alice")
    for guess in ("111111", "222222", "333333"):
        assert alice.post(reverse("two_factor_verify"), {"code": guess}).status_code == 200
    held = alice.post(reverse("two_factor_verify"), {"code": code(device)})
    assert held.status_code == 429 and held["Retry-After"]
    assert "Too many failed sign-ins" in held.content.decode()
    assert alice.get(reverse("dashboard")).status_code == 403


def test_a_recovery_code_signs_in_once(acme: Staff) -> None:
    authenticator(acme.agent.user)
    recovery = StaticDevice.objects.create(user=acme.agent.user, name="recovery")
    StaticToken.objects.create(device=recovery, token="k3y5ecret0")
    for attempt in (1, 2):
        alice = Client()
        sign_in(alice, "alice")
        answer = alice.post(reverse("two_factor_verify"), {"code": "k3y5ecret0"})
        assert (answer.status_code == 302) is (attempt == 1)
    used = Entry.objects.get(action=Entry.Action.TWO_FACTOR)
    assert used.detail == {"recovery_code_used": True, "left": 0}


def test_the_tenants_policy_makes_sam_set_up_an_app_and_gives_him_recovery_codes(
    acme: Staff, globex: Staff
) -> None:
    acme.tenant.require_two_factor = True
    acme.tenant.save()
    sam = Client()
    sign_in(sam, "sam")
    setup = sam.get(reverse("dashboard"), headers={"accept": "text/html"}, follow=True)
    html = setup.content.decode()
    assert "Set up two-factor sign-in" in html and "data:image/svg+xml;base64," in html
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html)
    assert secret is not None
    key = base64.b32decode(
        secret[1].replace(" ", "") + "=" * (-len(secret[1].replace(" ", "")) % 8)
    )
    device = TOTPDevice.objects.get(user=acme.supervisor.user)
    assert key == device.bin_key and not device.confirmed
    assert (
        "That code is not right"
        in sam.post(reverse("two_factor_setup"), {"code": "123456"}).content.decode()
    )
    done = sam.post(reverse("two_factor_setup"), {"code": code(device)})
    codes = re.findall(r"<li><code>(\w+)</code></li>", done.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert sam.get(reverse("dashboard")).status_code == 200
    assert Entry.objects.filter(action=Entry.Action.TWO_FACTOR, tenant=acme.tenant).count() == 1
    # Globex asks for no second factor: Otto signs in with his password.
    otto = Client()
    sign_in(otto, "otto")
    assert otto.get(reverse("dashboard")).status_code == 200


def test_a_platform_admin_needs_a_second_factor_for_the_admin(root: Any) -> None:
    rita = Client()
    assert (
        rita.post(
            reverse("admin:login"), {"username": root.username, "password": PASSWORD}
        ).status_code
        == 302
    )
    index = rita.get(reverse("admin:index"), headers={"accept": "text/html"})
    assert index.status_code == 302 and index["Location"].startswith(reverse("two_factor_setup"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_agent_with_an_app_signs_in_in_chromium_and_sam_sets_his_up(
    acme: Staff, daphne: DaphneServer
) -> None:
    device = authenticator(acme.agent.user)
    acme.tenant.require_two_factor = True
    acme.tenant.save()
    with chromium() as browser:
        page, problems = open_page(browser)
        page.goto(f"{daphne.url}/accounts/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
        page.get_by_label("Code").fill(code(device))
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#connection")).to_have_text("Connected")
        assert problems.errors == []

        page, problems = open_page(browser)
        page.goto(f"{daphne.url}/accounts/login/")
        page.get_by_label("Username").fill("sam")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
        expect(
            page.get_by_role("img", name="QR code of the key for your authenticator app")
        ).to_be_visible()
        secret = page.locator("#totp-secret").inner_text().replace(" ", "")
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        page.get_by_label("Code").fill(f"{totp(key):06d}")
        page.get_by_role("button", name="Confirm").click()
        codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
        expect(codes).to_have_count(10)
        page.get_by_role("link", name="I have kept them: continue").click()
        expect(page.locator("#connection")).to_have_text("Connected")
        assert problems.errors == []


def test_ada_resets_alices_two_factor_sign_in_and_oscar_cannot(acme: Staff, globex: Staff) -> None:
    authenticator(acme.agent.user)
    for admin, expected in ((globex.admin, 1), (acme.admin, 0)):
        client = Client()
        client.force_login(admin.user)
        client.post(
            reverse("admin:agents_agent_changelist"),
            {"action": "reset_two_factor", "_selected_action": [acme.agent.pk]},
        )
        assert TOTPDevice.objects.filter(user=acme.agent.user).count() == expected
    reset = Entry.objects.get(action=Entry.Action.TWO_FACTOR)
    assert reset.actor == acme.admin.user and reset.target == "alice"
    alice = Client()
    sign_in(alice, "alice")
    assert alice.get(reverse("dashboard")).status_code == 200  # no policy: the password alone
