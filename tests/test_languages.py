"""Languages (issue 13, part 1): under a German, French or Spanish browser, Acme's people read
Sealdesk's pages in their language: Alice (agent) her login page and dashboard, Ada (tenant
admin) the organisation and reports pages and the admin; Otto (Globex's agent, the outsider)
reads his own tenant's dashboard in German and nothing of Acme's. Every catalogue in locale/ is
complete, without fuzzy entries, keeps each placeholder, and compiles."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from agents.models import Agent
from tests.catalogues import build_widget
from tests.factories import PASSWORD, Staff

LOCALE = Path(settings.BASE_DIR) / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
PLURAL_FORMS = {
    "de": "nplurals=2; plural=(n != 1);",
    "fr": "nplurals=2; plural=(n > 1);",
    "es": "nplurals=2; plural=(n != 1);",
}


def logged_in(agent: Agent, language: str) -> Client:
    client = Client(headers={"accept-language": language})
    assert client.login(username=agent.user.get_username(), password=PASSWORD)
    return client


def page(client: Client, name: str) -> str:
    response = client.get(reverse(name))
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_login_page_speaks_the_browsers_language(db: None) -> None:
    for language, words in {
        "de": ["Anmelden", "Benutzername", "Passwort", "Bitten Sie Ihren Mandantenadmin"],
        "fr": ["Se connecter", "Nom d'utilisateur", "Mot de passe"],
        "es": ["Iniciar sesión", "Nombre de usuario", "Contraseña"],
        "en": ["Log in", "Username", "Ask your tenant admin"],
    }.items():
        html = Client(headers={"accept-language": f"{language},en;q=0.5"}).get("/accounts/login/")
        text = html.content.decode()
        assert f'<html lang="{language}" dir="ltr">' in text
        for word in words:
            assert word in text, (language, word)


def test_alices_dashboard_in_german_french_and_spanish(acme: Staff) -> None:
    for language, words in {
        "de": ["Angebote", "Offline-Nachrichten", "Ihre Gespräche durchsuchen", "Abmelden"],
        "fr": ["Propositions", "Messages hors ligne", "Se déconnecter"],
        "es": ["Ofertas", "Mensajes fuera de línea", "Cerrar sesión"],
    }.items():
        html = page(logged_in(acme.agent, language), "dashboard")
        assert f'<html lang="{language}"' in html
        # The dashboard's scripts load their strings from the catalogue the page names.
        assert f'data-catalogue-url="{reverse("json_catalogue")}"' in html
        for word in words:
            assert word in html, (language, word)
        assert "Offers</h2>" not in html


def test_presence_choices_and_role_are_translated(acme: Staff) -> None:
    html = page(logged_in(acme.agent, "de"), "dashboard")
    assert ">Verfügbar</button>" in html
    assert ">Abwesend</button>" in html
    assert "Alice · Agent" in html  # German keeps "Agent"
    html = page(logged_in(acme.admin, "es"), "dashboard")
    assert "Ada · Administrador del inquilino" in html


def test_organisation_and_reports_pages_in_german(acme: Staff) -> None:
    ada = logged_in(acme.admin, "de")
    organisation = page(ada, "organisation")
    assert "Organisationsschlüssel" in organisation
    assert "Geräte der Mitarbeiter" in organisation
    assert "für die Mitarbeiter von Acme sprechen" in organisation
    reports = page(ada, "reports")
    assert '<h1 id="reports-heading">Berichte</h1>' in reports
    assert "Jedes Team von Acme" in reports
    assert ">Von</label>" in reports
    assert ">Anzeigen</button>" in reports
    assert "Wartezeit, Median" in reports
    assert "Wartezeit (Median / 90 %)" in reports


def test_admin_in_german(acme: Staff) -> None:
    ada = logged_in(acme.admin, "de")
    index = ada.get("/admin/").content.decode()
    assert "Sealdesk-Verwaltung" in index
    assert "Mandanten, Teams und Agenten" in index
    tenant = ada.get(reverse("admin:agents_tenant_change", args=[acme.tenant.pk]))
    assert tenant.status_code == 200
    text = tenant.content.decode()
    assert "Geparkte Chats" in text
    assert "Wie lange ein Agent Zeit hat" in text
    assert "Das Widget einbetten" in text
    agents = ada.get(reverse("admin:agents_agent_changelist")).content.decode()
    assert "Links zum Festlegen des Passworts für die ausgewählten Agenten erstellen" in agents


def test_form_errors_in_german(acme: Staff) -> None:
    ada = logged_in(acme.admin, "de")
    response = ada.get(reverse("reports"), {"start": "2026-05-02", "end": "2026-05-01"})
    assert "Der erste Tag muss vor dem letzten liegen." in response.content.decode()


def test_outsider_reads_his_own_tenant_in_german_and_nothing_of_acmes(
    acme: Staff, globex: Staff
) -> None:
    otto = logged_in(globex.agent, "de")
    html = page(otto, "dashboard")
    assert "Globex" in html
    assert "Angebote" in html
    assert "Acme" not in html and "Alice" not in html
    refused = otto.get(reverse("reports"))
    assert refused.status_code == 403
    text = refused.content.decode()
    assert "Nicht erlaubt" in text
    assert "Acme" not in text
    catalogue = otto.get(reverse("json_catalogue")).json()
    assert "Acme" not in str(catalogue) and "Alice" not in str(catalogue)


# The catalogues, read as scripts/build-widget reads them for the widget.


def read_po(path: Path) -> list[dict[str, Any]]:
    """Return PATH's entries, its header first; an obsolete entry left in it fails the test."""
    assert "\n#~" not in path.read_text(encoding="utf-8"), f"{path}: an obsolete entry is left"
    entries: list[dict[str, Any]] = build_widget().read_po(path, header=True)
    return entries


