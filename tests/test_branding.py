"""A tenant's look in the widget (agents/branding.py): Acme's admin Ada sets a brand colour, dark
enough for white text on it, the launcher's side, and her own greeting and labels per language,
which the widget's config then carries. Globex's admin Oscar, an outsider, cannot touch Acme's."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from agents.branding import contrast_ratio, validate_brand_color
from agents.models import WidgetText
from tests.admin_forms import admin_post
from tests.factories import PASSWORD, Staff

pytestmark = pytest.mark.django_db

TEXTS = "widget_texts"  # the inline formset's prefix: WidgetText.tenant's related name


def tenant_page(staff: Staff) -> str:
    return reverse("admin:agents_tenant_change", args=[staff.tenant.pk])


def tenant_fields(staff: Staff, **fields: object) -> dict[str, object]:
    """Return the tenant page's own fields as they stand, with FIELDS changed."""
    tenant = staff.tenant
    return {
        "name": tenant.name,
        "allowed_origins": tenant.allowed_origins,
        "offer_timeout_seconds": tenant.offer_timeout_seconds,
        "away_after_missed_offer": "on",
        "routing": tenant.routing,
        "supervision": tenant.supervision,
        "park_expiry_hours": tenant.park_expiry_hours,
        "max_file_mb": "100",
        "conversation_quota_mb": "500",
        "brand_color": tenant.brand_color,
        "launcher_position": tenant.launcher_position,
        **fields,
    }


def text_rows(*rows: dict[str, object], initial: int = 0) -> dict[str, object]:
    """Return the inline formset's fields for ROWS (the first INITIAL of them already stored)."""
    data: dict[str, object] = {
        f"{TEXTS}-TOTAL_FORMS": str(len(rows)),
        f"{TEXTS}-INITIAL_FORMS": str(initial),
    }
    for i, row in enumerate(rows):
        data.update({f"{TEXTS}-{i}-{key}": value for key, value in row.items()})
    return data


def config(client: Client, staff: Staff) -> dict[str, Any]:
    page = staff.tenant.allowed_origins
    response = client.get(f"/api/widget/{staff.tenant.widget_id}/config", headers={"origin": page})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_contrast_ratio_follows_wcag() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#1f5fbf", "#ffffff") == pytest.approx(6.09, abs=0.01)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    validate_brand_color("#1F5FBF")
    with pytest.raises(ValidationError, match="is not a colour such as #1f5fbf"):
        validate_brand_color("blue")
    with pytest.raises(ValidationError, match=r"contrast ratio of 4\.48:1"):
        validate_brand_color("#777777")


def test_a_too_light_brand_colour_is_refused_with_its_ratio_and_nothing_is_saved(
    client: Client, acme: Staff
) -> None:
    assert client.login(username="ada", password=PASSWORD)
    fields = tenant_fields(acme, name="Acme Inc.", brand_color="#ffcc00", launcher_position="left")
    response = admin_post(client, tenant_page(acme), fields)
    assert response.status_code == 200
    page = response.content.decode()
    assert "White text on #ffcc00 has a contrast ratio of 1.51:1" in page
    assert "at least 4.5:1" in page
    acme.tenant.refresh_from_db()
    assert (acme.tenant.name, acme.tenant.brand_color) == ("Acme", "#1f5fbf")
    assert acme.tenant.launcher_position == "right"


def test_the_widget_config_carries_the_brand_and_only_the_texts_given(
    client: Client, acme: Staff, globex: Staff
) -> None:
    assert client.login(username="ada", password=PASSWORD)
    greeting = "Hallo! Wie können wir helfen?"
    rows = text_rows(
        {"language": "de", "greeting": greeting, "name_label": "Ihr Name", "email_label": ""},
        {"language": "fr", "greeting": "  ", "question_label": ""},
    )
    fields = tenant_fields(acme, brand_color="#7a1f5c", launcher_position="left")
    response = admin_post(client, tenant_page(acme), {**fields, **rows})
    assert response.status_code == 302, response.content.decode()
    assert config(client, acme)["brand"] == {"color": "#7a1f5c", "position": "left"}
    # French is stored with nothing in it: the widget keeps its own French.
    assert config(client, acme)["texts"] == {"de": {"greeting": greeting, "name_label": "Ihr Name"}}
    assert WidgetText.objects.filter(tenant=acme.tenant).count() == 2
    # Globex's widget keeps Sealdesk's look and words.
    assert config(client, globex)["brand"] == {"color": "#1f5fbf", "position": "right"}
    assert config(client, globex)["texts"] == {}


def test_one_row_of_texts_per_language(client: Client, acme: Staff) -> None:
    assert client.login(username="ada", password=PASSWORD)
    rows = text_rows({"language": "de", "greeting": "Hallo"}, {"language": "de", "greeting": "Hi"})
    response = admin_post(client, tenant_page(acme), {**tenant_fields(acme), **rows})
    assert response.status_code == 200
    assert "Please correct the duplicate data for language" in response.content.decode()
    assert not WidgetText.objects.exists()


def test_outsider_tenant_admin_cannot_edit_another_tenants_texts(
    client: Client, acme: Staff, globex: Staff
) -> None:
    acme_de = WidgetText.objects.create(tenant=acme.tenant, language="de", greeting="Hallo")
    assert client.login(username="oscar", password=PASSWORD)
    # Acme's page is not found for Oscar, whatever he posts to it.
    hijack = text_rows({"id": acme_de.pk, "language": "de", "greeting": "Hijacked"}, initial=1)
    response = client.post(tenant_page(acme), {**tenant_fields(acme), **hijack})
    assert response.status_code == 404
    # On his own page, a row of Acme's is none of the page's rows: the formset passes over it
    # as over a row deleted meanwhile, and neither changes nor moves it.
    response = admin_post(client, tenant_page(globex), {**tenant_fields(globex), **hijack})
    assert response.status_code == 302
    acme_de.refresh_from_db()
    assert (acme_de.tenant, acme_de.greeting) == (acme.tenant, "Hallo")
    assert not WidgetText.objects.filter(tenant=globex.tenant).exists()
    assert config(client, acme)["texts"] == {"de": {"greeting": "Hallo"}}
