"""Rate limits on starting chats: per client address and tenant, with a clear 429 answer."""

import base64
import logging
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect

from chat import limits
from chat.models import Conversation
from sealdesk_client import protocol
from tests.browser import chromium, open_page, open_widget, start_chat
from tests.factories import Staff
from tests.live import DaphneServer, DemoSite

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
    assert "Too many chats were started from here. Try again in" in refused.json()["detail"]
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
            expect(dialog).to_contain_text("Too many chats were started from here. Try again in")
            # The form keeps what Jo typed, to send once the wait is over.
            expect(dialog.get_by_label("Your question")).to_have_value("Do you ship to Norway?")
            assert first_problems.errors == []
    finally:
        site.stop()
        server.stop()
