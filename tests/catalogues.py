"""The shipped translations, as tests look them up: a browser test finds the words a page must
show in locale/<language>/LC_MESSAGES/djangojs.po itself, read the way scripts/build-widget reads
it, so that it checks the catalogue in use rather than a second list of words."""

import importlib.machinery
import importlib.util
from functools import cache
from types import ModuleType

from tests.harness import ROOT


@cache
def build_widget() -> ModuleType:
    """Return scripts/build-widget as a module (it has no .py suffix: it is a command)."""
    loader = importlib.machinery.SourceFileLoader(
        "build_widget", str(ROOT / "scripts/build-widget")
    )
    spec = importlib.util.spec_from_loader("build_widget", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@cache
def browser_strings(language: str) -> dict[str, str]:
    """Return LANGUAGE's translations of the browser code's strings (plurals left out)."""
    entries = build_widget().read_po(ROOT / f"locale/{language}/LC_MESSAGES/djangojs.po")
    return {e["msgid"]: e["msgstr"][0] for e in entries if "msgid_plural" not in e}


def de(msgid: str, **values: str) -> str:
    """Return the German of MSGID, which must be translated, with its placeholders filled."""
    text = browser_strings("de")[msgid]
    assert text, f"not translated: {msgid}"
    for key, value in values.items():
        text = text.replace(f"{{{key}}}", value)
    return text
