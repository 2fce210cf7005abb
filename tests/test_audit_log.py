"""The audit log: who did what, when and from where, for each tenant, append-only.

Ada (Acme's tenant admin) signs in, changes Alice's role, Acme's routing and supervision, adds a
team, approves and revokes a device, sets the organisation key and exports a report; a stranger
fails to sign in as Alice; Oscar (Globex's admin) reads none of it and Rita (platform admin) all.
"""

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from agents.models import Agent, Tenant
from audit import log
from audit.models import AppendOnly, Entry
from sealdesk_client import protocol
from tests.admin_forms import admin_post, page_fields
from tests.browser import PageProblems, chromium
from tests.factories import PASSWORD, Staff, b64
from tests.live import DaphneServer, stored_text
from tests.test_certified_devices import ORG, certificate, logged_in, post, register

pytestmark = pytest.mark.django_db

Action = Entry.Action
WRONG_PASSWORD = "not-alices-password-7391"  # what a stranger types


def entries(tenant: Tenant | None, action: str) -> list[Entry]:
    return list(Entry.objects.filter(tenant=tenant, action=action))


def test_sign_ins_and_failures_say_who_when_and_from_where_and_never_the_password(
    acme: Staff, client: Client
) -> None:
    page = client.post(
        reverse("login"),
        {"username": "alice", "password": WRONG_PASSWORD},
        REMOTE_ADDR="203.0.113.9",
        HTTP_USER_AGENT="Stranger/1.0",
    )
    assert page.status_code == 200  # the form again
    client.post(reverse("login"), {"username": "nobody-here", "password": WRONG_PASSWORD})
    client.post(
        reverse("login"),
        {"username": "ada", "password": PASSWORD},
        REMOTE_ADDR="198.51.100.4",
        HTTP_USER_AGENT="Firefox/140",
    )

    [failed] = entries(acme.tenant, Action.LOGIN_FAILED)
    assert (failed.target, failed.address, failed.user_agent) == (
        "alice",
        "203.0.113.9",
        "Stranger/1.0",
    )
    assert failed.actor is None
    # An account of no tenant: a platform event, which no tenant admin reads.
    [unknown] = entries(None, Action.LOGIN_FAILED)
    assert unknown.target == "nobody-here"
    [signed_in] = entries(acme.tenant, Action.LOGIN)
    assert (signed_in.actor, signed_in.address) == (acme.admin.user, "198.51.100.4")
    assert timezone.now() - signed_in.at < timedelta(minutes=1)
    assert WRONG_PASSWORD not in stored_text()


def test_role_routing_policy_and_team_changes_are_kept_with_before_and_after(
    acme: Staff, client: Client
) -> None:
    client.force_login(acme.admin.user)
    url = reverse("admin:agents_agent_change", args=[acme.agent.pk])
    form = {**page_fields(client, url), "role": Agent.Role.SUPERVISOR}
    assert client.post(url, form).status_code == 302
    [role] = entries(acme.tenant, Action.ROLE_CHANGED)
    assert role.actor == acme.admin.user and role.target == "Alice"
    assert role.detail["from"]["role"] == "agent" and role.detail["to"]["role"] == "supervisor"

    tenant_url = reverse("admin:agents_tenant_change", args=[acme.tenant.pk])
    form = {**page_fields(client, tenant_url), "offer_timeout_seconds": "45"}
    assert client.post(tenant_url, form).status_code == 302
    [routing] = entries(acme.tenant, Action.ROUTING_CHANGED)
    assert routing.detail["fields"] == ["offer_timeout_seconds"]
    assert routing.detail["to"]["offer_timeout_seconds"] == 45
    other = "off" if acme.tenant.supervision != "off" else "barge"
    form = {**page_fields(client, tenant_url), "supervision": other}
    assert client.post(tenant_url, form).status_code == 302
    [policy] = entries(acme.tenant, Action.POLICY_CHANGED)
    assert policy.detail["fields"] == ["supervision"]

    add = reverse("admin:agents_team_add")
    assert admin_post(client, add, {"name": "Sales", "time_zone": "UTC"}).status_code == 302
    [team] = entries(acme.tenant, Action.TEAM_CHANGED)
    assert team.target == "Sales" and team.detail == {"added": True}


