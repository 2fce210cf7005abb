"""Twilio TaskRouter mode under load: how soon chats become Tasks, how fast callbacks are answered.

Starts Daphne on a fresh database with a tenant in Twilio TaskRouter mode (made-up SIDs) whose
twilio SDK calls go to a local recording server (tests/twilio_api.py; Twilio cannot be reached
from here, and its own latency is not what is measured). Then:

1. CHATS customers start conversations through the widget API, CONCURRENCY at a time; each
   becomes a Task on the recording server: the time from the start's answer to the Task request
   arriving is Sealdesk's own delay (the API thread, after commit).
2. The same number of signed assignment callbacks, CONCURRENCY at a time, each offering a chat to
   an agent's Worker: Twilio waits at most 5 s for the answer.
3. As many signed `reservation.timeout` event callbacks, which withdraw those offers.

Prints the latencies. MB, ms as usual; run on an otherwise quiet machine.

    .venv/bin/python -m bench.twilio_callbacks --chats 300 --concurrency 20
"""

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.files_common import machine_line, wait_until_quiet
from bench.servers import Backend, percentile, process_cpu_seconds
from sealdesk_client import protocol
from tests.harness import Daphne
from tests.twilio_api import TwilioApi, sid, signed

ORIGIN = "https://shop.bench.example"
BUDGET_MS = 5000.0  # Twilio's wait for the assignment callback's answer


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def bounded(concurrency: int, jobs: list[Callable[[], Awaitable[float]]]) -> list[float]:
    """Run JOBS, CONCURRENCY at a time; return what each returned."""
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[float]]) -> float:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


def row(label: str, values: list[float]) -> str:
    return (
        f"| {label} | {len(values)} | {statistics.median(values):.1f} "
        f"| {percentile(values, 0.99):.1f} | {max(values):.1f} |"
    )


