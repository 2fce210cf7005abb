"""Django admin: platform admins see all tenants; tenant admins their own, without escalation."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from agents.models import Agent, Team, Tenant
from tests.admin_forms import admin_post
from tests.factories import PASSWORD, Staff, make_agent, sign_in_with_second_factor

pytestmark = pytest.mark.django_db


def login(client: Client, agent_or_username: Agent | str) -> Client:
    username = (
        agent_or_username
        if isinstance(agent_or_username, str)
        else agent_or_username.user.get_username()
    )
    assert client.login(username=username, password=PASSWORD)
    return client


def new_agent(username: str, **fields: object) -> dict[str, object]:
    """Return the admin's add-agent form data for a plain agent, with FIELDS changed."""
    return {
        "username": username,
        "display_name": username.capitalize(),
        "role": "agent",
        "max_concurrent_chats": 3,
        **fields,
    }


def edited(agent: Agent, **fields: object) -> dict[str, object]:
    """Return the admin's change-agent form data as it stands, with FIELDS changed."""
    return {
        "display_name": agent.display_name,
        "email": agent.user.email,
        "is_active": "on",
        "role": agent.role,
        "teams": [team.pk for team in agent.teams.all()],
        "max_concurrent_chats": agent.max_concurrent_chats,
        **fields,
    }


def object_urls(staff: Staff) -> list[str]:
    """Every admin URL that names one of the tenant's objects."""
    urls = [
        reverse("admin:agents_tenant_change", args=[staff.tenant.pk]),
        reverse("admin:agents_tenant_history", args=[staff.tenant.pk]),
        reverse("admin:agents_tenant_delete", args=[staff.tenant.pk]),
        reverse("admin:agents_team_change", args=[staff.team.pk]),
        reverse("admin:agents_team_history", args=[staff.team.pk]),
        reverse("admin:agents_team_delete", args=[staff.team.pk]),
    ]
    for agent in (staff.admin, staff.supervisor, staff.agent):
        urls += [
            reverse("admin:agents_agent_change", args=[agent.pk]),
            reverse("admin:agents_agent_history", args=[agent.pk]),
            reverse("admin:agents_agent_delete", args=[agent.pk]),
        ]
    return urls


def test_outsider_tenant_admin_gets_404_on_every_object_of_the_tenant(
    client: Client, acme: Staff, globex: Staff
) -> None:
    login(client, globex.admin)
    for url in object_urls(acme):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"name": "Hijacked"}).status_code == 404, url
    acme.tenant.refresh_from_db()
    acme.team.refresh_from_db()
    assert (acme.tenant.name, acme.team.name) == ("Acme", "Support")
    assert Agent.objects.filter(tenant=acme.tenant).count() == 3


def test_outsider_tenant_admin_lists_only_its_own_tenant(
    client: Client, acme: Staff, globex: Staff
) -> None:
    login(client, globex.admin)
    for model in ("tenant", "team", "agent"):
        page = client.get(reverse(f"admin:agents_{model}_changelist")).content.decode()
        assert "Acme" not in page and "Ada" not in page and "Alice" not in page, model
    agents_page = client.get(reverse("admin:agents_agent_changelist")).content.decode()
    assert "Oscar" in agents_page and "Otto" in agents_page


def test_outsider_tenant_admin_cannot_search_or_filter_into_the_tenant(
    client: Client, acme: Staff, globex: Staff
) -> None:
    Team.objects.create(tenant=acme.tenant, name="Secret Merger Desk")
    login(client, globex.admin)
    for model in ("agent", "team"):
        page = client.get(reverse(f"admin:agents_{model}_changelist")).content.decode()
        assert "Secret Merger Desk" not in page, model
    url = reverse("admin:agents_agent_changelist")
    for query in (
        {"q": "alice"},
        {"tenant__id__exact": acme.tenant.pk},
        {"teams__id__exact": acme.team.pk},
    ):
        page = client.get(url, query).content.decode()
        assert "Alice" not in page, query


