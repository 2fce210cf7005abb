"""Encrypted files in Chromium: FileEncryptor and FileDecryptor throughput of protocol.js.

Serves static/ from a tiny HTTP server on 127.0.0.1 with one extra page that imports
sealdesk/protocol.js as an ES module, opens it in Debian's Chromium (never a downloaded
browser), makes random data in the page (crypto.getRandomValues, 64 KiB at a time) in 1 MiB
chunks, and times FileEncryptor.encrypt and FileDecryptor.decrypt over all of it with each key
backend (useBackend("webcrypto") and useBackend("tweetnacl"): the chunks are sealed by tweetnacl
either way; the backend picks the SHA-512 of each part). Also times the ingredients alone.
Run `scripts/install` first if static/vendor is missing. MB are 1,000,000 bytes. Prints the figures.

    .venv/bin/python -m bench.files_browser --size-mib 100 --repeats 3
"""

import argparse
import asyncio
import statistics
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from playwright.async_api import Page, async_playwright

from bench.files_common import log, machine_line, wait_until_quiet
from bench.servers import print_v8_profile
from tests.harness import CHROMIUM, ROOT

STATIC = ROOT / "static"
MB = 1_000_000
TARGET_MB_S = 50.0
BACKENDS = ("webcrypto", "tweetnacl")
WARMUP_CHUNKS = 8
ROUND_TIMEOUT = 300.0  # seconds for one timed step over all the data
PAGE_PATH = "/files-bench.html"
PAGE = b"""<!doctype html>
<meta charset="utf-8">
<title>Sealdesk file encryption benchmark</title>
<script type="module">
import * as protocol from "/sealdesk/protocol.js";
import nacl from "/vendor/tweetnacl/nacl-fast.mjs";
window.bench = { protocol, nacl };
window.benchReady = true;
</script>
"""

# Each returns the milliseconds the timed part took, from the page's clock.
GENERATE = """async (count) => {
  const size = window.bench.protocol.CHUNK_SIZE;
  const began = performance.now();
  window.chunks = [];
  for (let i = 0; i < count; i++) {
    const chunk = new Uint8Array(size);
    // getRandomValues fills at most 65,536 bytes a call.
    for (let at = 0; at < size; at += 65536) crypto.getRandomValues(chunk.subarray(at, at + 65536));
    window.chunks.push(chunk);
  }
  return performance.now() - began;
}"""
ENCRYPT = """async ([backend, count]) => {
  const { protocol } = window.bench;
  protocol.useBackend(backend);
  const chunks = window.chunks.slice(0, count);
  const encryptor = new protocol.FileEncryptor(count * protocol.CHUNK_SIZE);
  const parts = [];
  const began = performance.now();
  for (let i = 0; i < chunks.length; i++) parts.push(await encryptor.encrypt(i, chunks[i]));
  await encryptor.hash();
  const ms = performance.now() - began;
  window.parts = parts;
  window.encryptor = encryptor;
  window.announcement = await encryptor.announcement("bench", "bench.bin", "application/x-bench");
  return ms;
}"""
DECRYPT = """async ([backend]) => {
  const { protocol } = window.bench;
  protocol.useBackend(backend);
  const parts = window.parts;
  const decryptor = new protocol.FileDecryptor(window.announcement);
  const began = performance.now();
  let bytes = 0;
  for (let i = 0; i < parts.length; i++) bytes += (await decryptor.decrypt(i, parts[i])).length;
  await decryptor.finish();
  const ms = performance.now() - began;
  if (bytes !== parts.length * protocol.CHUNK_SIZE) throw new Error(`decrypted ${bytes} bytes`);
  return ms;
}"""
# The ingredients alone, over the same chunks and parts.
INGREDIENTS = """async () => {
  const { nacl, protocol } = window.bench;
  const { chunks, parts, encryptor } = window;
  const key = encryptor.key;
  const last = parts.length - 1;
  const nonces = parts.map((_, i) => protocol.fileNonce(encryptor.prefix, i, i === last));
  const fail = (what) => {
    throw new Error(what);
  };
  const time = async (step) => {
    const began = performance.now();
    await step();
    return performance.now() - began;
  };
  return {
    "tweetnacl secretbox alone": await time(() =>
      chunks.forEach((c, i) => nacl.secretbox(c, nonces[i], key))),
    "tweetnacl secretbox.open alone": await time(() =>
      parts.forEach((p, i) => nacl.secretbox.open(p, nonces[i], key) ?? fail("open"))),
    "WebCrypto SHA-512 of each part alone": await time(async () => {
      for (const p of parts) await crypto.subtle.digest("SHA-512", p);
    }),
    "tweetnacl SHA-512 (nacl.hash) of each part alone": await time(() =>
      parts.forEach((p) => nacl.hash(p))),
  };
}"""


class StaticHandler(SimpleHTTPRequestHandler):
    """Serves static/ and the benchmark page, with JavaScript's MIME type for modules."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def do_GET(self) -> None:
        """Answer the benchmark page from memory and everything else from static/."""
        if self.path != PAGE_PATH:
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the request log quiet."""


