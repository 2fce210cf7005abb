"""Widget size: what a tenant's page loads for the chat widget, gzipped with `gzip -9`.

The widget is plain ES modules without a bundler: its entry point imports the shared chat
modules, which import tweetnacl. This follows the relative imports from the entry point, so it
counts every module the widget can load. Run `scripts/install` first if static/vendor is missing.

    .venv/bin/python -m bench.widget_size
"""

import argparse
import re
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from bench.servers import PYTHON, Backend
from tests.harness import ROOT, Daphne

ENTRY = ROOT / "static/widget/sealdesk-widget.js"
# Relative specifiers in `import ... from "x"`, `export ... from "x"`, `import "x"`, `import("x")`.
IMPORT = re.compile(
    r"""(?:\b(?:import|export)\b[^;"']*?\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"']+)["']"""
)
TARGET_BYTES = 40_000  # "at most 40 KB gzipped", KB read as 1,000 bytes (the stricter reading)


def widget_modules() -> list[Path]:
    """Return every module the widget's entry point reaches through relative imports."""
    found = [ENTRY]
    for module in found:  # grows while it is walked; each file is added once
        for specifier in IMPORT.findall(module.read_text()):
            target = (module.parent / specifier).resolve()
            if not target.is_file():
                raise FileNotFoundError(f"{module} imports {specifier}: run scripts/install first")
            if target not in found:
                found.append(target)
    return found


def gzipped_size(path: Path) -> int:
    """Return the size of PATH compressed by `gzip -9` (without its name in the header)."""
    done = subprocess.run(  # noqa: S603 (a fixed command on our own files)
        ["gzip", "-9", "--no-name", "--stdout", str(path)],  # noqa: S607 (gzip from PATH)
        capture_output=True,
        check=True,
        timeout=60,
    )
    return len(done.stdout)


def served_sizes(modules: list[Path], collected: bool) -> list[tuple[int, str]]:
    """Return the bytes and Content-Encoding the app sends for each module to a client that
    accepts gzip and brotli; COLLECTED: after collectstatic, as scripts/run serves them."""
    with tempfile.TemporaryDirectory(prefix="sealdesk-bench-") as tmp:
        backend = Backend(Path(tmp) / "data")
        backend.reset()
        env = backend.env()
        if collected:  # as scripts/run serves them: collected, with compressed copies
            env["STATIC_ROOT"] = str(Path(tmp) / "static")
            subprocess.run(  # noqa: S603 (our own interpreter and arguments)
                [PYTHON, "manage.py", "collectstatic", "--no-input", "-v", "0"],
                cwd=ROOT,
                env=env,
                check=True,
            )
        sizes = []
        with Daphne("contactcenter.asgi:application", env, Path(tmp) / "log") as server:
            for module in modules:
                path = module.relative_to(ROOT / "static").as_posix()
                request = urllib.request.Request(  # noqa: S310 (our own loopback server)
                    f"{server.url}/static/{path}", headers={"Accept-Encoding": "gzip, br"}
                )
                with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
                    sizes.append((len(reply.read()), reply.headers.get("Content-Encoding", "none")))
        return sizes


def main() -> None:
    """Print each file's size and gzipped size, the totals, and the target."""
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
    try:
        modules = widget_modules()
    except FileNotFoundError as e:
        parser.exit(1, f"{e}\n")
    print("| file | bytes | gzip -9 bytes |")
    print("| --- | ---: | ---: |")
    raw_total = gzipped_total = 0
    for module in modules:
        name = module.relative_to(ROOT)
        raw = module.stat().st_size
        gzipped = gzipped_size(module)
        raw_total += raw
        gzipped_total += gzipped
        print(f"| {name} | {raw:,} | {gzipped:,} |")
    print(f"| **total** | **{raw_total:,}** | **{gzipped_total:,}** |")
    verdict = "met" if gzipped_total <= TARGET_BYTES else "missed"
    print(
        f"\ntarget: at most {TARGET_BYTES:,} bytes gzipped in total: {verdict} "
        f"({gzipped_total / 1000:.1f} KB, {gzipped_total / 1024:.1f} KiB)"
    )
    if args.served:
        for collected, how in (
            (True, "after collectstatic, as scripts/run serves them (STATIC_ROOT set)"),
            (False, "straight from static/ (STATIC_ROOT unset, as in the tests)"),
        ):
            print(f"\nServed {how}:\n")
            print("| file | bytes served | Content-Encoding |")
            print("| --- | ---: | --- |")
            sizes = served_sizes(modules, collected)
            for module, (size, encoding) in zip(modules, sizes, strict=True):
                print(f"| {module.relative_to(ROOT)} | {size:,} | {encoding} |")
            print(f"| **total** | **{sum(size for size, _ in sizes):,}** | |")


if __name__ == "__main__":
    main()
