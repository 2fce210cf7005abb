"""Canned responses (issue 12, part 5): Acme's tenant admin Ada keeps them in the admin, for the
whole tenant or for one team; agents get their tenant's and their own teams' from the dashboard,
never another team's or another tenant's. Bob works in Acme's Billing team; Globex's Oscar and
Otto are the outsiders."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.http import Http404
from django.test import Client
from django.urls import reverse

from agents import access
from agents.models import Agent, CannedResponse, Team, Tenant
from tests.admin_forms import admin_post
from tests.factories import PASSWORD, Staff, make_agent, sign_in_with_second_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing(acme: Staff) -> Team:
    """Acme's Billing team, with Bob in it (and not in Support)."""
    team = Team.objects.create(tenant=acme.tenant, name="Billing")
    make_agent(acme.tenant, "bob", teams=(team,))
    return team


@pytest.fixture
def responses(acme: Staff, globex: Staff, billing: Team) -> dict[str, CannedResponse]:
    """One canned response per scope: Acme-wide, Acme's Support, Acme's Billing, Globex-wide."""

    def canned(staff: Staff, team: Team | None, shortcut: str, text: str) -> CannedResponse:
        return CannedResponse.objects.create(
            tenant=staff.tenant, team=team, shortcut=shortcut, title=shortcut.title(), text=text
        )

    return {
        "acme": canned(acme, None, "greeting", "Hello from Acme!"),
        "support": canned(acme, acme.team, "pw-reset", "Support resets your password."),
        "billing": canned(acme, billing, "billing-refund", "Billing refunds within 30 days."),
        "globex": canned(globex, None, "greeting", "Globex secret greeting."),
    }


def shortcuts_for(client: Client, agent: Agent) -> list[tuple[str, str]]:
    client.force_login(agent.user)
    response = client.get(reverse("canned_responses"), headers={"accept": "application/json"})
    assert response.status_code == 200
    return [(r["shortcut"], r["text"]) for r in response.json()["responses"]]


# The model.


def test_a_shortcut_is_unique_per_tenant_and_per_team(
    acme: Staff, billing: Team, responses: dict[str, CannedResponse]
) -> None:
    for team in (None, acme.team):
        existing = "greeting" if team is None else "pw-reset"
        with pytest.raises(IntegrityError), transaction.atomic():
            CannedResponse.objects.create(
                tenant=acme.tenant, team=team, shortcut=existing, title="Again", text="Again"
            )
    # The same shortcut in another scope is another response.
    CannedResponse.objects.create(tenant=acme.tenant, team=billing, shortcut="pw-reset", text="B")
    CannedResponse.objects.create(tenant=acme.tenant, team=acme.team, shortcut="greeting", text="S")
    assert CannedResponse.objects.filter(shortcut="greeting").count() == 3


# The dashboard's endpoint.


def test_agent_gets_its_tenants_and_its_own_teams_responses_only(
    client: Client, acme: Staff, globex: Staff, responses: dict[str, CannedResponse]
) -> None:
    assert shortcuts_for(client, acme.agent) == [
        ("greeting", "Hello from Acme!"),
        ("pw-reset", "Support resets your password."),
    ]
    bob = Agent.objects.get(user__username="bob")
    assert shortcuts_for(client, bob) == [
        ("billing-refund", "Billing refunds within 30 days."),
        ("greeting", "Hello from Acme!"),
    ]
    assert shortcuts_for(client, globex.agent) == [("greeting", "Globex secret greeting.")]


def test_the_endpoint_names_the_team_of_a_team_response(
    client: Client, acme: Staff, responses: dict[str, CannedResponse]
) -> None:
    client.force_login(acme.supervisor.user)
    rows = client.get(reverse("canned_responses")).json()["responses"]
    assert [(r["shortcut"], r["title"], r["team"]) for r in rows] == [
        ("greeting", "Greeting", None),
        ("pw-reset", "Pw-Reset", "Support"),
    ]


def test_an_agent_without_teams_gets_the_tenant_wide_responses_only(
    client: Client, acme: Staff, responses: dict[str, CannedResponse]
) -> None:
    acme.agent.teams.clear()
    assert shortcuts_for(client, acme.agent) == [("greeting", "Hello from Acme!")]


def test_a_team_of_another_tenant_gives_an_agent_nothing_of_it(
    client: Client, acme: Staff, globex: Staff, responses: dict[str, CannedResponse]
) -> None:
    # Even were an agent put into another tenant's team, its responses stay that tenant's.
    CannedResponse.objects.create(
        tenant=globex.tenant, team=globex.team, shortcut="otto", text="Globex Support only."
    )
    acme.agent.teams.add(globex.team)
    assert [s for s, _ in shortcuts_for(client, acme.agent)] == ["greeting", "pw-reset"]


