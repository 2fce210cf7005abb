"""Tenant isolation, probed as another tenant would: each finding of the isolation probe (about
2,400 requests and 500 frames as Globex's admin, supervisor, agent and customer against Acme, and
the other way round), tried again and refused without telling anything.

Twilio cannot be reached from here; nothing in this file calls it (the refusals come first).
"""

import re
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import ForeignObjectRel
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agents.models import Team, Tenant
from chat.models import Offer
from contactcenter.ids import EPOCH_MS, RANDOM_BITS
from taskrouter import credentials
from taskrouter import models as twilio
from tests.admin_forms import inline_fields
from tests.factories import Staff, make_staff, sign_in_with_second_factor, start
from tests.sockets import open_agent_socket
from tests.test_twilio import tenant_form, workspace_fields
from tests.twilio_api import sid, signed

pytestmark = pytest.mark.django_db

GLOBEX_TOKEN = "b2" * 16


def globex_on_twilio(globex: Staff, monkeypatch: pytest.MonkeyPatch) -> twilio.Workspace:
    """Globex routes with Twilio, on an account the operator gave it, with its token."""
    globex.tenant.routing = Tenant.Routing.TWILIO
    globex.tenant.save()
    space = twilio.Workspace.objects.create(
        tenant=globex.tenant,
        account_sid=sid("AC"),
        sid=sid("WS"),
        workflow_sid=sid("WW"),
        available_activity_sid=sid("WA"),
        away_activity_sid=sid("WA"),
        offline_activity_sid=sid("WA"),
    )
    monkeypatch.setenv(f"TWILIO_ACCOUNT_TENANT_{space.account_sid}", "globex")
    monkeypatch.setenv(f"TWILIO_AUTH_TOKEN_{space.account_sid}", GLOBEX_TOKEN)
    return space


def errors(page: str) -> list[str]:
    """Return the error lines of an admin page, as the person reads them."""
    return re.findall(r'<ul class="errorlist[^"]*"[^>]*><li>(.*?)</li>', page)