@contextmanager
def static_server() -> Iterator[str]:
    """Serve static/ on a free loopback port in a thread; yield the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(StaticHandler, directory=str(STATIC)))
    thread = threading.Thread(target=server.serve_forever, name="static", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def evaluate(page: Page, script: str, arg: Any = None) -> Any:
    """Evaluate SCRIPT in the page with ARG, within ROUND_TIMEOUT seconds."""
    return await asyncio.wait_for(page.evaluate(script, arg), ROUND_TIMEOUT)


async def profiled_encrypt(page: Page, backend: str, chunks: int, top: int) -> None:
    """Encrypt once under V8's sampling profiler; print the functions that took most of it."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Profiler.enable")
    await cdp.send("Profiler.setSamplingInterval", {"interval": 200})  # microseconds
    await cdp.send("Profiler.start")
    await evaluate(page, ENCRYPT, [backend, chunks])
    profile = (await cdp.send("Profiler.stop"))["profile"]
    print_v8_profile(profile, f"one FileEncryptor round ({backend})", top)


def rates_row(label: str, size: int, milliseconds: list[float]) -> str:
    """Return a table row of median, best and worst MB/s over the timed rounds."""
    rates = [size / MB / (ms / 1000) for ms in milliseconds]
    return f"| {label} | {statistics.median(rates):.1f} | {max(rates):.1f} | {min(rates):.1f} |"


async def run(args: argparse.Namespace) -> None:
    """Open the page in Chromium and time each step with each backend."""
    size = args.size_mib * 1024 * 1024
    with static_server() as base:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**CHROMIUM)
            try:
                page = await (await browser.new_context()).new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                await page.goto(f"{base}{PAGE_PATH}")
                await page.wait_for_function("() => window.benchReady === true", timeout=30_000)
                log(f"generating {args.size_mib} MiB in the page")
                generated = await evaluate(page, GENERATE, args.size_mib)
                log(f"generated in {generated:.0f} ms")
                busy = await asyncio.to_thread(wait_until_quiet)
                rows: list[str] = []
                encrypt_medians: dict[str, float] = {}
                for backend in BACKENDS:
                    # A short round first, so that the timed ones run optimised code.
                    await evaluate(page, ENCRYPT, [backend, WARMUP_CHUNKS])
                    await evaluate(page, DECRYPT, [backend])
                    encrypt_ms: list[float] = []
                    decrypt_ms: list[float] = []
                    for n in range(args.repeats):
                        log(f"{backend}: round {n + 1} of {args.repeats}")
                        encrypt_ms.append(await evaluate(page, ENCRYPT, [backend, args.size_mib]))
                        decrypt_ms.append(await evaluate(page, DECRYPT, [backend]))
                    rows.append(
                        rates_row(f"FileEncryptor.encrypt + hash(), {backend}", size, encrypt_ms)
                    )
                    rows.append(
                        rates_row(f"FileDecryptor.decrypt + finish(), {backend}", size, decrypt_ms)
                    )
                    encrypt_medians[backend] = statistics.median(
                        size / MB / (ms / 1000) for ms in encrypt_ms
                    )
                ingredients: list[dict[str, float]] = [
                    await evaluate(page, INGREDIENTS) for _ in range(args.repeats)
                ]
                for name in ingredients[0]:
                    rows.append(rates_row(name, size, [r[name] for r in ingredients]))
                if errors:
                    raise RuntimeError(f"the page threw: {errors}")
                print(
                    f"\n## Chromium {browser.version}: {args.size_mib} MiB ({size / MB:.1f} MB) "
                    f"of random data in 1 MiB chunks, {args.repeats} timed round(s) after a "
                    f"{WARMUP_CHUNKS} MiB warm-up, one page, one tab\n\n{machine_line(busy)}\n"
                )
                print("| step | median MB/s | best MB/s | worst MB/s |")
                print("| --- | ---: | ---: | ---: |")
                print("\n".join(rows))
                print()
                for backend, rate in encrypt_medians.items():
                    verdict = "met" if rate >= TARGET_MB_S else "missed"
                    print(
                        f"target: at least {TARGET_MB_S:.0f} MB/s encryption in Chromium "
                        f"({backend}): {rate:.1f} MB/s: {verdict}"
                    )
                if args.profile:
                    await profiled_encrypt(page, args.profile, args.size_mib, args.top)
            finally:
                await browser.close()


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size-mib", type=int, default=100, help="Data in MiB, 16 to 512 (default 100)."
    )
    parser.add_argument("--repeats", type=int, default=3, help="Timed rounds (default 3).")
    parser.add_argument(
        "--profile",
        choices=BACKENDS,
        help="Also encrypt once more under V8's profiler with this backend and print the "
        "functions that took most of it.",
    )
    parser.add_argument("--top", type=int, default=15, help="Functions the profile lists (15).")
    args = parser.parse_args()
    if not 16 <= args.size_mib <= 512:
        parser.error("--size-mib must be between 16 and 512")
    if not 1 <= args.repeats <= 10:
        parser.error("--repeats must be between 1 and 10")
    if not (STATIC / "vendor/tweetnacl/nacl-fast.mjs").is_file():
        parser.error("static/vendor is missing: run scripts/install first")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