def test_agents_and_supervisors_of_the_tenant_have_no_admin(client: Client, acme: Staff) -> None:
    for person in (acme.agent, acme.supervisor):
        client.logout()
        login(client, person)
        response = client.get(reverse("admin:index"))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        for url in object_urls(acme):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_outsider_agent_and_anonymous_visitor_are_sent_to_the_login(
    client: Client, acme: Staff, globex: Staff
) -> None:
    for who in (globex.agent, None):
        client.logout()
        if who:
            login(client, who)
        for url in object_urls(acme):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_tenant_admin_sees_and_edits_its_own_tenant_but_not_its_flags(
    client: Client, acme: Staff
) -> None:
    login(client, acme.admin)
    url = reverse("admin:agents_tenant_change", args=[acme.tenant.pk])
    response = admin_post(
        client,
        url,
        {
            "name": "Acme Inc.",
            "allowed_origins": "https://shop.acme.example/\nhttps://shop.acme.example:443",
            "slug": "stolen",
            "offer_timeout_seconds": 20,
            "is_active": "",
            "routing": "builtin",
            "supervision": "whisper",
            "park_resume_minutes": "15",
            "park_expiry_hours": "48",
            "max_file_mb": "100",
            "conversation_quota_mb": "500",
        },
    )
    assert response.status_code == 302
    acme.tenant.refresh_from_db()
    assert acme.tenant.name == "Acme Inc."
    assert acme.tenant.supervision == "whisper"
    assert (acme.tenant.park_resume_minutes, acme.tenant.park_expiry_hours) == (15, 48)
    assert acme.tenant.allowed_origins == "https://shop.acme.example"
    assert acme.tenant.offer_timeout_seconds == 20
    assert acme.tenant.slug == "acme" and acme.tenant.is_active
    assert client.get(reverse("admin:agents_tenant_add")).status_code == 403
    assert (
        client.get(reverse("admin:agents_tenant_delete", args=[acme.tenant.pk])).status_code == 403
    )


def test_tenant_admin_gets_a_clear_error_for_a_bad_origin(client: Client, acme: Staff) -> None:
    login(client, acme.admin)
    url = reverse("admin:agents_tenant_change", args=[acme.tenant.pk])
    response = admin_post(
        client,
        url,
        {"name": "Acme", "allowed_origins": "shop.acme.example/path", "offer_timeout_seconds": 30},
    )
    assert response.status_code == 200
    assert "is not an origin such as https://www.example.com" in response.content.decode()
    acme.tenant.refresh_from_db()
    assert acme.tenant.allowed_origins == "https://www.acme.example"


def test_tenant_admin_creates_a_team_in_its_own_tenant_even_when_naming_another(
    client: Client, acme: Staff, globex: Staff
) -> None:
    login(client, acme.admin)
    response = admin_post(
        client, reverse("admin:agents_team_add"), {"name": "Billing", "tenant": globex.tenant.pk}
    )
    assert response.status_code == 302
    assert Team.objects.get(name="Billing").tenant == acme.tenant
    assert not Team.objects.filter(tenant=globex.tenant, name="Billing").exists()


def test_duplicate_team_name_in_a_tenant_is_a_form_error(client: Client, acme: Staff) -> None:
    login(client, acme.admin)
    response = admin_post(client, reverse("admin:agents_team_add"), {"name": "Support"})
    assert response.status_code == 200
    assert Team.objects.filter(tenant=acme.tenant, name="Support").count() == 1