def test_a_tenant_admin_cannot_bind_its_tenant_to_another_tenants_twilio_account(
    acme: Staff, globex: Staff, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    globex_space = globex_on_twilio(globex, monkeypatch)
    client.force_login(acme.admin.user)
    url = reverse("admin:agents_tenant_change", args=[acme.tenant.pk])

    def try_account(account: str, workspace: str) -> list[str]:
        fields = workspace_fields(
            account_sid=account,
            sid=workspace,
            workflow_sid=sid("WW"),
            available_activity_sid=sid("WA"),
            away_activity_sid=sid("WA"),
            offline_activity_sid=sid("WA"),
        )
        page = client.post(url, tenant_form(client, acme.tenant, routing="twilio", **fields))
        assert page.status_code == 200  # refused: the form again
        shown = credentials.normal_sid(account)
        return [line.replace(shown, "<SID>") for line in errors(page.content.decode())]

    # Globex's account and Workspace, in upper case as the probe typed them, or as they are.
    theirs = try_account(globex_space.account_sid.upper(), globex_space.sid.upper())
    as_is = try_account(globex_space.account_sid, globex_space.sid)
    # An account of no tenant, and one the server has no token for: the same words exactly.
    nobody = sid("AC")
    monkeypatch.setenv(f"TWILIO_AUTH_TOKEN_{nobody}", "c3" * 16)
    unbound = try_account(nobody, sid("WS"))
    unknown = try_account(sid("AC"), sid("WS"))
    assert theirs == as_is == unbound == unknown
    assert len(theirs) == 1 and "for this tenant" in theirs[0]
    assert "acme" in theirs[0] and "globex" not in theirs[0].lower()
    acme.tenant.refresh_from_db()
    assert acme.tenant.routing == Tenant.Routing.BUILTIN
    assert twilio.Workspace.objects.filter(tenant=acme.tenant).count() == 0
    # Nor is Globex's token anyone's but Globex's, whatever the case of the SID asked for.
    space = twilio.Workspace(tenant=acme.tenant, account_sid=globex_space.account_sid.upper())
    with pytest.raises(credentials.CredentialError):
        space.auth_token()


def test_another_tenants_workspace_sid_is_no_oracle_and_sids_compare_in_any_case(
    acme: Staff, globex: Staff, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    globex_space = globex_on_twilio(globex, monkeypatch)
    account = sid("AC")
    monkeypatch.setenv(f"TWILIO_ACCOUNT_TENANT_{account}", "acme")
    monkeypatch.setenv(f"TWILIO_AUTH_TOKEN_{account}", "a1" * 16)
    client.force_login(acme.admin.user)
    url = reverse("admin:agents_tenant_change", args=[acme.tenant.pk])
    # Acme's own account with Globex's Workspace SID, in upper case: no word of another tenant
    # (Twilio answers Acme's token for Globex's Workspace with 404; the set-up check says so).
    fields = workspace_fields(
        account_sid=account.upper(),
        sid=globex_space.sid.upper(),
        workflow_sid=sid("WW").upper(),
        available_activity_sid=sid("WA"),
        away_activity_sid=sid("WA"),
        offline_activity_sid=sid("WA"),
    )
    response = client.post(url, tenant_form(client, acme.tenant, routing="twilio", **fields))
    assert response.status_code == 302, errors(response.content.decode())
    space = twilio.Workspace.objects.get(tenant=acme.tenant)
    # Kept as Twilio writes SIDs, whatever case they were typed in.
    assert space.account_sid == account and space.sid == globex_space.sid
    assert re.fullmatch(r"WW[0-9a-f]{32}", space.workflow_sid)
    assert space.auth_token() == "a1" * 16

    # Within a tenant, the same TaskQueue in another case is the same TaskQueue.
    queue = sid("WQ")
    twilio.TaskQueue.objects.create(team=acme.team, sid=queue)
    sales = reverse("admin:agents_team_add")
    page = client.post(
        sales,
        {
            **inline_fields(client, sales),
            "name": "Sales",
            "twilio_task_queue-0-sid": queue.upper(),
        },
    ).content.decode()
    assert "The team “Support” has this TaskQueue." in page
    assert twilio.TaskQueue.objects.filter(sid__iexact=queue).count() == 1


def test_twilio_callbacks_answer_the_same_whatever_a_tenants_routing_or_token(
    acme: Staff, globex: Staff, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    globex_space = globex_on_twilio(globex, monkeypatch)
    params = {"AccountSid": globex_space.account_sid, "WorkspaceSid": globex_space.sid}

    def answer(widget_id: str, token: str = "d4" * 16) -> tuple[int, bytes]:
        path = f"/twilio/{widget_id}/events"
        response = client.post(
            path,
            urlencode(params),
            content_type="application/x-www-form-urlencoded",
            headers=signed(f"http://testserver{path}", params, token),
        )
        return response.status_code, response.content

    refused = answer(globex.tenant.widget_id)  # Twilio-routed, token held, signature wrong
    assert refused[0] == 403
    assert answer(acme.tenant.widget_id) == refused  # built-in router
    assert answer("no-such-widget") == refused
    monkeypatch.delenv(f"TWILIO_AUTH_TOKEN_{globex_space.account_sid}")
    assert answer(globex.tenant.widget_id) == refused  # Twilio-routed, no token
    assert answer(globex.tenant.widget_id, GLOBEX_TOKEN) == refused
    monkeypatch.setenv(f"TWILIO_AUTH_TOKEN_{globex_space.account_sid}", GLOBEX_TOKEN)
    assert answer(globex.tenant.widget_id, GLOBEX_TOKEN)[0] == 204  # Twilio's own: taken


def test_history_pages_tell_a_tenant_admin_nothing_of_which_rows_exist(
    acme: Staff, globex: Staff, root: User, client: Client
) -> None:
    client.force_login(acme.admin.user)
    missing = 1 << 52
    others: dict[type[Any], Any] = {
        User: root,
        Tenant: globex.tenant,
        Team: globex.team,
        type(globex.agent): globex.agent,
    }
    checked = []
    for model in admin.site._registry:
        meta = model._meta
        other = (
            others.get(model)
            or model._default_manager.exclude(
                **({"tenant": acme.tenant} if any(f.name == "tenant" for f in meta.fields) else {})
            ).first()
        )
        if other is None:
            continue
        answers = {
            client.get(
                reverse(f"admin:{meta.app_label}_{meta.model_name}_history", args=[pk])
            ).status_code
            for pk in (other.pk, missing)
        }
        assert len(answers) == 1, (meta.label, answers)
        checked.append(meta.label)
    assert {"auth.User", "agents.Tenant", "agents.Team", "agents.Agent"} <= set(checked)
    # Rita, the platform admin, still reads a user's history.
    sign_in_with_second_factor(client, root)
    response = client.get(reverse("admin:auth_user_history", args=[acme.admin.user.pk]))
    assert response.status_code == 200


def test_admin_autocomplete_refuses_odd_fields_with_403_and_never_500(
    acme: Staff, client: Client
) -> None:
    client.force_login(acme.admin.user)
    tried = 0
    for model in admin.site._registry:
        meta = model._meta
        names = [f.name for f in meta.get_fields() if f.is_relation] + ["", "nope", "pk"]
        for name in names:
            query: dict[str, str] = {
                "app_label": meta.app_label,
                "model_name": meta.model_name or "",
                "field_name": name,
                "term": "a",
            }
            response = client.get("/admin/autocomplete/", query)
            assert response.status_code in (200, 403, 404), (meta.label, name, response.status_code)
            field = next((f for f in meta.get_fields() if f.name == name), None)
            if isinstance(field, ForeignObjectRel):
                assert response.status_code in (403, 404), (meta.label, name)
            tried += 1
    assert tried > 20
    # What the admin's own widgets ask for still works: an agent's teams.
    query = {"app_label": "agents", "model_name": "agent", "field_name": "teams", "term": "Sup"}
    found = client.get("/admin/autocomplete/", query).json()["results"]
    assert [row["text"] for row in found] == ["Support"]


def test_ids_in_frames_and_urls_do_not_count_other_tenants_rows(acme: Staff, globex: Staff) -> None:
    # The probe's case: an offer to Alice, twelve to Globex's agents, another to Alice.
    def offer(staff: Staff) -> Offer:
        return Offer.objects.create(
            conversation=start(staff), agent=staff.agent, expires_at=timezone.now()
        )

    first_offer = offer(acme)
    for _ in range(12):
        offer(globex)
    second_offer = offer(acme)

    teams = [Team.objects.create(tenant=acme.tenant, name="Sales")]
    teams += [Team.objects.create(tenant=globex.tenant, name=f"G{n}") for n in range(12)]
    teams.append(Team.objects.create(tenant=acme.tenant, name="Billing"))
    initech = make_staff("Initech", "initech", ("Ian", "Ivy", "Ike"))
    users = [User.objects.create_user(f"u{n}") for n in range(3)]
    for earlier, later in [
        (first_offer.pk, second_offer.pk),
        (teams[0].pk, teams[-1].pk),
        (acme.tenant.pk, initech.tenant.pk),
        (acme.agent.pk, initech.agent.pk),
    ]:
        # Time-ordered (contactcenter/ids.py): later rows have larger ids, JavaScript holds them
        # exactly, and the gap says how long after, not how many rows came between.
        assert 1 << 40 < earlier < later < 1 << 53
        assert later - earlier > 12 or (later >> RANDOM_BITS) == (earlier >> RANDOM_BITS)
        assert (later >> RANDOM_BITS) + EPOCH_MS <= _now_ms() + 1
    # Users are Django's, with 32-bit ids: random ones, in no order.
    assert all(1 << 30 <= user.pk < 1 << 31 for user in users)


def _now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "host", "opens"),
    [
        (b"http://localhost", b"localhost", True),
        (b"http://localhost:9999", b"localhost", False),  # another port of the same host
        (b"https://localhost", b"localhost", False),  # another scheme
        (b"http://localhost:8001", b"localhost:8001", True),
        (b"http://localhost", b"localhost:8001", False),
        (b"http://127.0.0.1:8001", b"localhost:8001", False),  # another host
        (b"http://evil.example", b"evil.example", False),  # a host not in ALLOWED_HOSTS
        (b"null", b"localhost", False),
    ],
)
async def test_the_agent_socket_opens_only_from_a_page_of_the_same_scheme_host_and_port(
    acme: Staff, origin: bytes, host: bytes, opens: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tests.sockets.AGENT_HOST", host)
    socket, connected, _ = await open_agent_socket(acme.agent.user, origin=origin)
    assert connected is opens
    if connected:
        await socket.disconnect()
