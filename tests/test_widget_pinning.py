"""The widget as one bundled file at a versioned, immutable URL, pinned by Subresource Integrity:
served to any page, shown to each tenant's admin as the tag to paste, rebuilt to the same bytes
by anyone, and refused by the browser when the server serves other bytes under its pin."""

import base64
import gzip
import hashlib
import html
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from agents.models import Agent
from chat.widget_files import WidgetBuild, WidgetBuildError, current_widget, embed_snippet
from tests.browser import chromium, csp_violations, open_page
from tests.factories import PASSWORD, Staff
from tests.harness import ROOT
from tests.live import DaphneServer, DemoSite

BUILD_WIDGET = [sys.executable, str(ROOT / "scripts/build-widget")]
IMMUTABLE = "public, max-age=31536000, immutable"
# Put before the real bundle: had the browser run these bytes, the page would say so.
TAMPERED = b"window.sealdeskTampered = true;\n"


def build(widget_dir: Path, cwd: Path = ROOT, script: list[str] = BUILD_WIDGET) -> WidgetBuild:
    """Build the widget into WIDGET_DIR with scripts/build-widget and return the current build."""
    subprocess.run([*script, "--out", str(widget_dir)], cwd=cwd, check=True, capture_output=True)
    return current_widget(widget_dir)


def bundle_of(widget_dir: Path) -> bytes:
    """Return the bytes of the current build in WIDGET_DIR."""
    return (widget_dir / f"{current_widget(widget_dir).version}.js").read_bytes()


def sri(data: bytes) -> str:
    """Return DATA's integrity, computed here rather than by the code under test."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A widget dir with this checkout's build, made once for the module."""
    widget_dir = tmp_path_factory.mktemp("built") / "widget"
    build(widget_dir)
    return widget_dir


@pytest.fixture
def widget_dir(built: Path, tmp_path: Path, settings) -> Path:
    """This test's own copy of the build, which the app in this process serves."""
    copy = tmp_path / "widget"
    shutil.copytree(built, copy)
    settings.WIDGET_DIR = copy
    return copy


def login(client: Client, agent: Agent) -> Client:
    assert client.login(username=agent.user.get_username(), password=PASSWORD)
    return client


def admin_snippet(client: Client, staff: Staff) -> str:
    """Return the tag in the read-only field of STAFF's tenant page, as a person copies it."""
    page = client.get(reverse("admin:agents_tenant_change", args=[staff.tenant.pk]))
    assert page.status_code == 200
    found = re.search(r'<textarea id="embed-snippet"[^>]*readonly[^>]*>(.*?)</textarea>', page.text)
    assert found, "no read-only snippet on the tenant's page"
    return html.unescape(found.group(1))


# The view