def test_device_approvals_revocations_org_key_and_report_exports_are_kept(acme: Staff) -> None:
    ada, alice = logged_in("ada"), logged_in("alice")
    keys = protocol.generate_device()
    register(alice, keys)
    assert post(ada, "organisation_key", {"public_key": b64(ORG.public_key)}).status_code == 200
    cert = certificate(acme, keys)
    approved = post(ada, "certify_device", {"cert": cert.to_json()}, device_id=keys.device_id)
    assert approved.status_code == 200
    revocation = protocol.revoke_device(
        ORG, acme.tenant.widget_id, keys.device_id, int(time.time())
    )
    body = {"revocation": revocation.to_json()}
    assert post(ada, "revoke_device", body, device_id=keys.device_id).status_code == 200

    [key] = entries(acme.tenant, Action.ORG_KEY_CHANGED)
    assert key.target == protocol.fingerprint(ORG.id) and key.actor == acme.admin.user
    [approval] = entries(acme.tenant, Action.DEVICE_APPROVED)
    [revoked] = entries(acme.tenant, Action.DEVICE_REVOKED)
    assert approval.detail["device"] == revoked.detail["device"] == keys.device_id
    assert approval.target.startswith("Alice")

    sam = logged_in("sam")
    csv = sam.get(reverse("reports_conversations_csv"))
    assert csv.status_code == 200, csv.content
    b"".join(csv.streaming_content)  # type: ignore[attr-defined]
    [export] = entries(acme.tenant, Action.REPORT_EXPORTED)
    assert export.actor == acme.supervisor.user and export.target.endswith(".csv")


def test_entries_are_append_only_and_forgotten_after_the_retention(
    acme: Staff, settings: object
) -> None:
    entry = log.record(Action.POLICY_CHANGED, actor=acme.admin.user, target="Acme")
    assert entry.tenant == acme.tenant
    entry.target = "Something else"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    Entry.objects.filter(pk=entry.pk).update(at=timezone.now() - timedelta(days=400))
    recent = log.record(Action.POLICY_CHANGED, actor=acme.admin.user, target="Acme")
    assert log.forget_old_entries() == 1
    assert list(Entry.objects.all()) == [recent]


def test_each_tenant_admin_reads_its_own_tenants_entries_and_changes_none(
    acme: Staff, globex: Staff, client: Client
) -> None:
    ours = log.record(Action.POLICY_CHANGED, actor=acme.admin.user, target="Acme")
    theirs = log.record(Action.POLICY_CHANGED, actor=globex.admin.user, target="Globex")
    client.force_login(globex.admin.user)
    listing = client.get(reverse("admin:audit_entry_changelist")).content.decode()
    assert "Globex" in listing and "Acme" not in listing
    assert client.get(reverse("admin:audit_entry_change", args=[ours.pk])).status_code == 404
    page = client.get(reverse("admin:audit_entry_change", args=[theirs.pk]))
    assert page.status_code == 200 and 'type="submit"' not in page.content.decode().split(
        'id="entry_form"'
    )[-1].split("</form>")[0].replace('name="_continue"', "")
    refused = client.post(reverse("admin:audit_entry_change", args=[theirs.pk]), {"target": "x"})
    assert refused.status_code == 403
    assert client.get(reverse("admin:audit_entry_add")).status_code == 403
    assert client.post(reverse("admin:audit_entry_delete", args=[theirs.pk])).status_code == 403
    # Agents and supervisors have no admin at all.
    client.force_login(globex.agent.user)
    assert client.get(reverse("admin:audit_entry_changelist")).status_code == 302


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_ada_reads_the_audit_entries_of_a_day_in_the_admin(
    acme: Staff, globex: Staff, daphne: DaphneServer
) -> None:
    old = log.record(Action.ROLE_CHANGED, actor=acme.admin.user, target="Bob")
    Entry.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=40))
    log.record(Action.POLICY_CHANGED, actor=globex.admin.user, target="Globex")
    with chromium() as browser:
        problems = PageProblems()
        page = problems.watch(browser.new_page())
        page.goto(f"{daphne.url}{reverse('admin:index')}")
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Audit log").click()
        # Today's: her own sign-in; forty days ago (another month): Bob's role change. Not
        # Globex's. The dates above the list go from years (when there are several) to days.
        today = timezone.now()
        year = page.get_by_role("link", name=today.strftime("%Y"), exact=True)
        if year.count():
            year.click()
            page.wait_for_load_state()
        page.get_by_role("link", name=today.strftime("%B %Y"), exact=True).click()
        page.get_by_role("link", name=today.strftime("%B %-d"), exact=True).click()
        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Signed in")
        expect(rows.first).to_contain_text("ada")
        expect(rows.first).to_contain_text("127.0.0.1")
        expect(page.locator("#result_list")).not_to_contain_text("Bob")
        expect(page.locator("#result_list")).not_to_contain_text("Globex")
        rows.first.get_by_role("link").first.click()
        expect(page.get_by_text("Signed in")).to_be_visible()
        expect(page.get_by_role("button", name="Save")).to_have_count(0)
        assert problems.errors == []
