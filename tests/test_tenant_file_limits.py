"""The tenant's file limits in the admin (README, "Files in the chat"): Ada, Acme's tenant admin,
sees and sets the largest file and the files per conversation in MB, gets a sentence for what is
not a size, and the uploads follow; Oscar, Globex's admin, cannot touch Acme's."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Tenant
from chat import uploads
from chat.errors import ChatError
from tests.admin_forms import admin_post
from tests.factories import PASSWORD, Staff, accept, available, start

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def tenant_url(tenant: Tenant) -> str:
    return reverse("admin:agents_tenant_change", args=[tenant.pk])


def settings_of(tenant: Tenant, **changes: object) -> dict[str, Any]:
    """Return the tenant page's own fields as they stand, with CHANGES."""
    return {
        "name": tenant.name,
        "allowed_origins": tenant.allowed_origins,
        "offer_timeout_seconds": tenant.offer_timeout_seconds,
        "away_after_missed_offer": "on" if tenant.away_after_missed_offer else "",
        "routing": tenant.routing,
        "supervision": tenant.supervision,
        "park_resume_minutes": tenant.park_resume_minutes or "",
        "park_expiry_hours": tenant.park_expiry_hours,
        "max_file_mb": "100",
        "conversation_quota_mb": "500",
        **changes,
    }


def log_in(client: Client, staff: Staff) -> None:
    assert client.login(username=staff.admin.user.get_username(), password=PASSWORD)


def test_ada_sees_the_limits_in_mb_where_the_readme_says(client: Client, acme: Staff) -> None:
    log_in(client, acme)
    page = client.get(tenant_url(acme.tenant)).content.decode()
    assert "Files in the chat" in page
    assert "Largest file (MB)" in page and "Files per conversation (MB)" in page
    assert 'name="max_file_mb" value="100"' in page
    assert 'name="conversation_quota_mb" value="500"' in page


def test_ada_sets_the_limits_in_mb_and_the_tenant_keeps_bytes(client: Client, acme: Staff) -> None:
    log_in(client, acme)
    url = tenant_url(acme.tenant)
    changed = settings_of(acme.tenant, max_file_mb="2.5", conversation_quota_mb="40")
    assert admin_post(client, url, changed).status_code == 302
    acme.tenant.refresh_from_db()
    assert acme.tenant.max_file_bytes == int(2.5 * MB)
    assert acme.tenant.conversation_quota_bytes == 40 * MB
    page = client.get(url).content.decode()
    assert 'name="max_file_mb" value="2.5"' in page


def test_the_uploads_follow_the_limit_ada_set(client: Client, acme: Staff) -> None:
    log_in(client, acme)
    changed = settings_of(acme.tenant, max_file_mb="1", conversation_quota_mb="3")
    assert admin_post(client, tenant_url(acme.tenant), changed).status_code == 302
    available(acme.agent)
    conversation = start(acme)
    device = accept(acme, conversation)
    conversation.refresh_from_db()
    with pytest.raises(ChatError) as refused:
        uploads.do_start_upload(conversation, device, 2 * MB + 16, 2)
    assert refused.value.code == "file_too_large"
    assert "limited to 1 MB" in str(refused.value.detail)
    uploads.do_start_upload(conversation, device, MB, 1)


@pytest.mark.parametrize(
    ("field", "given", "error"),
    [
        ("max_file_mb", "lots", "Enter a size in MB as a number, such as 100 or 2.5."),
        ("max_file_mb", "", "Enter a size in MB, such as 100."),
        ("max_file_mb", "0", "Enter at least 0.01 MB."),
        ("max_file_mb", "-5", "Enter at least 0.01 MB."),
        ("max_file_mb", "20000", "Enter at most 10240 MB."),
        ("max_file_mb", "1.255", "Enter at most 2 decimals, such as 2.5."),
        ("conversation_quota_mb", "1e9", "Enter at most 102400 MB."),
        (
            "max_file_mb",
            "600",
            "The largest file cannot be larger than the files per conversation (500 MB)",
        ),
    ],
)
def test_a_size_that_is_not_one_gets_a_sentence_and_changes_nothing(
    client: Client, acme: Staff, field: str, given: str, error: str
) -> None:
    log_in(client, acme)
    changed = settings_of(acme.tenant, name="Acme Inc.", **{field: given})
    response = admin_post(client, tenant_url(acme.tenant), changed)
    assert response.status_code == 200
    assert error in response.content.decode()
    acme.tenant.refresh_from_db()
    assert acme.tenant.name == "Acme"
    limits = (acme.tenant.max_file_bytes, acme.tenant.conversation_quota_bytes)
    assert limits == (100 * MB, 500 * MB)


def test_a_limit_left_as_shown_keeps_its_exact_bytes(client: Client, acme: Staff) -> None:
    # Set in bytes elsewhere (a shell, an older form): no whole number of MB.
    Tenant.objects.filter(pk=acme.tenant.pk).update(max_file_bytes=150 * MB + 5)
    acme.tenant.refresh_from_db()
    log_in(client, acme)
    url = tenant_url(acme.tenant)
    assert 'name="max_file_mb" value="150"' in client.get(url).content.decode()
    shown = settings_of(acme.tenant, name="Acme Inc.", max_file_mb="150")
    assert admin_post(client, url, shown).status_code == 302
    acme.tenant.refresh_from_db()
    assert (acme.tenant.name, acme.tenant.max_file_bytes) == ("Acme Inc.", 150 * MB + 5)


def test_outsider_oscar_can_neither_see_nor_set_acmes_limits(
    client: Client, acme: Staff, globex: Staff
) -> None:
    log_in(client, globex)
    url = tenant_url(acme.tenant)
    assert client.get(url).status_code == 404
    assert client.post(url, settings_of(acme.tenant, max_file_mb="1")).status_code == 404
    changed = settings_of(globex.tenant, max_file_mb="7")
    assert admin_post(client, tenant_url(globex.tenant), changed).status_code == 302
    acme.tenant.refresh_from_db()
    globex.tenant.refresh_from_db()
    assert (acme.tenant.max_file_bytes, globex.tenant.max_file_bytes) == (100 * MB, 7 * MB)
