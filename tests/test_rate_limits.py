"""Abuse limits, tried as an attacker would: chat starts per client address, a many-address
flood of one tenant (starts per minute, chats waiting at once), an upload flood per conversation
and per address, and sign-in brute force per account and per address. Each is a 429 with
Retry-After and a sentence; the first refusal of a window shows in the tenant's audit log; the
counters are shared by every process (the database here, Redis in the scale-out run)."""

import base64
import logging
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from audit.models import Entry
from chat import limits
from chat.models import Conversation, Upload
from sealdesk_client import protocol
from tests.browser import chromium, open_page, open_widget, start_chat
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer, DemoSite
from tests.test_uploads import Chat

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mid_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows are fixed: a test that crossed a minute's end would start counting afresh."""
    monkeypatch.setattr(limits, "_now", lambda: 1_800_000_000.0 + 1800)  # mid-hour, mid-minute


def start(client: Client, staff: Staff, address: str, **headers: str) -> Any:
    keys = protocol.generate_device()
    device = {
        "sign_public": base64.b64encode(keys.sign_public).decode(),
        "box_public": base64.b64encode(keys.box_public).decode(),
    }
    origin = staff.tenant.origin_list()[0]
    return client.post(
        f"/api/widget/{staff.tenant.widget_id}/conversations",
        {"team": staff.team.pk, "device": device},
        content_type="application/json",
        headers={"origin": origin, **headers},
        REMOTE_ADDR=address,
    )