def test_tenant_admin_creates_an_agent_with_a_password(
    client: Client, acme: Staff, globex: Staff
) -> None:
    login(client, acme.admin)
    response = admin_post(
        client,
        reverse("admin:agents_agent_add"),
        new_agent(
            "carol",
            password1="a long and fine passphrase 7",
            password2="a long and fine passphrase 7",
            email="carol@acme.example",
            teams=[acme.team.pk],
            max_concurrent_chats=4,
            tenant=globex.tenant.pk,
            is_superuser="on",
            is_staff="on",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    carol = Agent.objects.get(user__username="carol")
    assert carol.tenant == acme.tenant
    assert list(carol.teams.all()) == [acme.team]
    assert carol.max_concurrent_chats == 4
    assert not carol.user.is_superuser and not carol.user.is_staff
    assert Client().login(username="carol", password="a long and fine passphrase 7")


def test_agent_created_without_password_gets_a_set_password_link(
    client: Client, acme: Staff
) -> None:
    login(client, acme.admin)
    response = admin_post(
        client,
        reverse("admin:agents_agent_add"),
        new_agent("dave", email="dave@acme.example", role="supervisor"),
        follow=True,
    )
    assert response.status_code == 200
    dave = get_user_model().objects.get(username="dave")
    assert not dave.has_usable_password()
    page = response.content.decode()
    link = re.search(r"Set-password link for dave: (http://testserver\S+/)", page)
    assert link, page[:3000]
    assert len(mail.outbox) == 1 and link.group(1) in mail.outbox[0].body
    assert mail.outbox[0].to == ["dave@acme.example"]

    # Dave follows the link, sets a password and lands on his dashboard.
    visitor = Client()
    form_page = visitor.get(link.group(1), follow=True)
    assert form_page.status_code == 200 and "Set your password" in form_page.content.decode()
    done = visitor.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "dave's new passphrase 9", "new_password2": "dave's new passphrase 9"},
    )
    assert done.status_code == 302 and done["Location"] == reverse("dashboard")
    assert visitor.get(reverse("dashboard")).status_code == 200
    # The link works once.
    assert "has been used already" in Client().get(link.group(1), follow=True).content.decode()


def test_mismatched_or_weak_passwords_are_form_errors_and_create_nothing(
    client: Client, acme: Staff
) -> None:
    login(client, acme.admin)
    for p1, p2, error in (
        ("one long passphrase 1", "another long passphrase 2", "The two passwords differ."),
        ("12345678", "12345678", "This password is too common."),
    ):
        response = admin_post(
            client, reverse("admin:agents_agent_add"), new_agent("erin", password1=p1, password2=p2)
        )
        assert response.status_code == 200
        assert error in response.content.decode()
    assert not get_user_model().objects.filter(username="erin").exists()


