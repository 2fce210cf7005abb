"""The demo tenant command: random passwords, printed once, and safe to run again."""

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from agents.models import Agent, Team, Tenant

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("create_demo_tenant", *args, stdout=out)
    return out.getvalue()


def passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"(demo-\w+)\s+(\S{16})\s*$", output, flags=re.M))


def test_creates_a_tenant_team_admin_supervisor_and_two_agents_with_random_passwords() -> None:
    output = run("--base-url", "http://127.0.0.1:9000")
    tenant = Tenant.objects.get(slug="demo")
    assert Team.objects.filter(tenant=tenant).count() == 1
    roles = sorted(Agent.objects.filter(tenant=tenant).values_list("role", flat=True))
    assert roles == ["agent", "agent", "supervisor", "tenant_admin"]
    assert tenant.supervision == Tenant.Supervision.BARGE
    found = passwords(output)
    assert set(found) == {"demo-admin", "demo-alice", "demo-bob", "demo-sam"}
    for username, password in found.items():
        assert authenticate(username=username, password=password) is not None
    assert len(set(found.values())) == 4
    assert "http://127.0.0.1:9000/dashboard/" in output
    assert "http://127.0.0.1:9000/admin/" in output
    assert tenant.widget_id in output
    assert tenant.origin_list() == ["http://127.0.0.1:8001"]


def test_passwords_differ_between_installations() -> None:
    first = passwords(run())
    Tenant.objects.all().delete()
    Agent.objects.all().delete()
    from django.contrib.auth import get_user_model

    get_user_model().objects.all().delete()
    second = passwords(run())
    assert first["demo-alice"] != second["demo-alice"]


def test_running_twice_neither_fails_nor_duplicates_nor_changes_passwords() -> None:
    first = passwords(run())
    output = run()
    assert passwords(output) == {}
    assert "unchanged" in output
    assert Tenant.objects.filter(slug="demo").count() == 1
    assert Team.objects.count() == 1
    assert Agent.objects.count() == 4
    assert authenticate(username="demo-bob", password=first["demo-bob"]) is not None


def test_reset_passwords_prints_new_ones() -> None:
    first = passwords(run())
    second = passwords(run("--reset-passwords"))
    assert set(second) == set(first)
    assert authenticate(username="demo-bob", password=first["demo-bob"]) is None
    assert authenticate(username="demo-bob", password=second["demo-bob"]) is not None


def test_another_demo_origin_is_added_not_replaced() -> None:
    run()
    run("--demo-origin", "http://localhost:9001")
    tenant = Tenant.objects.get(slug="demo")
    assert tenant.origin_list() == ["http://127.0.0.1:8001", "http://localhost:9001"]