def test_a_client_starting_too_many_chats_gets_429_with_retry_after(
    acme: Staff, globex: Staff, client: Client, settings: Any
) -> None:
    settings.CHAT_STARTS_PER_MINUTE, settings.CHAT_STARTS_PER_HOUR = 3, 30
    for _ in range(3):
        assert start(client, acme, "203.0.113.7").status_code == 201
    refused = start(client, acme, "203.0.113.7")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert "Too many chats were started from here. Please try again in" in refused.json()["detail"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Access-Control-Allow-Origin"] == "https://www.acme.example"  # readable
    assert Conversation.objects.filter(tenant=acme.tenant).count() == 3
    # Another address, and the same address on another tenant's widget, are not held back.
    assert start(client, acme, "203.0.113.8").status_code == 201
    assert start(client, globex, "203.0.113.7").status_code == 201


def test_the_hourly_limit_holds_when_the_minute_one_would_not(
    acme: Staff, client: Client, settings: Any
) -> None:
    settings.CHAT_STARTS_PER_MINUTE, settings.CHAT_STARTS_PER_HOUR = 10, 2
    assert [start(client, acme, "198.51.100.1").status_code for _ in range(3)] == [201, 201, 429]


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(
    acme: Staff, client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CHAT_STARTS_PER_MINUTE, settings.FORWARDED_FOR_HOPS = 1, 1
    proxy = "10.0.0.2"
    # Each client appears once, behind the same proxy: neither is held back by the other.
    first = start(client, acme, proxy, x_forwarded_for="203.0.113.7")
    second = start(client, acme, proxy, x_forwarded_for="203.0.113.9")
    assert (first.status_code, second.status_code) == (201, 201)
    # A forged left-most entry does not make a new client: the proxy's own entry counts.
    forged = start(client, acme, proxy, x_forwarded_for="1.2.3.4, 203.0.113.7")
    assert forged.status_code == 429

    # A port that a proxy appends does not make a new client either.
    assert start(client, acme, proxy, x_forwarded_for="203.0.113.9:51234").status_code == 429

    settings.FORWARDED_FOR_HOPS = 0  # no proxy trusted: the header means nothing
    with caplog.at_level(logging.WARNING, logger="sealdesk.limits"):
        assert start(client, acme, "192.0.2.1", x_forwarded_for="203.0.113.50").status_code == 201
        assert start(client, acme, "192.0.2.1", x_forwarded_for="203.0.113.51").status_code == 429
    assert "FORWARDED_FOR_HOPS is 0" in caplog.text


def test_an_ipv6_client_counts_as_its_whole_64_block(
    acme: Staff, client: Client, settings: Any
) -> None:
    settings.CHAT_STARTS_PER_MINUTE = 1
    assert start(client, acme, "2001:db8:1:2::10").status_code == 201
    assert start(client, acme, "2001:db8:1:2:ffff::99").status_code == 429  # same /64
    assert start(client, acme, "2001:db8:1:3::10").status_code == 201  # another line


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_customer_sees_why_a_chat_did_not_start(acme: Staff, tmp_path: Any) -> None:
    """Two visitors behind one address (an office, say): the second one is told to wait."""
    limit = {"CHAT_STARTS_PER_MINUTE": "1", "CHAT_STARTS_PER_HOUR": "1"}  # no window ends
    server = DaphneServer(env={**limit, "MEDIA_ROOT": str(tmp_path)})
    server.start()
    site = DemoSite(server.url, acme.tenant.widget_id)
    acme.tenant.allowed_origins = site.origin
    acme.tenant.save()
    site.start()
    try:
        with chromium() as browser:
            first, first_problems = open_page(browser)
            start_chat(open_widget(first, site.origin, "Acme"), "Ina", "", "Opening hours?")
            second, _ = open_page(browser)
            dialog = open_widget(second, site.origin, "Acme")
            dialog.get_by_label("Name").fill("Jo")
            dialog.get_by_label("Your question").fill("Do you ship to Norway?")
            dialog.get_by_role("button", name="Start chat").click()
            expect(dialog).to_contain_text("This is busy just now. Try again in")
            # The form keeps what Jo typed, to send once the wait is over.
            expect(dialog.get_by_label("Your question")).to_have_value("Do you ship to Norway?")
            assert first_problems.errors == []
    finally:
        site.stop()
        server.stop()


def limit_entries(staff: Staff) -> list[Entry]:
    return list(Entry.objects.filter(tenant=staff.tenant, action=Entry.Action.LIMIT_HIT))


def test_many_addresses_cannot_flood_one_tenant(
    acme: Staff, globex: Staff, client: Client, settings: Any
) -> None:
    settings.TENANT_CHAT_STARTS_PER_MINUTE = 5
    answers = [start(client, acme, f"203.0.113.{n}").status_code for n in range(1, 9)]
    assert answers == [201] * 5 + [429] * 3  # each address started one chat only
    refused = start(client, acme, "198.51.100.77")
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert (
        "Acme is receiving more chats than usual. Please try again in" in refused.json()["detail"]
    )
    assert Conversation.objects.filter(tenant=acme.tenant).count() == 5
    assert start(client, globex, "203.0.113.1").status_code == 201  # Globex takes chats
    # The admin sees it once, not once per refused chat.
    [entry] = limit_entries(acme)
    assert entry.detail["limit"] == "chat starts per minute" and entry.target == "Acme"
    assert limit_entries(globex) == []


def test_a_full_queue_takes_no_more_chats(acme: Staff, client: Client, settings: Any) -> None:
    settings.TENANT_MAX_WAITING_CHATS = 2
    answers = [start(client, acme, f"203.0.113.{n}").status_code for n in range(1, 5)]
    assert answers == [201, 201, 429, 429]
    refused = start(client, acme, "203.0.113.9")
    assert "the queue is full" in refused.json()["detail"] and refused["Retry-After"] == "60"
    Conversation.objects.filter(tenant=acme.tenant).update(state=Conversation.State.ACTIVE)
    assert start(client, acme, "203.0.113.10").status_code == 201  # room again
    [entry] = limit_entries(acme)
    assert entry.detail == {"limit": "chats waiting at once", "cap": 2}


def test_an_upload_flood_is_stopped_per_conversation_and_per_address(
    acme: Staff, settings: Any
) -> None:
    settings.UPLOADS_PER_CONVERSATION_PER_HOUR, settings.UPLOADS_PER_ADDRESS_PER_HOUR = 3, 5
    chat = Chat(acme)
    assert [chat.start(100, 1).status_code for _ in range(4)] == [201, 201, 201, 429]
    refused = chat.start(100, 1)
    assert refused["Retry-After"] and int(refused["Retry-After"]) <= 3600
    assert refused.json()["code"] == "rate_limited"
    assert "Too many files were sent. Please try again in" in refused.json()["detail"]
    assert refused["Access-Control-Allow-Origin"] == "https://www.acme.example"
    assert Upload.objects.count() == 3  # nothing stored from the refused ones
    # Another conversation from the same address: two more, then the address's limit.
    other = Chat(acme)
    assert [other.start(100, 1).status_code for _ in range(3)] == [201, 201, 429]
    kinds = sorted(entry.detail["limit"] for entry in limit_entries(acme))
    assert kinds == ["files per address per hour", "files per conversation per hour"]


def login(client: Client, username: str, password: str, address: str, admin: bool = False) -> Any:
    url = reverse("admin:login") if admin else reverse("login")
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_a_sign_in_brute_force_is_stopped_per_account_and_per_address(
    acme: Staff, globex: Staff, settings: Any
) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT, settings.LOGIN_FAILURES_PER_ADDRESS = 3, 6
    attacker = Client()
    tries = [login(attacker, "alice", f"guess{n}", f"203.0.113.{n}").status_code for n in range(4)]
    assert tries == [200, 200, 200, 429]  # from a new address each time: the account's limit
    # Now even her right password waits, from anywhere, until the window ends.
    held = login(Client(), "alice", PASSWORD, "198.51.100.5")
    assert held.status_code == 429 and int(held["Retry-After"]) <= settings.LOGIN_LIMIT_WINDOW
    assert "Too many failed sign-ins. Please try again in" in held.content.decode()
    assert "_auth_user_id" not in held.wsgi_request.session
    # The admin's sign-in counts the same.
    assert login(Client(), "alice", PASSWORD, "198.51.100.5", admin=True).status_code == 429
    # Other accounts are not held back, until one address tries too many of them.
    assert login(Client(), "sam", PASSWORD, "198.51.100.5").status_code == 302
    for n in range(6):
        login(attacker, f"user{n}", "guess", "192.0.2.44")
    assert login(Client(), "otto", PASSWORD, "192.0.2.44").status_code == 429
    assert login(Client(), "otto", PASSWORD, "192.0.2.45").status_code == 302
    # Acme's admin sees the attack on Alice's account; the address's limit is a platform event.
    [entry] = limit_entries(acme)
    assert entry.target == "alice" and entry.detail["limit"] == "login-account"
    assert Entry.objects.filter(tenant=None, action=Entry.Action.LIMIT_HIT).count() == 1
    client = Client()
    client.force_login(acme.admin.user)
    listing = client.get(reverse("admin:audit_entry_changelist"), {"action__exact": "limit_hit"})
    assert "Abuse limit reached" in listing.content.decode() and "alice" in listing.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_person_locked_out_reads_why_and_for_how_long_and_the_servers_count_together(
    acme: Staff, tmp_path: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counters are the database's here (Redis in the scale-out run): failures counted in
    this process hold the live server's sign-in back too. Both count in the real clock's
    day-long window here (a window that ends between the two steps would start afresh)."""
    monkeypatch.setattr(limits, "_now", time.time)
    settings.LOGIN_FAILURES_PER_ACCOUNT, settings.LOGIN_LIMIT_WINDOW = 2, 86_400
    server = DaphneServer(
        env={
            "LOGIN_FAILURES_PER_ACCOUNT": "2",
            "LOGIN_LIMIT_WINDOW": "86400",
            "MEDIA_ROOT": str(tmp_path),
        }
    )
    server.start()
    for _ in range(2):
        limits.login_failed(_request("127.0.0.1"), "alice")
    try:
        with chromium() as browser:
            page, problems = open_page(browser)
            page.goto(f"{server.url}/accounts/login/")
            page.get_by_label("Username").fill("alice")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("alert")).to_contain_text(
                "Too many failed sign-ins. Please try again in"
            )
            expect(page.get_by_label("Username")).to_have_value("alice")
            assert problems.errors == [] or all("429" in e for e in problems.errors)
    finally:
        server.stop()


def _request(address: str) -> Any:
    from django.test import RequestFactory

    return RequestFactory().post("/accounts/login/", REMOTE_ADDR=address)
