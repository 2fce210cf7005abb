"""The customer widget as tenants' pages load it: one bundled file per version, pinned by its hash.

scripts/build-widget keeps each build as WIDGET_DIR/<version>.js, the version being the start of
the file's SHA-384 in hex, and names the newest in WIDGET_DIR/current. Every build kept there is
served at /widget/<version>/sealdesk-widget.js, cached for good: a tenant's snippet pins one
version by its integrity, and keeps loading it after an upgrade until the tenant pastes the new
one. A server that serves other bytes under it gets the widget refused by the browser
(docs/THREAT_MODEL.md, "The embedding page"); `scripts/build-widget --check URL` compares what
a server serves with what the sources build.

Beside the builds, WIDGET_DIR/i18n/<name>.json holds the widget's catalogues, one per language,
named by the start of their SHA-512 (scripts/build-widget): a build names the ones it loads,
and refuses other bytes, so these are served the same way, for good, to any page.
"""

import base64
import gzip
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import brotli
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_safe

# As scripts/build-widget names builds: the first 16 hex digits of the bundle's SHA-384.
VERSION_DIGITS = 16
VERSION = re.compile(rf"[0-9a-f]{{{VERSION_DIGITS}}}")
CATALOGUE = re.compile(r"[0-9a-f]{64}")


class WidgetBuildError(Exception):
    """There is no current widget build to embed, or it is not the one its version names."""


@dataclass(frozen=True)
class WidgetBuild:
    """One build of the widget: its version and the integrity that pins its bytes."""

    version: str
    integrity: str  # "sha384-<base64>", the snippet's integrity attribute

    @property
    def path(self) -> str:
        """Return the build's URL path on the app (contactcenter/urls.py, "widget_file")."""
        return f"/widget/{self.version}/sealdesk-widget.js"


def integrity_of(data: bytes) -> str:
    """Return the Subresource Integrity value of DATA."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def current_widget(widget_dir: Path | None = None) -> WidgetBuild:
    """Return the newest build in WIDGET_DIR, the one new snippets pin."""
    folder = widget_dir or settings.WIDGET_DIR
    try:
        version = (folder / "current").read_text().strip()
        data = (folder / f"{version}.js").read_bytes() if VERSION.fullmatch(version) else b""
    except FileNotFoundError:
        data = b""
    if not data:
        raise WidgetBuildError(f"No widget build in {folder}: run scripts/install")
    if hashlib.sha384(data).hexdigest()[:VERSION_DIGITS] != version:
        raise WidgetBuildError(f"{folder / version}.js is not the build its name says")
    return WidgetBuild(version, integrity_of(data))


def embed_snippet(app_url: str, attributes: Mapping[str, str], build: WidgetBuild) -> str:
    """Return the tag that embeds BUILD, served by the app at APP_URL, with the tenant's own
    ATTRIBUTES (its widget id) after the ones that pin the build."""
    pinned = {
        "type": "module",
        "src": f"{app_url.rstrip('/')}{build.path}",
        "integrity": build.integrity,
        "crossorigin": "anonymous",  # SRI needs a CORS request for a script of another origin
    }
    if pinned.keys() & attributes.keys():
        raise ValueError(f"{', '.join(pinned.keys() & attributes.keys())} pin the build")
    listed = [*pinned.items(), *attributes.items()]
    return str(format_html("<script{}></script>", format_html_join("", ' {}="{}"', listed)))


@lru_cache(maxsize=8)
def _compressed(data: bytes, encoding: str) -> bytes:
    """Return DATA compressed for ENCODING, once per build and process (builds never change)."""
    if encoding == "br":
        return bytes(brotli.compress(data))
    return gzip.compress(data, compresslevel=9, mtime=0)


@require_safe
def serve_widget(request: HttpRequest, version: str) -> HttpResponse:
    """Serve the widget build VERSION to any page, compressed when the browser accepts it."""
    path = settings.WIDGET_DIR / f"{version}.js"
    if not VERSION.fullmatch(version) or not path.is_file():
        raise Http404("There is no widget of this version.")
    return _immutable(request, path.read_bytes(), "text/javascript")


@require_safe
def serve_catalogue(request: HttpRequest, name: str) -> HttpResponse:
    """Serve the widget's catalogue NAME (one language's strings) to any page."""
    path = settings.WIDGET_DIR / "i18n" / f"{name}.json"
    if not CATALOGUE.fullmatch(name) or not path.is_file():
        raise Http404("There is no such catalogue.")
    return _immutable(request, path.read_bytes(), "application/json")


def _immutable(request: HttpRequest, data: bytes, content_type: str) -> HttpResponse:
    """Return DATA, which never changes under its name, compressed when the browser accepts it."""
    accepted = request.headers.get("Accept-Encoding", "")
    encoding = next((e for e in ("br", "gzip") if re.search(rf"\b{e}\b", accepted)), None)
    response = HttpResponse(
        _compressed(data, encoding) if encoding else data, content_type=content_type
    )
    if encoding:
        response["Content-Encoding"] = encoding
    response["Vary"] = "Accept-Encoding"
    # These bytes never change, so browsers and proxies may keep them for a year unasked.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    # Tenants' pages fetch it with crossorigin="anonymous", which SRI needs for another origin.
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["X-Content-Type-Options"] = "nosniff"
    return response