def placeholders(text: str, python_format: bool) -> list[str]:
    """Return TEXT's placeholders, sorted: {name} (the browser's) and, in python-format
    strings, %(name)s and %s (Django's)."""
    found = re.findall(r"\{\w+\}", text)
    if python_format:
        found += re.findall(r"%(?:\(\w+\))?[sdfir]", text.replace("%%", ""))
    return sorted(found)


def test_there_are_catalogues_for_every_shipped_language() -> None:
    for language in PLURAL_FORMS:
        assert (LOCALE / language / "LC_MESSAGES" / "django.po") in CATALOGUES


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: "/".join(p.parts[-3::2]))
def test_catalogue_is_complete_and_keeps_placeholders(path: Path) -> None:
    language = path.parts[-3]
    header, *entries = read_po(path)
    flags = header.get("flags", set())
    assert header["msgid"] == "" and "fuzzy" not in flags, f"{path}: a fuzzy header"
    assert f"Language: {language}\n" in header["msgstr"][0]
    assert f"Plural-Forms: {PLURAL_FORMS[language]}\n" in header["msgstr"][0]
    assert entries, f"{path} has no entries"
    problems = []
    for entry in entries:
        where, msgid = f"{path}:{entry['line']}", entry["msgid"]
        python_format = "python-format" in entry.get("flags", set())
        wanted = placeholders(entry.get("msgid_plural") or msgid, python_format)
        forms = 2 if "msgid_plural" in entry else 1
        if "fuzzy" in entry.get("flags", set()):
            problems.append(f"{where}: fuzzy {msgid!r}")
        if len(entry.get("msgstr", [])) != forms:
            problems.append(f"{where}: {forms} form(s) wanted for {msgid!r}")
        for text in entry.get("msgstr", []):
            if not text:
                problems.append(f"{where}: untranslated {msgid!r}")
            elif placeholders(text, python_format) != wanted:
                problems.append(f"{where}: placeholders differ in {text!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: "/".join(p.parts[-3::2]))
def test_catalogue_compiles(path: Path, tmp_path: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "msgfmt is missing: scripts/install installs Debian's gettext"
    done = subprocess.run(
        [msgfmt, "--check", "-o", str(tmp_path / "out.mo"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
