"""Serve the demo customer page, a stand-in for a tenant's website on another origin.

    python scripts/demo_site.py --app http://127.0.0.1:8000 --widget-id wid_... --port 8001

The page carries a strict Content-Security-Policy, as a careful tenant's would: scripts and
sockets only from itself and the Sealdesk server, no inline code, no eval, no wasm. It embeds
the widget with the tag the tenant's admin page shows: the current build, pinned by its
integrity (chat/widget_files.py).
"""

import argparse
import http.server
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
sys.path.insert(0, str(ROOT))  # this checkout's app, whichever one the interpreter has installed

from chat.widget_files import current_widget, embed_snippet  # noqa: E402


def policy(app: str) -> str:
    """Return the demo page's Content-Security-Policy, allowing only itself and the app."""
    parts = urlsplit(app)
    socket = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {app}",
            "style-src 'self'",
            f"connect-src 'self' {app} {socket}",
            "img-src 'self' data: blob:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def snippet(app: str, widget_id: str, org_key: str | None = None) -> str:
    """Return the tag that embeds the tenant's widget, as its admin page shows it, pinning the
    organisation key ORG_KEY (its fingerprint) when given."""
    # Where the builds are: the app's own settings (SEALDESK_WIDGET_DIR) tell.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    attributes = {"data-sealdesk-widget": widget_id}
    if org_key:
        attributes["data-org-key"] = org_key
    return embed_snippet(app, attributes, current_widget())


def handler(app: str, widget_snippet: str) -> type[http.server.BaseHTTPRequestHandler]:
    """Return a handler that serves the demo page, embedding the widget with WIDGET_SNIPPET."""
    page = (DEMO / "index.html").read_text().replace("{{WIDGET_SNIPPET}}", widget_snippet)
    files = {"/": ("text/html; charset=utf-8", page.encode())}
    files["/demo.css"] = ("text/css", (DEMO / "demo.css").read_bytes())

    class DemoPage(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = files.get(self.path.split("?")[0])
            if found is None:
                self.send_error(404)
                return
            content_type, body = found
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", policy(app))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: the app's own log is the one to read

    return DemoPage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True, help="Sealdesk's URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--widget-id", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--snippet", help="the tag to embed the widget with (default: the current build's)"
    )
    parser.add_argument(
        "--org-key", help="the organisation key fingerprint the tag pins (data-org-key)"
    )
    args = parser.parse_args()
    app = args.app.rstrip("/")
    tag = args.snippet or snippet(app, args.widget_id, args.org_key)
    server = http.server.ThreadingHTTPServer((args.host, args.port), handler(app, tag))
    print(f"Demo customer page: http://{args.host}:{args.port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