def test_the_endpoint_refuses_visitors_platform_admins_and_writes(
    client: Client, acme: Staff, root, responses: dict[str, CannedResponse]
) -> None:
    url = reverse("canned_responses")
    response = client.get(url)
    assert response.status_code == 302 and reverse("login") in response["Location"]
    sign_in_with_second_factor(
        client, root
    )  # a superuser without an agent profile has no dashboard
    assert client.get(url).status_code == 403
    client.force_login(acme.agent.user)
    assert client.post(url).status_code == 405


def test_the_tenant_checked_lookup_answers_not_found_for_another_tenants_response(
    acme: Staff, globex: Staff, responses: dict[str, CannedResponse]
) -> None:
    theirs = responses["acme"]
    with pytest.raises(Http404):
        access.access_canned_response(globex.admin.user, theirs.pk)
    assert access.access_canned_response(acme.admin.user, theirs.pk) == theirs
    assert set(access.canned_responses_for(globex.admin.user)) == {responses["globex"]}


# The admin.


def login(client: Client, agent: Agent) -> Client:
    assert client.login(username=agent.user.get_username(), password=PASSWORD)
    return client


def test_outsider_tenant_admin_neither_lists_nor_opens_the_tenants_responses(
    client: Client, acme: Staff, globex: Staff, responses: dict[str, CannedResponse]
) -> None:
    login(client, globex.admin)
    page = client.get(reverse("admin:agents_cannedresponse_changelist")).content.decode()
    assert "Globex secret greeting" not in page  # the list shows titles, not texts
    assert "greeting" in page  # Globex's own
    assert "pw-reset" not in page and "billing-refund" not in page
    for view in ("change", "history", "delete"):
        url = reverse(f"admin:agents_cannedresponse_{view}", args=[responses["acme"].pk])
        assert client.get(url).status_code == 404, view
        assert client.post(url, {"text": "Hijacked"}).status_code == 404, view
    responses["acme"].refresh_from_db()
    assert responses["acme"].text == "Hello from Acme!"
    page = client.get(
        reverse("admin:agents_cannedresponse_changelist"), {"team__id__exact": acme.team.pk}
    ).content.decode()
    assert "pw-reset" not in page


def test_tenant_admin_adds_a_team_response_in_its_own_tenant_only(
    client: Client, acme: Staff, globex: Staff, billing: Team
) -> None:
    login(client, acme.admin)
    add = reverse("admin:agents_cannedresponse_add")
    fields = {"shortcut": "late-parcel", "title": "Late parcel", "text": "Sorry for the wait."}
    response = admin_post(client, add, {**fields, "team": globex.team.pk})
    assert response.status_code == 200  # Globex's team is no choice of Ada's
    assert not CannedResponse.objects.exists()
    response = admin_post(client, add, {**fields, "team": billing.pk, "tenant": globex.tenant.pk})
    assert response.status_code == 302
    made = CannedResponse.objects.get()
    assert (made.tenant, made.team) == (acme.tenant, billing)


def test_a_duplicate_shortcut_in_the_same_scope_is_a_form_error(
    client: Client, acme: Staff, responses: dict[str, CannedResponse]
) -> None:
    login(client, acme.admin)
    add = reverse("admin:agents_cannedresponse_add")
    same = {"shortcut": "greeting", "title": "Hi", "text": "Hi!", "team": ""}
    response = admin_post(client, add, same)
    assert response.status_code == 200
    assert "Acme already has a canned response “/greeting”." in response.content.decode()
    response = admin_post(client, add, {**same, "team": acme.team.pk})
    assert response.status_code == 302  # the Support team's own /greeting
    assert CannedResponse.objects.filter(tenant=acme.tenant, shortcut="greeting").count() == 2


def test_agents_and_supervisors_do_not_manage_canned_responses(
    client: Client, acme: Staff, responses: dict[str, CannedResponse]
) -> None:
    for person in (acme.agent, acme.supervisor):
        client.logout()
        login(client, person)
        url = reverse("admin:agents_cannedresponse_change", args=[responses["acme"].pk])
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_platform_admin_sees_every_tenants_responses(
    client: Client, root, responses: dict[str, CannedResponse]
) -> None:
    sign_in_with_second_factor(client, root)
    page = client.get(reverse("admin:agents_cannedresponse_changelist")).content.decode()
    for shortcut in ("pw-reset", "billing-refund"):
        assert shortcut in page
    assert "Globex" in page and "Acme" in page


def test_the_demo_tenant_has_canned_responses_once_however_often_it_is_made(
    client: Client,
) -> None:
    for _ in range(2):
        call_command("create_demo_tenant", stdout=StringIO())
    demo = Tenant.objects.get(slug="demo")
    made = CannedResponse.objects.filter(tenant=demo)
    assert sorted(made.values_list("shortcut", flat=True)) == ["goodbye", "greeting", "parcel"]
    alice = Agent.objects.get(user__username="demo-alice")
    assert [s for s, _ in shortcuts_for(client, alice)] == ["goodbye", "greeting", "parcel"]