async def run(args: argparse.Namespace) -> None:
    api = TwilioApi()
    api.start()
    with tempfile.TemporaryDirectory(prefix="sealdesk-bench-") as tmp:
        backend = Backend(Path(tmp) / "data", args.database_url, args.redis_url)
        await asyncio.to_thread(backend.reset)
        seed = json.loads(
            await asyncio.to_thread(
                backend.seed,
                *("--agents", str(args.agents), "--chats-per-agent", "50"),
                *("--origin", ORIGIN, "--twilio"),
            )
        )
        twilio = seed["twilio"]
        env = {
            **backend.env(),
            "TWILIO_API_BASE_URL": api.url,
            f"TWILIO_ACCOUNT_TENANT_{twilio['account']}": twilio["tenant"],
            f"TWILIO_AUTH_TOKEN_{twilio['account']}": twilio["token"],
        }
        server = Daphne("contactcenter.asgi:application", env, Path(tmp) / "daphne.log")
        await asyncio.to_thread(server.start)
        busy = await asyncio.to_thread(wait_until_quiet)
        cpu_before = process_cpu_seconds(server.pid)
        try:
            async with aiohttp.ClientSession() as session:
                results = await measure(args, session, server.url, seed, twilio, api)
        finally:
            cpu = process_cpu_seconds(server.pid) - cpu_before
            await asyncio.to_thread(server.stop)
            api.stop()
    print(
        f"\n## Twilio TaskRouter mode: {args.chats} chats, {args.concurrency} requests at a time, "
        f"{backend.describe()}, one Daphne process\n\n{machine_line(busy)}\n"
    )
    print("| step | count | median ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, values in results.items():
        print(row(label, values))
    print(f"\nDaphne CPU over all three steps: {cpu:.2f} s")
    worst = max(results["assignment callback answered"])
    verdict = "met" if worst < BUDGET_MS else "missed"
    print(f"target: every assignment callback answered within Twilio's 5 s: {verdict}")


async def measure(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    url: str,
    seed: dict[str, Any],
    twilio: dict[str, Any],
    api: TwilioApi,
) -> dict[str, list[float]]:
    widget = seed["widget_id"]
    answered: dict[str, float] = {}  # conversation id -> when its start was answered

    async def start() -> float:
        keys = protocol.generate_device()
        body = {
            "team": seed["teams"][0],
            "device": {"sign_public": b64(keys.sign_public), "box_public": b64(keys.box_public)},
            "language": "en-GB",
        }
        began = time.monotonic()
        async with session.post(
            f"{url}/api/widget/{widget}/conversations", json=body, headers={"Origin": ORIGIN}
        ) as reply:
            if reply.status != 201:
                raise RuntimeError(f"start answered {reply.status}: {await reply.text()}")
            conversation = (await reply.json())["conversation"]["id"]
        answered[conversation] = time.monotonic()
        return (answered[conversation] - began) * 1000

    started = await bounded(args.concurrency, [start] * args.chats)
    tasks_path = f"/v1/Workspaces/{twilio['workspace']}/Tasks"
    calls = await asyncio.to_thread(api.wait_for, lambda c: c.path == tasks_path, args.chats, 120)
    task_of: dict[str, str] = {}
    created = []
    for call in calls:
        conversation = json.loads(call.form["Attributes"])["conversation"]
        task_of[conversation] = call.response["sid"]
        created.append((call.at - answered[conversation]) * 1000)
    await asyncio.sleep(1)  # let the API thread store the last Task SIDs

    workers = list(twilio["workers"].values())
    assignment_url = f"{url}/twilio/{widget}/assignment"
    events_url = f"{url}/twilio/{widget}/events"
    reservations: dict[str, tuple[str, str]] = {}

    async def post(target: str, params: dict[str, str], status: int) -> float:
        headers = {
            **signed(target, params, twilio["token"]),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        began = time.monotonic()
        async with session.post(target, data=urlencode(params), headers=headers) as reply:
            if reply.status != status:
                raise RuntimeError(f"{target} answered {reply.status}: {await reply.text()}")
            await reply.read()
        return (time.monotonic() - began) * 1000

    def assignment(n: int, conversation: str) -> Callable[[], Awaitable[float]]:
        reservation, worker = sid("WR"), workers[n % len(workers)]
        reservations[conversation] = (reservation, worker)
        attributes = {"conversation": conversation, "channel": "chat"}
        params = {
            "AccountSid": twilio["account"],
            "WorkspaceSid": twilio["workspace"],
            "WorkflowSid": twilio["workflow"],
            "TaskSid": task_of[conversation],
            "TaskAttributes": json.dumps(attributes),
            "ReservationSid": reservation,
            "WorkerSid": worker,
            "TaskAge": "1",
        }
        return lambda: post(assignment_url, params, 200)

    def timeout(conversation: str) -> Callable[[], Awaitable[float]]:
        reservation, worker = reservations[conversation]
        params = {
            "AccountSid": twilio["account"],
            "WorkspaceSid": twilio["workspace"],
            "EventType": "reservation.timeout",
            "TaskSid": task_of[conversation],
            "ReservationSid": reservation,
            "WorkerSid": worker,
            "Timestamp": str(int(time.time())),
        }
        return lambda: post(events_url, params, 204)

    conversations = list(task_of)
    assigned = await bounded(
        args.concurrency, [assignment(n, c) for n, c in enumerate(conversations)]
    )
    timed_out = await bounded(args.concurrency, [timeout(c) for c in conversations])
    return {
        "chat started (widget API)": started,
        "Task request arrived, after the start was answered": created,
        "assignment callback answered": assigned,
        "event callback (reservation.timeout) answered": timed_out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chats", type=int, default=300, help="Conversations (300).")
    parser.add_argument(
        "--concurrency", type=int, default=20, help="Requests in flight at once (20)."
    )
    parser.add_argument("--agents", type=int, default=20, help="Agents, each a Worker (20).")
    parser.add_argument(
        "--database-url", default="", help="Use this PostgreSQL (flushed) instead of SQLite."
    )
    parser.add_argument(
        "--redis-url", default="", help="Use this Redis instead of the in-memory channel layer."
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
