"""The agent dashboard: login, tenant name, presence that persists, and who is refused."""

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Agent, Device, Tenant
from contactcenter.middleware import CONTENT_SECURITY_POLICY
from sealdesk_client import protocol
from tests.factories import PASSWORD, Staff, b64, sign_in_with_second_factor

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client: Client) -> None:
    for url in (reverse("dashboard"), "/"):
        response = client.get(url, follow=True)
        assert response.redirect_chain[-1][0].startswith(reverse("login"))


def test_agent_logs_in_and_sees_its_tenant_and_empty_areas(client: Client, acme: Staff) -> None:
    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}, follow=True
    )
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert '<span class="tenant-name" id="tenant-name">Acme</span>' in page
    assert "No chats are waiting for you." in page
    assert "No active conversations." in page
    assert 'aria-pressed="true">Offline</button>' in page


def test_wrong_password_is_refused_with_a_message(client: Client, acme: Staff) -> None:
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_presence_form_persists_and_redirects(client: Client, acme: Staff) -> None:
    client.force_login(acme.agent.user)
    response = client.post(reverse("set_presence"), {"presence": "available"})
    assert response.status_code == 302
    acme.agent.refresh_from_db()
    assert acme.agent.presence == Agent.Presence.AVAILABLE
    page = client.get(reverse("dashboard")).content.decode()
    assert 'aria-pressed="true">Available</button>' in page


def test_presence_json_answer_and_change_time(client: Client, acme: Staff) -> None:
    client.force_login(acme.agent.user)
    before = acme.agent.presence_changed_at
    response = client.post(
        reverse("set_presence"), {"presence": "away"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "presence"
    assert body["presence"] == "away"
    acme.agent.refresh_from_db()
    assert acme.agent.presence_changed_at > before
    assert body["changed_at"] == acme.agent.presence_changed_at.isoformat()


def test_unknown_presence_is_a_clear_error_and_changes_nothing(client: Client, acme: Staff) -> None:
    client.force_login(acme.agent.user)
    response = client.post(
        reverse("set_presence"), {"presence": "asleep"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "code": "invalid_presence",
        "detail": "Presence must be one of available, away, offline.",
    }
    response = client.post(reverse("set_presence"), {"presence": "asleep"}, follow=True)
    assert "Presence must be one of available, away, offline." in response.content.decode()
    acme.agent.refresh_from_db()
    assert acme.agent.presence == Agent.Presence.OFFLINE


def test_presence_needs_csrf_token(acme: Staff) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(acme.agent.user)
    assert client.post(reverse("set_presence"), {"presence": "available"}).status_code == 403
    acme.agent.refresh_from_db()
    assert acme.agent.presence == Agent.Presence.OFFLINE


def test_presence_only_by_post(client: Client, acme: Staff) -> None:
    client.force_login(acme.agent.user)
    assert client.get(reverse("set_presence"), {"presence": "available"}).status_code == 405


def test_each_agent_sets_only_its_own_presence(client: Client, acme: Staff, globex: Staff) -> None:
    client.force_login(globex.agent.user)
    client.post(reverse("set_presence"), {"presence": "available", "agent": acme.agent.pk})
    acme.agent.refresh_from_db()
    globex.agent.refresh_from_db()
    assert acme.agent.presence == Agent.Presence.OFFLINE
    assert globex.agent.presence == Agent.Presence.AVAILABLE


def test_outsider_sees_only_its_own_tenant(client: Client, acme: Staff, globex: Staff) -> None:
    client.force_login(globex.agent.user)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Globex" in page
    assert "Acme" not in page


def test_login_without_agent_profile_gets_403(client: Client, root) -> None:
    sign_in_with_second_factor(client, root)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 403
    assert "not an active agent" in response.content.decode()
    assert client.post(reverse("set_presence"), {"presence": "away"}).status_code == 403


def test_agents_of_an_inactive_tenant_are_refused(client: Client, acme: Staff) -> None:
    Tenant.objects.filter(pk=acme.tenant.pk).update(is_active=False)
    client.force_login(acme.agent.user)
    assert client.get(reverse("dashboard")).status_code == 403
    assert client.post(reverse("set_presence"), {"presence": "available"}).status_code == 403
    acme.agent.refresh_from_db()
    assert acme.agent.presence == Agent.Presence.OFFLINE


def test_logout_is_a_post_and_ends_the_session(client: Client, acme: Staff) -> None:
    client.force_login(acme.agent.user)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_pages_carry_a_strict_content_security_policy(client: Client, acme: Staff) -> None:
    client.force_login(acme.admin.user)
    for url in (reverse("dashboard"), reverse("login"), reverse("admin:index")):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert policy == CONTENT_SECURITY_POLICY, url
        assert "unsafe-inline" not in policy
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_dashboard_html_has_no_inline_script_or_style(client: Client, acme: Staff) -> None:
    client.force_login(acme.agent.user)
    page = client.get(reverse("dashboard")).content.decode()
    assert "<style" not in page
    assert " style=" not in page
    for chunk in page.split("<script")[1:]:
        assert " src=" in chunk.split(">")[0]


@pytest.mark.parametrize(
    ("keys", "detail"),
    [
        (("AAAA", None), "sign_public must be 32 bytes."),
        ((bytes([1]) + bytes(31), None), "not an Ed25519 key of the main group"),
        ((bytes(32), None), "not an Ed25519 key of the main group"),
        ((None, bytes(32)), "box_public is an X25519 key of small order."),
        ((None, bytes([1]) + bytes(31)), "box_public is an X25519 key of small order."),
    ],
    ids=["short", "identity signing key", "signing key of order 4", "zero box key", "box key 1"],
)
def test_a_device_with_keys_of_small_order_is_refused(
    client: Client, acme: Staff, keys: tuple[str | bytes | None, bytes | None], detail: str
) -> None:
    """The identity key would verify R = identity, S = 0 for every text; a small-order box key
    gives everyone the same shared secret with it."""
    fresh = protocol.generate_device()
    sign, box = keys
    body = {
        "sign_public": sign if isinstance(sign, str) else b64(sign or fresh.sign_public),
        "box_public": b64(box or fresh.box_public),
    }
    client.force_login(acme.agent.user)
    response = client.post(reverse("register_device"), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_key"
    assert detail in response.json()["detail"]
    assert not Device.objects.filter(agent=acme.agent).exists()
    good = {"sign_public": b64(fresh.sign_public), "box_public": b64(fresh.box_public)}
    response = client.post(reverse("register_device"), good, content_type="application/json")
    assert response.json()["device"]["id"] == fresh.device_id
