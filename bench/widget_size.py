"""Widget size: what a tenant's page loads for the chat widget, gzipped with `gzip -9`.

The widget is one bundled, minified file (scripts/build-widget, run by scripts/install): every
module it imports, tweetnacl included. This measures the current build in the widget dir, and
the catalogues it pins (one per language, fetched on demand: not part of the budget).

    .venv/bin/python -m bench.widget_size [--served]
"""

import argparse
import json
import os
import re
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from django.conf import settings

from bench.servers import Backend
from chat.widget_files import WidgetBuildError, current_widget
from tests.harness import Daphne

TARGET_BYTES = 40_000  # "at most 40 KB gzipped", KB read as 1,000 bytes (the stricter reading)


def gzipped_size(path: Path) -> int:
    """Return the size of PATH compressed by `gzip -9` (without its name in the header)."""
    done = subprocess.run(  # noqa: S603 (a fixed command on our own files)
        ["gzip", "-9", "--no-name", "--stdout", str(path)],  # noqa: S607 (gzip from PATH)
        capture_output=True,
        check=True,
        timeout=60,
    )
    return len(done.stdout)


def served_size(url_path: str, widget_dir: Path) -> tuple[int, str]:
    """Return the bytes and Content-Encoding the app sends for URL_PATH to a client that
    accepts gzip and brotli."""
    with tempfile.TemporaryDirectory(prefix="sealdesk-bench-") as tmp:
        backend = Backend(Path(tmp) / "data")
        backend.reset()
        env = {**backend.env(), "SEALDESK_WIDGET_DIR": str(widget_dir)}
        with Daphne("contactcenter.asgi:application", env, Path(tmp) / "log") as server:
            request = urllib.request.Request(  # noqa: S310 (our own loopback server)
                f"{server.url}{url_path}", headers={"Accept-Encoding": "gzip, br"}
            )
            with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
                return len(reply.read()), reply.headers.get("Content-Encoding", "none")


def catalogues_of(bundle: str) -> dict[str, str]:
    """Return the catalogues a bundle pins, by language (scripts/build-widget's
    SEALDESK_CATALOGUES, which esbuild writes into the bundle as an object literal)."""
    return dict(re.findall(r'"?([a-zA-Z]{2}(?:-[A-Z]{2})?)"?:"([0-9a-f]{64})"', bundle))


def main() -> None:
    """Print the bundle's size and gzipped size against the target."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--served",
        action="store_true",
        help="Also start the app (embedded default) and print what it sends a browser that "
        "accepts gzip and brotli.",
    )
    args = parser.parse_args()
    # The app's settings say where the builds are (SEALDESK_WIDGET_DIR).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    try:
        build = current_widget()
    except WidgetBuildError as e:
        parser.exit(1, f"{e}\n")
    path = settings.WIDGET_DIR / f"{build.version}.js"
    raw, gzipped = path.stat().st_size, gzipped_size(path)
    print("| file | bytes | gzip -9 bytes |")
    print("| --- | ---: | ---: |")
    print(f"| widget {build.version} ({path.name}) | {raw:,} | **{gzipped:,}** |")
    for language, name in catalogues_of(path.read_text(encoding="utf-8")).items():
        catalogue = settings.WIDGET_DIR / "i18n" / f"{name}.json"
        entries = len(json.loads(catalogue.read_bytes())["messages"])
        print(
            f"| {language} strings, on demand ({entries} entries) | "
            f"{catalogue.stat().st_size:,} | {gzipped_size(catalogue):,} |"
        )
    verdict = "met" if gzipped <= TARGET_BYTES else "missed"
    print(
        f"\ntarget: at most {TARGET_BYTES:,} bytes gzipped: {verdict} "
        f"({gzipped / 1000:.1f} KB, {gzipped / 1024:.1f} KiB)"
    )
    if args.served:
        size, encoding = served_size(build.path, settings.WIDGET_DIR)
        print(f"\nserved at {build.path}: {size:,} bytes, Content-Encoding {encoding}")


if __name__ == "__main__":
    main()