def test_tenant_admin_cannot_put_an_agent_into_another_tenants_team(
    client: Client, acme: Staff, globex: Staff
) -> None:
    login(client, acme.admin)
    response = admin_post(
        client,
        reverse("admin:agents_agent_add"),
        new_agent("frank", teams=[globex.team.pk]),
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not get_user_model().objects.filter(username="frank").exists()


def test_promoting_to_tenant_admin_gives_admin_of_that_tenant_only(
    client: Client, acme: Staff, globex: Staff
) -> None:
    login(client, acme.admin)
    url = reverse("admin:agents_agent_change", args=[acme.agent.pk])
    response = admin_post(
        client,
        url,
        edited(acme.agent, role="tenant_admin", is_superuser="on", tenant=globex.tenant.pk),
    )
    assert response.status_code == 302
    acme.agent.refresh_from_db()
    acme.agent.user.refresh_from_db()
    assert acme.agent.role == "tenant_admin" and acme.agent.tenant == acme.tenant
    assert acme.agent.user.is_staff and not acme.agent.user.is_superuser
    alice = login(Client(), acme.agent)
    assert alice.get(reverse("admin:agents_agent_changelist")).status_code == 200
    for url in object_urls(globex):
        assert alice.get(url).status_code == 404, url


def test_tenant_admin_cannot_change_its_own_role(client: Client, acme: Staff) -> None:
    login(client, acme.admin)
    url = reverse("admin:agents_agent_change", args=[acme.admin.pk])
    response = admin_post(client, url, edited(acme.admin, role="agent"))
    assert response.status_code == 302
    acme.admin.refresh_from_db()
    assert acme.admin.role == "tenant_admin" and acme.admin.user.is_staff


def test_demoting_a_tenant_admin_removes_its_admin_access(client: Client, acme: Staff) -> None:
    second = make_agent(acme.tenant, "abel", Agent.Role.TENANT_ADMIN)
    login(client, acme.admin)
    response = admin_post(
        client, reverse("admin:agents_agent_change", args=[second.pk]), edited(second, role="agent")
    )
    assert response.status_code == 302
    second.user.refresh_from_db()
    assert not second.user.is_staff
    response = login(Client(), second).get(reverse("admin:index"))
    assert response.status_code == 302


def test_tenant_admin_cannot_touch_a_platform_admins_login(
    client: Client, acme: Staff, root
) -> None:
    rita = Agent.objects.create(user=root, tenant=acme.tenant, display_name="Rita")
    login(client, acme.admin)
    url = reverse("admin:agents_agent_change", args=[rita.pk])
    response = client.post(
        url,
        edited(rita, email="attacker@evil.example"),
    )
    assert response.status_code == 403
    assert client.get(reverse("admin:agents_agent_delete", args=[rita.pk])).status_code == 403
    client.post(
        reverse("admin:agents_agent_changelist"),
        {"action": "send_set_password_links", "_selected_action": [rita.pk]},
    )
    root.refresh_from_db()
    assert root.email == "rita@example.com" and root.is_active
    assert mail.outbox == []


def test_bulk_delete_refuses_when_a_row_is_out_of_reach(client: Client, acme: Staff) -> None:
    login(client, acme.admin)
    response = client.post(
        reverse("admin:agents_agent_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [acme.admin.pk, acme.agent.pk],
            "post": "yes",
        },
    )
    assert response.status_code == 403
    assert Agent.objects.filter(pk__in=[acme.admin.pk, acme.agent.pk]).count() == 2


def test_deleting_an_agent_removes_its_login(client: Client, acme: Staff) -> None:
    login(client, acme.admin)
    user_id = acme.agent.user_id
    response = client.post(
        reverse("admin:agents_agent_delete", args=[acme.agent.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=user_id).exists()


def test_deactivating_an_agent_stops_its_login(client: Client, acme: Staff) -> None:
    login(client, acme.admin)
    response = admin_post(
        client,
        reverse("admin:agents_agent_change", args=[acme.agent.pk]),
        edited(acme.agent, is_active=""),
    )
    assert response.status_code == 302
    assert not Client().login(username="alice", password=PASSWORD)


def test_tenant_admin_has_no_user_or_group_admin(client: Client, acme: Staff) -> None:
    login(client, acme.admin)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    assert (
        client.get(reverse("admin:auth_user_change", args=[acme.admin.user_id])).status_code == 403
    )


def test_tenant_admin_of_an_inactive_tenant_sees_nothing(client: Client, acme: Staff) -> None:
    Tenant.objects.filter(pk=acme.tenant.pk).update(is_active=False)
    login(client, acme.admin)
    assert client.get(reverse("admin:agents_agent_changelist")).status_code == 403
    assert client.get(reverse("admin:agents_team_change", args=[acme.team.pk])).status_code == 404


def test_platform_admin_manages_every_tenant(
    client: Client, acme: Staff, globex: Staff, root
) -> None:
    sign_in_with_second_factor(client, root)
    page = client.get(reverse("admin:agents_agent_changelist")).content.decode()
    assert "Alice" in page and "Otto" in page
    response = admin_post(
        client,
        reverse("admin:agents_tenant_add"),
        {
            "name": "Initech",
            "slug": "initech",
            "allowed_origins": "",
            "offer_timeout_seconds": 30,
            "is_active": "on",
            "routing": "builtin",
            "supervision": "off",
            "park_resume_minutes": "",
            "park_expiry_hours": "72",
            "max_file_mb": "100",
            "conversation_quota_mb": "500",
        },
    )
    assert response.status_code == 302
    initech = Tenant.objects.get(slug="initech")
    assert initech.widget_id.startswith("wid_")
    response = admin_post(
        client,
        reverse("admin:agents_agent_add"),
        new_agent("peter", tenant=initech.pk, role="tenant_admin", teams=[acme.team.pk]),
    )
    assert response.status_code == 200
    assert "Not teams of Initech: Support." in response.content.decode()
    response = admin_post(
        client,
        reverse("admin:agents_agent_add"),
        new_agent("peter", tenant=initech.pk, role="tenant_admin"),
    )
    assert response.status_code == 302
    peter = Agent.objects.get(user__username="peter")
    assert peter.tenant == initech and peter.user.is_staff
