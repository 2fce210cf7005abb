"""The admin's inline formsets as a browser submits them along with a page's own fields.

Other apps attach inlines to the core's admin pages (the Twilio app's, for one); a POST without
their management fields is refused. A plain module, like tests/twilio_api.py: shared by
test_admin.py and test_twilio.py without one test file importing another.
"""

import re
from html.parser import HTMLParser
from typing import Any

from django.test import Client

MANAGEMENT = re.compile(r"^(?P<prefix>.+)-(TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS$")


class _Fields(HTMLParser):
    """The named fields of a page with the values a browser would send unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        name = found.get("name")
        if tag == "input" and name:
            if found.get("type") not in ("checkbox", "radio") or "checked" in found:
                # A checked box with no value attribute is sent as "on", as browsers do.
                default = "on" if found.get("type") in ("checkbox", "radio") else ""
                self.values.append((name, found.get("value", default)))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in found:
            self.values.append((self._select, found.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = name
            self.values.append((name, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            name, text = self.values[-1]
            self.values[-1] = (name, text + data)


def inline_fields(client: Client, url: str) -> dict[str, Any]:
    """Return the fields of the inline formsets on the admin page at URL, as they stand."""
    parser = _Fields()
    parser.feed(client.get(url).content.decode())
    prefixes = {m["prefix"] for name, _ in parser.values if (m := MANAGEMENT.match(name))}
    fields: dict[str, Any] = {}
    for name, value in parser.values:
        if "__prefix__" in name or not any(name.startswith(f"{p}-") for p in prefixes):
            continue
        fields.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}


def page_fields(client: Client, url: str) -> dict[str, Any]:
    """Return every field of the admin page at URL as a browser would send it unchanged."""
    parser = _Fields()
    parser.feed(client.get(url).content.decode())
    fields: dict[str, Any] = {}
    for name, value in parser.values:
        if "__prefix__" not in name and name != "csrfmiddlewaretoken":
            fields.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}


def admin_post(client: Client, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """POST DATA to the admin page at URL with its inline formsets as they stand."""
    return client.post(url, {**inline_fields(client, url), **data}, **kwargs)