def test_the_widget_is_served_at_its_version_to_any_page_to_keep_for_good(
    client: Client, widget_dir: Path
) -> None:
    current = current_widget()
    assert current.path == reverse("widget_file", args=[current.version])
    reply = client.get(current.path, headers={"origin": "https://www.acme.example"})
    assert reply.status_code == 200
    assert reply["Content-Type"] == "text/javascript"
    assert reply["Cache-Control"] == IMMUTABLE
    assert reply["Access-Control-Allow-Origin"] == "*"
    assert reply["X-Content-Type-Options"] == "nosniff"
    assert reply["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in reply
    # The snippet's integrity pins exactly these bytes, and the version is the start of their hash.
    assert sri(reply.content) == current.integrity
    assert hashlib.sha384(reply.content).hexdigest().startswith(current.version)

    zipped = client.get(current.path, headers={"accept-encoding": "gzip"})
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == reply.content
    assert len(zipped.content) < len(reply.content) / 2


def test_an_unknown_version_or_another_file_is_not_found(client: Client, widget_dir: Path) -> None:
    version = current_widget().version
    for path in (
        "/widget/0123456789abcdef/sealdesk-widget.js",  # well formed, never built
        f"/widget/{version.upper()}/sealdesk-widget.js",
        f"/widget/{version[:-1]}/sealdesk-widget.js",
        f"/widget/{version}/other.js",
        f"/widget/{version}/",
        "/widget/current/sealdesk-widget.js",
        "/widget/..%2f..%2fsecret_key/sealdesk-widget.js",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/widget/{version}/sealdesk-widget.js").status_code == 405


def test_an_earlier_build_stays_served_when_a_new_one_becomes_current(
    client: Client, widget_dir: Path
) -> None:
    """A tenant's snippet pins a version: a deploy with new sources must not break its page."""
    new = current_widget()
    earlier = b"/* an earlier build of the widget */\n"
    earlier_version = hashlib.sha384(earlier).hexdigest()[:16]
    (widget_dir / f"{earlier_version}.js").write_bytes(earlier)
    (widget_dir / "current").write_text(earlier_version)

    # Building the current sources keeps the earlier build and makes theirs current again.
    assert build(widget_dir) == new
    reply = client.get(f"/widget/{earlier_version}/sealdesk-widget.js")
    assert reply.status_code == 200 and reply.content == earlier
    assert reply["Cache-Control"] == IMMUTABLE
    assert client.get(new.path).status_code == 200


def test_no_current_build_or_one_that_is_not_what_its_version_names_is_an_error(
    tmp_path: Path, widget_dir: Path
) -> None:
    with pytest.raises(WidgetBuildError, match="run scripts/install"):
        current_widget(tmp_path / "nothing-built")
    version = current_widget().version
    (widget_dir / f"{version}.js").write_bytes(TAMPERED + bundle_of(widget_dir))
    with pytest.raises(WidgetBuildError, match="not the build its name says"):
        current_widget()


# The snippet in the admin


def test_ada_sees_her_tenants_snippet_pinned_to_the_current_build(
    client: Client, acme: Staff, widget_dir: Path
) -> None:
    login(client, acme.admin)
    current = current_widget()
    snippet = admin_snippet(client, acme)
    assert snippet == (
        f'<script type="module" src="http://testserver/widget/{current.version}/sealdesk-widget.js"'
        f' integrity="{current.integrity}" crossorigin="anonymous"'
        f' data-sealdesk-widget="{acme.tenant.widget_id}"></script>'
    )
    # The integrity is that of the bytes the app serves under the snippet's URL.
    assert sri(client.get(current.path).content) == current.integrity
    page = client.get(reverse("admin:agents_tenant_change", args=[acme.tenant.pk])).text
    assert 'data-copy="embed-snippet"' in page
    assert "/static/admin/sealdesk-copy.js" in page


def test_with_a_public_url_the_snippet_names_it_whatever_host_the_admin_used(
    client: Client, acme: Staff, widget_dir: Path, settings
) -> None:
    settings.PUBLIC_URL = "https://desk.example.com"
    login(client, acme.admin)
    src = re.search(r'src="([^"]+)"', admin_snippet(client, acme))
    assert src and src.group(1) == f"https://desk.example.com{current_widget().path}"


def test_outsider_oscar_sees_only_globexs_snippet_never_acmes(
    client: Client, acme: Staff, globex: Staff, widget_dir: Path
) -> None:
    login(client, globex.admin)
    acme_page = reverse("admin:agents_tenant_change", args=[acme.tenant.pk])
    assert client.get(acme_page).status_code == 404
    snippet = admin_snippet(client, globex)
    assert f'data-sealdesk-widget="{globex.tenant.widget_id}"' in snippet
    for url in (
        reverse("admin:agents_tenant_changelist"),
        reverse("admin:agents_tenant_change", args=[globex.tenant.pk]),
    ):
        assert acme.tenant.widget_id not in client.get(url).text, url


def test_without_a_build_the_tenant_page_says_how_to_make_one(
    client: Client, acme: Staff, tmp_path: Path, settings
) -> None:
    settings.WIDGET_DIR = tmp_path / "nothing-built"
    login(client, acme.admin)
    page = client.get(reverse("admin:agents_tenant_change", args=[acme.tenant.pk]))
    assert page.status_code == 200
    assert "run scripts/install" in page.text
    assert 'id="embed-snippet"' not in page.text


def test_the_demo_page_embeds_the_current_build_as_the_admin_shows_it(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with urllib.request.urlopen(f"{demo_site}/", timeout=10) as reply:  # noqa: S310 (loopback)
        page = reply.read().decode()
    attributes = {"data-sealdesk-widget": acme.tenant.widget_id}
    assert embed_snippet(daphne.url, attributes, current_widget()) in page
    assert "/static/widget/" not in page


# Reproducible builds


def test_building_twice_and_elsewhere_gives_the_same_bytes(tmp_path: Path) -> None:
    first = build(tmp_path / "first")
    second = build(tmp_path / "second")
    assert first == second
    data = bundle_of(tmp_path / "first")
    assert data == bundle_of(tmp_path / "second")
    # Another checkout at another path, built from another directory: still the same bytes.
    elsewhere = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(ROOT / "static", elsewhere / "static")
    shutil.copytree(ROOT / "scripts", elsewhere / "scripts")
    shutil.copytree(ROOT / "locale", elsewhere / "locale")  # its strings, which it pins
    (elsewhere / "node_modules").symlink_to(ROOT / "node_modules")
    script = [sys.executable, str(elsewhere / "scripts/build-widget")]
    assert build(tmp_path / "third", cwd=tmp_path, script=script) == first
    assert bundle_of(tmp_path / "third") == data
    # Nothing of the machine in it: no path, and plain ASCII (the same under any charset).
    assert str(ROOT).encode() not in data and str(tmp_path).encode() not in data
    assert data.isascii()


def test_the_bundle_is_one_file_that_imports_nothing_and_evaluates_no_strings(
    widget_dir: Path,
) -> None:
    data = bundle_of(widget_dir).decode()
    assert not re.search(r"\bfrom\s*[\"']|\bimport\s*[\"'(]|\bexport\s*[{*]", data)
    assert "eval(" not in data and "new Function" not in data
    assert "require(" not in data  # tweetnacl's Node fallback is compiled out
    assert "import.meta.url" in data  # how the widget finds its server


@pytest.mark.django_db(transaction=True)
def test_check_compares_the_local_build_with_what_a_server_serves(widget_dir: Path) -> None:
    current = current_widget()
    server = DaphneServer(env={"SEALDESK_WIDGET_DIR": str(widget_dir)})
    server.start()
    try:
        url = f"{server.url}{current.path}"
        same = subprocess.run(
            [*BUILD_WIDGET, "--check", url], capture_output=True, text=True, timeout=120
        )
        assert same.returncode == 0, same.stderr
        assert same.stdout.count(current.integrity) == 2  # built here, served there
        assert "match" in same.stdout

        tampered = TAMPERED + bundle_of(widget_dir)
        (widget_dir / f"{current.version}.js").write_bytes(tampered)
        other = subprocess.run(
            [*BUILD_WIDGET, "--check", url], capture_output=True, text=True, timeout=120
        )
        assert other.returncode == 1
        assert f"built here:   {current.integrity}" in other.stdout
        assert f"served there: {sri(tampered)}" in other.stdout
        assert "MISMATCH" in other.stderr
    finally:
        server.stop()


# In Chromium


@pytest.fixture
def widget_daphne(transactional_db: None, widget_dir: Path) -> Iterator[DaphneServer]:
    """A Daphne process serving this test's widget dir (its name keeps real password hashing)."""
    server = DaphneServer(env={"SEALDESK_WIDGET_DIR": str(widget_dir)})
    server.start()
    yield server
    server.stop()


@pytest.mark.browser
def test_the_tag_ada_copies_runs_the_widget_and_the_browser_refuses_other_bytes_under_it(
    acme: Staff, widget_daphne: DaphneServer, widget_dir: Path
) -> None:
    app = widget_daphne.url
    current = current_widget()
    site = DemoSite(app, acme.tenant.widget_id)  # Acme's page, under its strict policy
    acme.tenant.allowed_origins = site.origin
    acme.tenant.save()
    with chromium() as browser:
        # Ada copies the tag from her tenant's page with its Copy button.
        context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
        admin = context.new_page()
        admin.goto(f"{app}{reverse('admin:agents_tenant_change', args=[acme.tenant.pk])}")
        admin.get_by_label("Username").fill(acme.admin.user.get_username())
        admin.get_by_label("Password").fill(PASSWORD)
        admin.get_by_role("button", name="Log in").click()
        expect(admin.get_by_role("heading", name="Embedding the widget")).to_be_visible()
        admin.get_by_role("button", name="Copy").click()
        expect(admin.locator('[data-copy-status="embed-snippet"]')).to_have_text("Copied.")
        snippet = admin.evaluate("navigator.clipboard.readText()")
        attributes = {"data-sealdesk-widget": acme.tenant.widget_id}
        assert snippet == embed_snippet(app, attributes, current)

        # ... and puts it on Acme's page.
        site.command += ["--snippet", snippet]
        site.start()
        try:
            customer, problems = open_page(browser)
            customer.goto(site.origin)
            customer.locator("#sealdesk-widget").get_by_role("button", name="Chat with us").click()
            expect(customer.get_by_role("dialog", name="Chat with Acme")).to_be_visible()
            assert problems.errors == []
            assert csp_violations(customer) == []

            # The server now serves other bytes under the pinned URL: the browser refuses them.
            tampered = TAMPERED + bundle_of(widget_dir)
            (widget_dir / f"{current.version}.js").write_bytes(tampered)
            with urllib.request.urlopen(f"{app}{current.path}", timeout=10) as reply:  # noqa: S310
                assert reply.read() == tampered
            victim, victim_problems = open_page(browser)  # a fresh profile: nothing cached
            with victim.expect_console_message(lambda m: "integrity" in m.text) as refusal:
                victim.goto(site.origin)
            victim.wait_for_load_state("load")
            # Chromium names the URL and the digest of what it got: the tampered bytes'.
            assert current.path in refusal.value.text
            assert sri(tampered).removeprefix("sha384-") in refusal.value.text
            expect(victim.locator("#sealdesk-widget")).to_have_count(0)
            assert victim.evaluate("window.sealdeskTampered") is None
            assert any("integrity" in error for error in victim_problems.errors)
        finally:
            site.stop()
