"""Dashboard history: from reloading the agent's dashboard to a long conversation shown decrypted.

Starts Daphne on a fresh SQLite database, logs an agent into the dashboard in Debian's Chromium
(the dashboard makes its device and keeps the keys in IndexedDB), accepts a Python customer's
conversation there, lets the customer send the messages, then reloads the page and times until
every message is shown, verified and decrypted. Prints the figures.

    .venv/bin/python -m bench.history_browser --messages 1000 --repeats 5
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright

from bench.servers import Backend, print_v8_profile, wait_for_quiet_machine
from sealdesk_client.client import Customer
from tests.harness import CHROMIUM, Daphne

ORIGIN = "https://shop.bench.example"
PRECHAT = {"name": "Hilda History", "email": "hilda@example.org", "question": "Order 1234?"}
TARGET_SECONDS = 0.5
LIVE_TIMEOUT_MS = 300_000  # the live dashboard re-renders the whole list on every message
RELOAD_TIMEOUT_MS = 120_000
# Returns the page's clock (ms since this document's navigation began) once N messages show.
ALL_SHOWN = "n => document.querySelectorAll('#messages .message').length >= n && performance.now()"


def log(text: str) -> None:
    """Print progress to stderr, keeping stdout for the figures."""
    print(text, file=sys.stderr, flush=True)


async def log_in(page: Page, url: str, username: str, password: str) -> None:
    """Log the agent into the dashboard and make it available for offers."""
    await page.goto(f"{url}/accounts/login/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_function(
        "() => document.querySelector('#connection').dataset.state === 'open'"
    )
    await page.get_by_role("button", name="Available").click()
    await page.wait_for_selector("button[value=available][aria-pressed=true]")


async def fill_history(page: Page, url: str, seed: dict[str, Any], messages: int) -> None:
    """Start a conversation, accept it in the dashboard, and send MESSAGES messages in all."""
    customer = Customer(url, seed["widget_id"], ORIGIN)
    try:
        await customer.start(seed["teams"][0], PRECHAT)  # the pre-chat form is message 1
        await page.locator("#offers li").get_by_role("button", name="Accept").click()
        await page.wait_for_function(ALL_SHOWN, arg=1)
        began = time.monotonic()
        for n in range(2, messages + 1):
            await customer.send_text(f"Message {n}: the parcel was sent on Monday, tracking 4711.")
        log(f"the customer sent {messages - 1} messages in {time.monotonic() - began:.1f} s")
        await page.wait_for_function(ALL_SHOWN, arg=messages, timeout=LIVE_TIMEOUT_MS)
        log(f"the live dashboard showed them all after {time.monotonic() - began:.1f} s")
    finally:
        await customer.close()


async def timed_reload(page: Page, messages: int) -> tuple[float, float]:
    """Reload; return seconds until all shown as seen from here, and from the page's own clock."""
    if not await wait_for_quiet_machine():
        log("the machine stayed busy; measuring anyway")
    began = time.perf_counter()
    await page.reload()
    shown = await page.wait_for_function(
        ALL_SHOWN, arg=messages, polling=5, timeout=RELOAD_TIMEOUT_MS
    )
    elapsed = time.perf_counter() - began
    in_page_ms: float = await shown.json_value()
    shown_count = await page.locator("#messages .message").count()
    warnings = await page.locator("#messages .warning").count()
    if shown_count != messages or warnings:
        raise RuntimeError(f"{shown_count} messages and {warnings} warnings shown")
    return elapsed, in_page_ms / 1000


