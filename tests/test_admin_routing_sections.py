"""Routing-mode sections in the admin: Acme routes with the built-in router, so Ada sees no
Twilio section on her tenant, team and agent pages (the tenant's is there, hidden, until she
chooses Twilio) and no team or agent listed as "missing: gets no chats"; Globex routes with
Twilio, so Oscar sees them as before; Rita, a platform admin, sees the Twilio columns once any
tenant uses Twilio."""

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from agents.models import Tenant
from taskrouter.models import Workspace
from tests.admin_forms import admin_post
from tests.browser import chromium, csp_violations, open_page
from tests.factories import PASSWORD, Staff, sign_in_with_second_factor
from tests.live import DaphneServer
from tests.twilio_api import sid

pytestmark = pytest.mark.django_db

HIDDEN_SECTION = re.compile(r'<div data-routing-section="twilio"\s+hidden>')
SHOWN_SECTION = re.compile(r'<div data-routing-section="twilio">')


@pytest.fixture
def globex_on_twilio(globex: Staff) -> Staff:
    """Globex, switched to Twilio TaskRouter, with its Workspace and no TaskQueue or Worker."""
    globex.tenant.routing = Tenant.Routing.TWILIO
    globex.tenant.save()
    Workspace.objects.create(
        tenant=globex.tenant,
        account_sid=sid("AC"),
        sid=sid("WS"),
        workflow_sid=sid("WW"),
        available_activity_sid=sid("WA"),
        away_activity_sid=sid("WA"),
        offline_activity_sid=sid("WA"),
    )
    return globex


def pages_of(staff: Staff) -> dict[str, str]:
    return {
        "tenant": reverse("admin:agents_tenant_change", args=[staff.tenant.pk]),
        "team": reverse("admin:agents_team_change", args=[staff.team.pk]),
        "new team": reverse("admin:agents_team_add"),
        "agent": reverse("admin:agents_agent_change", args=[staff.agent.pk]),
        "new agent": reverse("admin:agents_agent_add"),
    }


def get(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return str(response.content.decode())


def test_with_the_built_in_router_ada_sees_no_twilio_section(
    client: Client, acme: Staff, globex_on_twilio: Staff
) -> None:
    client.force_login(acme.admin.user)
    pages = pages_of(acme)
    tenant_page = get(client, pages.pop("tenant"))
    assert HIDDEN_SECTION.search(tenant_page)
    assert "missing: gets no chats" not in tenant_page
    assert "Shown once the tenant routes with Twilio TaskRouter." in tenant_page
    for name, url in pages.items():
        page = get(client, url)
        assert "Twilio" not in page and "twilio_" not in page, name
    teams = get(client, reverse("admin:agents_team_changelist"))
    agents = get(client, reverse("admin:agents_agent_changelist"))
    assert "TaskQueue SID" not in teams and "Worker SID" not in agents
    tenants = get(client, reverse("admin:agents_tenant_changelist"))
    assert "check_twilio_setup" not in tenants


def test_ada_still_saves_her_team_and_agent_pages_without_twilio_fields(
    client: Client, acme: Staff
) -> None:
    client.force_login(acme.admin.user)
    pages = pages_of(acme)
    assert client.post(pages["team"], {"name": "Helpdesk"}).status_code == 302
    acme.team.refresh_from_db()
    assert acme.team.name == "Helpdesk"
    alice = acme.agent
    fields = {
        "display_name": "Alice B.",
        "email": alice.user.email,
        "is_active": "on",
        "role": alice.role,
        "teams": [acme.team.pk],
        "max_concurrent_chats": 3,
    }
    assert client.post(pages["agent"], fields).status_code == 302
    alice.refresh_from_db()
    assert alice.display_name == "Alice B."


def test_with_twilio_routing_oscar_sees_the_twilio_sections_as_before(
    client: Client, acme: Staff, globex_on_twilio: Staff
) -> None:
    client.force_login(globex_on_twilio.admin.user)
    pages = pages_of(globex_on_twilio)
    tenant_page = get(client, pages.pop("tenant"))
    assert SHOWN_SECTION.search(tenant_page) and not HIDDEN_SECTION.search(tenant_page)
    # Team Support and Oscar, Olga and Otto have no TaskQueue or Worker yet.
    assert tenant_page.count("missing: gets no chats") == 4
    assert "Team Support" in tenant_page and "Agent Otto" in tenant_page
    assert "Acme" not in tenant_page and "Alice" not in tenant_page  # nothing of the outsider
    for name, url in pages.items():
        page = get(client, url)
        assert "Twilio TaskRouter" in page and "-0-sid" in page, name
    teams = get(client, reverse("admin:agents_team_changelist"))
    agents = get(client, reverse("admin:agents_agent_changelist"))
    assert "TaskQueue SID" in teams and "Worker SID" in agents
    tenants = get(client, reverse("admin:agents_tenant_changelist"))
    assert "check_twilio_setup" in tenants


def test_choosing_twilio_without_its_sids_shows_the_section_with_what_is_missing(
    client: Client, acme: Staff
) -> None:
    client.force_login(acme.admin.user)
    url = pages_of(acme)["tenant"]
    response = admin_post(
        client,
        url,
        {
            "name": "Acme",
            "allowed_origins": acme.tenant.allowed_origins,
            "offer_timeout_seconds": 30,
            "routing": "twilio",
            "supervision": "off",
            "park_expiry_hours": 72,
            "max_file_mb": "100",
            "conversation_quota_mb": "500",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert SHOWN_SECTION.search(page)
    assert page.count("Twilio TaskRouter routing needs this.") == 6
    acme.tenant.refresh_from_db()
    assert acme.tenant.routing == Tenant.Routing.BUILTIN


def test_rita_sees_the_twilio_columns_once_any_tenant_routes_with_twilio(
    client: Client, acme: Staff, globex: Staff, root: Any
) -> None:
    sign_in_with_second_factor(client, root)
    teams = reverse("admin:agents_team_changelist")
    assert "TaskQueue SID" not in get(client, teams)
    assert "Twilio" not in get(client, reverse("admin:agents_team_add"))
    globex.tenant.routing = Tenant.Routing.TWILIO
    globex.tenant.save()
    assert "TaskQueue SID" in get(client, teams)
    # A new team's tenant is chosen in the form: its Twilio section is there for Globex's.
    assert "Twilio TaskRouter" in get(client, reverse("admin:agents_team_add"))
    assert "Twilio" not in get(client, pages_of(acme)["team"])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_choosing_twilio_in_the_form_shows_its_section_at_once_in_chromium(
    acme: Staff, daphne: DaphneServer
) -> None:
    with chromium() as browser:
        page, problems = open_page(browser)
        page.goto(f"{daphne.url}{pages_of(acme)['tenant']}")
        page.get_by_label("Username").fill(acme.admin.user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        section = page.locator('[data-routing-section="twilio"]')
        expect(page.get_by_label("Routing mode")).to_have_value("builtin")
        expect(section).to_be_hidden()
        expect(page.locator("#id_twilio_workspace-0-account_sid")).to_be_hidden()
        page.get_by_label("Routing mode").select_option(label="Twilio TaskRouter")
        expect(section).to_be_visible()
        expect(page.locator("#id_twilio_workspace-0-account_sid")).to_be_visible()
        page.get_by_label("Routing mode").select_option(label="Built-in router")
        expect(section).to_be_hidden()
        assert csp_violations(page) == []
        assert problems.errors == []
