"""Tenancy rules: origins, widget ids, and the lookups that keep tenants apart."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from agents import access
from agents.models import Tenant, normalize_origin
from tests.factories import Staff

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("given", "origin"),
    [
        ("https://www.example.com", "https://www.example.com"),
        ("https://WWW.Example.com/", "https://www.example.com"),
        ("https://www.example.com:443", "https://www.example.com"),
        ("http://localhost:8001", "http://localhost:8001"),
        ("http://[::1]:8001", "http://[::1]:8001"),
    ],
)
def test_origins_are_normalized(given: str, origin: str) -> None:
    assert normalize_origin(given) == origin


@pytest.mark.parametrize(
    "given", ["www.example.com", "ftp://example.com", "https://example.com/page", "https://u@x.com"]
)
def test_what_is_not_an_origin_is_refused(given: str) -> None:
    with pytest.raises(ValidationError):
        normalize_origin(given)


def test_tenant_clean_dedupes_origins_and_lists_every_bad_line() -> None:
    tenant = Tenant(name="T", slug="t", allowed_origins="https://a.example\nhttps://a.example/\n\n")
    tenant.clean()
    assert tenant.origin_list() == ["https://a.example"]
    tenant.allowed_origins = "nope\nhttps://ok.example\nalso nope"
    with pytest.raises(ValidationError) as raised:
        tenant.clean()
    assert len(raised.value.message_dict["allowed_origins"]) == 2


def test_widget_ids_are_random_and_distinct() -> None:
    ids = {Tenant.objects.create(name=f"T{i}", slug=f"t{i}").widget_id for i in range(5)}
    assert len(ids) == 5
    assert all(widget_id.startswith("wid_") and len(widget_id) > 20 for widget_id in ids)


def test_lookups_refuse_other_tenants_objects_as_not_found(acme: Staff, globex: Staff) -> None:
    outsider = globex.agent.user
    for lookup, obj in (
        (access.access_tenant, acme.tenant),
        (access.access_team, acme.team),
        (access.access_agent, acme.agent),
    ):
        with pytest.raises(Http404):
            lookup(outsider, obj.pk)
        assert lookup(acme.agent.user, obj.pk) == obj
    for bad_pk in ("not-a-number", None, 10**9):
        with pytest.raises(Http404):
            access.access_team(acme.agent.user, bad_pk)


def test_scoped_querysets_hold_only_the_callers_tenant(acme: Staff, globex: Staff, root) -> None:
    assert set(access.agents_for(acme.supervisor.user)) == {acme.admin, acme.supervisor, acme.agent}
    assert list(access.tenants_for(globex.admin.user)) == [globex.tenant]
    assert set(access.teams_for(root)) == {acme.team, globex.team}
    assert not access.agents_for(AnonymousUser()).exists()


def test_require_agent_refuses_anonymous_superuser_and_inactive(acme: Staff, root) -> None:
    assert access.require_agent(acme.agent.user) == acme.agent
    for user in (AnonymousUser(), root):
        with pytest.raises(PermissionDenied):
            access.require_agent(user)
    acme.agent.user.is_active = False
    acme.agent.user.save()
    with pytest.raises(PermissionDenied):
        access.require_agent(acme.agent.user)