async def profiled_reload(page: Page, messages: int, output: Path, top: int) -> None:
    """Reload once under V8's sampling profiler; save the profile, print the costliest functions."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Profiler.enable")
    await cdp.send("Profiler.setSamplingInterval", {"interval": 200})  # microseconds
    await cdp.send("Profiler.start")
    await timed_reload(page, messages)
    profile = (await cdp.send("Profiler.stop"))["profile"]
    await asyncio.to_thread(output.write_text, json.dumps(profile))
    print_v8_profile(profile, f"one reload, saved to {output}", top)


TIMELINE = """() => [
  ...performance.getEntriesByType('navigation').map(e => [e.responseEnd, 'document received']),
  ...performance.getEntriesByType('resource').map(e => [
    e.responseEnd,
    `${e.name.replace(location.origin, '')} (${e.initiatorType}, at ${Math.round(e.startTime)})`,
  ]),
  ...performance.getEntriesByType('mark').map(e => [e.startTime, `mark ${e.name}`]),
]"""


# Marks each socket frame on the page's clock, so that they line up with files and drawing.
MARK_FRAMES = """(() => {
  const mark = (direction, data) => {
    let type = "?";
    try { type = JSON.parse(data).type; } catch {}
    performance.mark(`socket ${direction} ${type} (${data.length.toLocaleString("en")} bytes)`);
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) { mark("sent", data); return send.call(this, data); };
  const listen = WebSocket.prototype.addEventListener;
  WebSocket.prototype.addEventListener = function (type, handler, ...rest) {
    if (type !== "message") return listen.call(this, type, handler, ...rest);
    const marked = (event) => { mark("received", event.data); handler(event); };
    return listen.call(this, type, marked, ...rest);
  };
})()"""


async def timeline_reload(page: Page, messages: int) -> None:
    """Reload once; print when each file, socket frame and page mark arrived (page clock, ms)."""
    await page.add_init_script(MARK_FRAMES)
    await timed_reload(page, messages)
    shown = await page.evaluate("performance.now()")
    entries = [(at, what) for at, what in await page.evaluate(TIMELINE)]
    print("\nTimeline of one reload (ms since its navigation began, by the page's clock):")
    for at, what in sorted([*entries, (shown, "all messages shown (+ up to 5 ms polling)")]):
        print(f"{at:8.1f}  {what}")


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="sealdesk-bench-") as tmp:
        backend = Backend(Path(tmp) / "data")
        await asyncio.to_thread(backend.reset)
        seed = json.loads(
            await asyncio.to_thread(
                backend.seed, "--agents", "1", "--chats-per-agent", "1", "--origin", ORIGIN
            )
        )
        server = Daphne("contactcenter.asgi:application", backend.env(), Path(tmp) / "daphne.log")
        await asyncio.to_thread(server.start)
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(**CHROMIUM)
                page = await (await browser.new_context()).new_page()
                await log_in(page, server.url, seed["agents"][0], seed["password"])
                await fill_history(page, server.url, seed, args.messages)
                await timed_reload(page, args.messages)  # warms the HTTP cache, as for an agent
                times = [await timed_reload(page, args.messages) for _ in range(args.repeats)]
                print(
                    f"Chromium {browser.version}; {args.messages} messages; {args.repeats} reloads"
                )
                print("| measured from | median s | min s | max s |")
                print("| --- | ---: | ---: | ---: |")
                for label, values in (
                    ("page.reload() call (Playwright)", [t[0] for t in times]),
                    ("navigation start (page clock)", [t[1] for t in times]),
                ):
                    print(
                        f"| {label} | {statistics.median(values):.3f} "
                        f"| {min(values):.3f} | {max(values):.3f} |"
                    )
                median = statistics.median(t[0] for t in times)
                verdict = "met" if median < TARGET_SECONDS else "missed"
                print(f"\ntarget: all shown decrypted in under {TARGET_SECONDS} s: {verdict}")
                if args.timeline:
                    await timeline_reload(page, args.messages)
                if args.profile is not None:
                    await profiled_reload(page, args.messages, args.profile, args.top)
                await browser.close()
        finally:
            await asyncio.to_thread(server.stop)


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=1000,
        help="Messages in the conversation, the pre-chat form included (default 1000).",
    )
    parser.add_argument("--repeats", type=int, default=5, help="Timed reloads (default 5).")
    parser.add_argument(
        "--profile",
        type=Path,
        help="Also record one reload with V8's profiler into this .cpuprofile file and print "
        "the functions that took most of it.",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="Also print when each file, socket frame and page mark of one reload arrived.",
    )
    parser.add_argument("--top", type=int, default=20, help="Functions the profile lists (20).")
    args = parser.parse_args()
    if args.messages < 1 or args.repeats < 1:
        parser.error("--messages and --repeats must be at least 1")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
