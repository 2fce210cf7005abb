"""Idle sockets: the memory one Daphne process of the app needs per open, idle websocket.

Issue 14's target is 5,000 idle sockets on one Daphne process in under 1 GiB. For each size N,
on a fresh database (SQLite and the in-memory channel layer, or the PostgreSQL and Redis given)
and a fresh server, this benchmark:

1. creates the tenant (bench/seed_tenant.py: A agents in every team) and N - A conversations
   waiting in its teams' queues (bench/seed_waiting.py), before the server starts;
2. starts one Daphne process of contactcenter.asgi:application, and warms it up with one widget
   socket and one agent's login and dashboard, opened and closed, so that the code Django and
   Channels import on first use, and the sweeper, are in the baseline, not in the growth;
3. waits until the server is idle and reads its memory: RSS (VmRSS in /proc/PID/status), and
   PSS and USS (private pages) from /proc/PID/smaps_rollup;
4. opens the sockets and keeps them open: A agent dashboards (sealdesk_client's AgentClient: log
   in through the form, register the browser's keys, open /ws/agent/) and N - A customer
   widgets, each a raw aiohttp websocket to /ws/widget/<id>/ from the shop's origin that sends
   `auth` with its conversation's id and token, then `sync`, as the widget does on connecting
   (sealdesk_client.client.Customer.connect). Each is a socket the server accepted and
   authenticated, whose consumer holds its conversation, and which is in the conversation's
   channel group and its team's queue group, since the conversation waits;
5. waits until the server is idle again, keeps the sockets idle for --idle seconds (a round of
   Daphne's pings, every 20 s), and reads the memory again: growth / N is the cost per socket;
6. checks that every socket hears broadcasts: one agent steps away, which changes every team's
   wait estimate, so every waiting customer is sent its place (a `queue` frame); every agent is
   sent its presence (a `presence` frame). Then reads the memory after that broadcast, closes
   every socket, and reads it once more. "Under 1 GiB" holds when the RSS with the sockets open
   stays under it both before and after that broadcast.

Why the conversations are seeded rather than started through the widget's HTTP API: each start
tells every customer already waiting in the team its new place, so N starts cost about N*N
queue frames. Measured through sealdesk_client's Customer.start (the POST, the socket, the first
epoch and the pre-chat form; 10 at a time, 10 teams, on a shared two-core machine): 300 in 17 s,
1,000 in 80 s, slowing as the queues grow, so 5,000 would take more than seven minutes.
bench/seed_waiting.py starts them with the server's own action, without those broadcasts, before
anyone is connected; the sockets then go through the server's real handshake, origin check,
token check and group joins.

With --echo, the same number of idle sockets is first opened on a bare Channels echo consumer
(bench/echo_asgi.py: Daphne, Channels, no database, no channel layer): the floor per socket that
Daphne and a consumer cost without the app. With --profile, py-spy records where the idle server
spends its CPU with the sockets open. Prints a Markdown table, one row per measurement;
progress goes to stderr.

    .venv/bin/python -m bench.idle_sockets --sockets 5000
    .venv/bin/python -m bench.idle_sockets --sockets 1000 5000 --echo
"""

import argparse
import asyncio
import itertools
import json
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bench.chat_load import py_spy
from bench.servers import PYTHON, Backend, process_cpu_seconds
from sealdesk_client import frames
from sealdesk_client.client import AgentClient
from tests.harness import ROOT, Daphne

ORIGIN = "https://shop.bench.example"
TARGET = 1024**3  # issue 14: under 1 GiB
SETUP_TIMEOUT = 600.0
REPLY_TIMEOUT = 60.0  # for one reply while thousands of sockets open
HEAR_TIMEOUT = 120.0  # for every socket to hear the broadcast
SETTLE_TIMEOUT = 300.0
SETTLED_CPU = 0.05  # a server using less of a core than this is idle
# A server whose use stays this steady for SETTLE_SAMPLES seconds is idle too: with thousands of
# conversations waiting, the sweeper's work each second does not go away.
SETTLED_SPREAD = 0.03
SETTLE_SAMPLES = 5
IDLE_CPU_WINDOW = 10.0  # seconds over which an idle server's CPU use is measured
FDS_SPARE = 1000  # file descriptors besides the sockets: the log, the database, aiohttp, ...
KIB, MIB = 1024, 1024**2
T = TypeVar("T")


def log(text: str) -> None:
    """Print progress to stderr, keeping stdout for the table."""
    print(text, file=sys.stderr, flush=True)


async def within(seconds: float, step: Awaitable[T]) -> T:
    """Await STEP, raising TimeoutError after SECONDS."""
    async with asyncio.timeout(seconds):
        return await step


# The server's memory and CPU.


@dataclass(frozen=True)
class Memory:
    """A process's memory in bytes: resident, proportional, private (USS), and its peak RSS."""

    rss: int
    pss: int | None
    uss: int | None
    peak: int

    def describe(self) -> str:
        extra = "" if self.pss is None else f", PSS {mib(self.pss)}, USS {mib(self.uss)}"
        return f"RSS {mib(self.rss)} MiB{extra}"


def kib_fields(path: Path) -> dict[str, int]:
    """Return the "Name:   123 kB" lines of a /proc file, in bytes."""
    found: dict[str, int] = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            found[name] = int(parts[0]) * KIB
    return found


def memory_of(pid: int) -> Memory:
    """Return the memory of process PID, from /proc."""
    status = kib_fields(Path(f"/proc/{pid}/status"))
    rollup_path = Path(f"/proc/{pid}/smaps_rollup")
    rollup = kib_fields(rollup_path) if rollup_path.exists() else {}
    private = None
    if "Private_Clean" in rollup:
        private = rollup["Private_Clean"] + rollup["Private_Dirty"]
    return Memory(status["VmRSS"], rollup.get("Pss"), private, status["VmHWM"])


def mib(size: int | None) -> str:
    return "n/a" if size is None else f"{size / MIB:.0f}"


async def settle(pid: int) -> None:
    """Wait, a bounded time, until the server's CPU use is low or steady: the work the last step
    left it is done. Measures anyway after SETTLE_TIMEOUT."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    shares: list[float] = []
    while time.monotonic() < deadline:
        shares.append(await cpu_share(pid, 1.0))
        recent = shares[-SETTLE_SAMPLES:]
        steady = len(recent) == SETTLE_SAMPLES and max(recent) - min(recent) < SETTLED_SPREAD
        if shares[-1] < SETTLED_CPU or steady:
            return
    log(f"the server still used {shares[-1]:.0%} of a core; measuring anyway")


async def cpu_share(pid: int, seconds: float) -> float:
    """Return the share of one core process PID uses over the next SECONDS."""
    before, began = process_cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (process_cpu_seconds(pid) - before) / (time.monotonic() - began)


# The client's sockets.


class Socket:
    """A raw websocket that reads every frame, counts them by type and matches replies by ref."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.seen: Counter[str] = Counter()
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.refs = itertools.count(1)
        # Reading also answers Daphne's pings, which it sends every 20 s and waits 30 s for.
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            self.seen[frame.get("type", "")] += 1
            waiting = self.replies.pop(frame.get("ref", -1), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(frame)
        for waiting in self.replies.values():
            if not waiting.done():
                waiting.set_exception(ConnectionError("the socket closed"))

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send FRAME with a fresh ref and return the reply, raising on an error frame."""
        ref = next(self.refs)
        reply = asyncio.get_running_loop().create_future()
        self.replies[ref] = reply
        await self.socket.send_str(json.dumps({**frame, "ref": ref}))
        answer: dict[str, Any] = await within(REPLY_TIMEOUT, reply)
        if answer["type"] == frames.ERROR:
            raise RuntimeError(f"the server refused {frame['type']}: {answer}")
        return answer

    async def close(self) -> None:
        await self.socket.close()
        await asyncio.gather(self.reader, return_exceptions=True)


async def open_widget(
    session: aiohttp.ClientSession, url: str, conversation: str, token: str
) -> Socket:
    """Open a customer's widget socket and authenticate it to CONVERSATION, as the widget does."""
    socket = Socket(await session.ws_connect(url, origin=ORIGIN, max_msg_size=4 * MIB))
    try:
        hello = await socket.request(
            {"type": frames.AUTH, "conversation": conversation, "token": token}
        )
        if hello["type"] != frames.HELLO or hello["conversation"]["state"] != "queued":
            raise RuntimeError(f"auth answered {hello}")
        await socket.request({"type": frames.SYNC, "conversation": conversation, "after": 0})
    except BaseException:
        await socket.close()
        raise
    return socket


class CountingAgent(AgentClient):
    """An agent's dashboard that counts the frames it receives by type."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        super().__init__(base_url, username, password)
        self.seen: Counter[str] = Counter()

    def on_frame(self, frame: dict[str, Any]) -> None:
        self.seen[frame["type"]] += 1
        super().on_frame(frame)


async def gather_limited(limit: int, steps: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run STEPS, at most LIMIT at a time; return their results in order."""
    turns = asyncio.Semaphore(limit)

    async def one(step: Callable[[], Awaitable[T]]) -> T:
        async with turns:
            return await step()

    return await asyncio.gather(*(one(step) for step in steps))


async def close_all(closing: Iterable[Awaitable[object]]) -> None:
    """Close sockets, ignoring the ones that fail to close cleanly."""
    await asyncio.gather(*closing, return_exceptions=True)


async def holds_within(seconds: float, condition: Callable[[], bool]) -> bool:
    """Wait until CONDITION holds, up to SECONDS; return whether it did."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


# One measurement, as a table row.


@dataclass
class Result:
    """One server with N idle sockets."""

    server: str
    sockets: int
    kinds: str  # how many of which
    teams: str  # the queues the customers wait in
    opened_s: float
    start: Memory  # right after start-up
    before: Memory  # warmed up and idle
    after: Memory  # with the sockets open, idle
    idle_cpu: float  # with the sockets open, in shares of one core
    heard: int  # sockets that heard the broadcast
    after_broadcast: Memory
    after_close: Memory

    HEADER = (
        "| server | sockets | widget + agent | teams | opened in s | RSS at start MiB "
        "| RSS idle MiB | RSS with sockets MiB | growth MiB | per socket KiB "
        "| PSS / USS with sockets MiB "
        "| idle CPU | heard a broadcast | RSS after it MiB | RSS after closing MiB "
        "| peak RSS MiB | under 1 GiB |"
    )

    def row(self) -> str:
        growth = self.after.rss - self.before.rss
        under = max(self.after.rss, self.after_broadcast.rss) < TARGET
        cells = [
            self.server,
            f"{self.sockets:,}",
            self.kinds,
            self.teams,
            f"{self.opened_s:.1f}",
            mib(self.start.rss),
            mib(self.before.rss),
            mib(self.after.rss),
            mib(growth),
            f"{growth / KIB / self.sockets:.1f}",
            f"{mib(self.after.pss)} / {mib(self.after.uss)}",
            f"{self.idle_cpu:.0%}",
            f"{self.heard:,} of {self.sockets:,}",
            mib(self.after_broadcast.rss),
            mib(self.after_close.rss),
            mib(self.after_close.peak),
            "yes" if under else "**no**",
        ]
        return "| " + " | ".join(cells) + " |"


# The app.


def seed_waiting(backend: Backend, widget_id: str, teams: list[int], count: int) -> list[list[str]]:
    """Start COUNT waiting conversations (bench/seed_waiting.py); return [id, token] pairs."""
    done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [
            *(PYTHON, "-m", "bench.seed_waiting", "--widget-id", widget_id, "--origin", ORIGIN),
            *("--conversations", str(count), "--teams", *map(str, teams)),
        ],
        cwd=ROOT,
        env=backend.env(),
        capture_output=True,
        text=True,
        timeout=SETUP_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.seed_waiting failed:\n{done.stderr}")
    conversations: list[list[str]] = json.loads(done.stdout)["conversations"]
    return conversations


async def warm_up(url: str, widget: list[str], agent: CountingAgent) -> None:
    """Open and close one widget socket and one agent's dashboard."""
    async with aiohttp.ClientSession() as session:
        socket = await open_widget(session, url, *widget)
        await socket.close()
    try:
        await agent.login()
        await agent.connect()
    finally:
        await agent.close()


async def hear_broadcast(widgets: list[Socket], agents: list[CountingAgent]) -> int:
    """Make the server tell every socket something; return how many heard it.

    The first agent steps away: who is available is part of every team's wait estimate, so
    every waiting customer is sent its place. Every other agent sets its presence unchanged,
    which tells its own dashboards (and no queue).
    """
    queues = sum(w.seen[frames.QUEUE] for w in widgets)
    presences = [a.seen[frames.PRESENCE] for a in agents]
    heard_before = [w.seen[frames.QUEUE] for w in widgets]
    await agents[0].set_presence("away")
    for agent in agents[1:]:
        await agent.set_presence("offline")

    def widget_heard() -> list[bool]:
        return [w.seen[frames.QUEUE] > n for w, n in zip(widgets, heard_before, strict=True)]

    def agent_heard() -> list[bool]:
        return [a.seen[frames.PRESENCE] > n for a, n in zip(agents, presences, strict=True)]

    await holds_within(HEAR_TIMEOUT, lambda: all(widget_heard()) and all(agent_heard()))
    heard = sum(widget_heard()) + sum(agent_heard())
    log(
        f"{sum(widget_heard())} of {len(widgets)} widget sockets heard their place "
        f"({sum(w.seen[frames.QUEUE] for w in widgets) - queues} queue frames), "
        f"{sum(agent_heard())} of {len(agents)} agents their presence"
    )
    return heard


async def measure_app(
    backend: Backend, workdir: Path, size: int, args: argparse.Namespace
) -> Result:
    """Measure SIZE idle sockets on the app, on a fresh database and server."""
    agent_count = args.agents if args.agents is not None else max(1, size // 100)
    widget_count = size - agent_count
    log(f"{backend.describe()}: {widget_count} widget sockets and {agent_count} agent dashboards")
    await asyncio.to_thread(backend.reset)
    seed = json.loads(
        await asyncio.to_thread(
            backend.seed,
            *("--agents", str(agent_count + 1), "--chats-per-agent", "10"),
            *("--teams", str(args.teams), "--origin", ORIGIN),
        )
    )
    began = time.monotonic()
    waiting = await asyncio.to_thread(
        seed_waiting, backend, seed["widget_id"], seed["teams"], widget_count + 1
    )
    log(f"seeded {len(waiting)} waiting conversations in {time.monotonic() - began:.1f} s")
    server = Daphne("contactcenter.asgi:application", backend.env(), workdir / "daphne.log")
    widgets: list[Socket] = []
    agents: list[CountingAgent] = []
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        await asyncio.to_thread(server.start)
        url = server.url.replace("http://", "ws://") + f"/ws/widget/{seed['widget_id']}/"
        await settle(server.pid)
        start = memory_of(server.pid)
        log(f"started: {start.describe()}")
        warm_agent = CountingAgent(server.url, seed["agents"][-1], seed["password"])
        await warm_up(url, waiting[-1], warm_agent)
        await settle(server.pid)
        before = memory_of(server.pid)
        log(f"warmed up and idle: {before.describe()}")

        began = time.monotonic()
        agents.extend(CountingAgent(server.url, n, seed["password"]) for n in seed["agents"][:-1])
        # Each login checks a password hash, about 0.3 s of the server's CPU: a few at a time.
        await within(
            SETUP_TIMEOUT,
            gather_limited(2, (a.login for a in agents)),
        )
        await within(SETUP_TIMEOUT, gather_limited(args.concurrency, (a.connect for a in agents)))
        agents_s = time.monotonic() - began
        log(f"logged {agent_count} agents in and opened their dashboards in {agents_s:.1f} s")

        opened = time.monotonic()

        async def open_one(conversation: str, token: str) -> None:
            widgets.append(await open_widget(session, url, conversation, token))
            if len(widgets) % 1000 == 0:
                log(f"{len(widgets)} widget sockets open, {time.monotonic() - opened:.1f} s")

        await within(
            SETUP_TIMEOUT,
            gather_limited(args.concurrency, (partial(open_one, c, t) for c, t in waiting[:-1])),
        )
        widgets_s = time.monotonic() - opened
        log(f"opened {widget_count} widget sockets in {widgets_s:.1f} s")
        await settle(server.pid)
        log(f"keeping them idle {args.idle:.0f} s more")
        await asyncio.sleep(args.idle)
        recording = None
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9.]+", "-", f"idle {backend.describe()} {size}")
            recording = asyncio.create_task(
                py_spy(time.monotonic(), IDLE_CPU_WINDOW, server.pid, args.profile / f"{name}.txt")
            )
        idle_cpu = await cpu_share(server.pid, IDLE_CPU_WINDOW)
        if recording is not None:
            await recording
        after = memory_of(server.pid)
        log(f"with {size} sockets open: {after.describe()}, {idle_cpu:.0%} of a core")

        heard = await hear_broadcast(widgets, agents)
        await settle(server.pid)
        after_broadcast = memory_of(server.pid)
        log(f"after the broadcast: {after_broadcast.describe()}")
        await close_all([*(w.close() for w in widgets), *(a.close() for a in agents)])
        widgets.clear()
        agents.clear()
        await settle(server.pid)
        after_close = memory_of(server.pid)
        log(f"after closing them: {after_close.describe()}")
        return Result(
            server=backend.describe(),
            sockets=size,
            kinds=f"{widget_count:,} + {agent_count}",
            teams=str(args.teams),
            opened_s=agents_s + widgets_s,
            start=start,
            before=before,
            after=after,
            idle_cpu=idle_cpu,
            heard=heard,
            after_broadcast=after_broadcast,
            after_close=after_close,
        )
    except Exception:
        log(f"the server's log ended with:\n{server.log_tail()}")
        raise
    finally:
        await close_all([*(w.close() for w in widgets), *(a.close() for a in agents)])
        await session.close()
        server.stop()


# The floor: a bare Channels echo consumer.


async def measure_echo(
    backend: Backend, workdir: Path, size: int, args: argparse.Namespace
) -> Result:
    """Measure SIZE idle sockets on the bare echo consumer."""
    env = {**backend.env(), "DJANGO_SETTINGS_MODULE": "bench.echo_settings"}
    server = Daphne("bench.echo_asgi:application", env, workdir / "echo.log")
    sockets: list[Socket] = []
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    ping = json.dumps({"type": "echo"})
    try:
        await asyncio.to_thread(server.start)
        url = server.url.replace("http://", "ws://") + "/echo/"
        await settle(server.pid)
        start = memory_of(server.pid)
        warm = Socket(await session.ws_connect(url))
        await warm.socket.send_str(ping)
        await holds_within(REPLY_TIMEOUT, lambda: warm.seen["echo"] > 0)
        await warm.close()
        await settle(server.pid)
        before = memory_of(server.pid)
        log(f"echo server warmed up and idle: {before.describe()}")

        began = time.monotonic()

        async def open_one() -> None:
            sockets.append(Socket(await session.ws_connect(url)))

        await within(
            SETUP_TIMEOUT, gather_limited(args.concurrency, itertools.repeat(open_one, size))
        )
        opened_s = time.monotonic() - began
        log(f"opened {size} echo sockets in {opened_s:.1f} s")
        await settle(server.pid)
        await asyncio.sleep(args.idle)
        idle_cpu = await cpu_share(server.pid, IDLE_CPU_WINDOW)
        after = memory_of(server.pid)
        log(f"with {size} echo sockets open: {after.describe()}, {idle_cpu:.0%} of a core")
        await asyncio.gather(*(s.socket.send_str(ping) for s in sockets))
        await holds_within(HEAR_TIMEOUT, lambda: all(s.seen["echo"] for s in sockets))
        heard = sum(1 for s in sockets if s.seen["echo"])
        await settle(server.pid)
        after_echo = memory_of(server.pid)
        await close_all(s.close() for s in sockets)
        sockets.clear()
        await settle(server.pid)
        after_close = memory_of(server.pid)
        return Result(
            server="bare echo consumer",
            sockets=size,
            kinds="echo",
            teams="",
            opened_s=opened_s,
            start=start,
            before=before,
            after=after,
            idle_cpu=idle_cpu,
            heard=heard,
            after_broadcast=after_echo,
            after_close=after_close,
        )
    except Exception:
        log(f"the echo server's log ended with:\n{server.log_tail()}")
        raise
    finally:
        await close_all(s.close() for s in sockets)
        await session.close()
        server.stop()


def raise_file_limit(sockets: int) -> None:
    """Raise this process's open-file limit (and so the server's, which inherits it) to the
    hard limit; refuse sizes that would not fit under it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = sockets + FDS_SPARE
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"{sockets} sockets need {needed} open files; the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def run(args: argparse.Namespace) -> None:
    """Measure every size, the echo floor first when asked for; print the table."""
    main_task = asyncio.current_task()
    assert main_task is not None  # noqa: S101 (we run inside asyncio.run)
    # A kill (SIGTERM) ends the run as Ctrl-C does: the sockets close and the servers stop.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    with tempfile.TemporaryDirectory(prefix="sealdesk-bench-") as tmp:
        workdir = Path(tmp)
        backend = Backend(workdir / "data", args.database_url, args.redis_url)
        print(Result.HEADER)
        print("|" + " --- |" * (Result.HEADER.count("|") - 1), flush=True)
        for size in args.sockets:
            if args.echo:
                print((await measure_echo(backend, workdir, size, args)).row(), flush=True)
            print((await measure_app(backend, workdir, size, args)).row(), flush=True)


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sockets",
        type=int,
        nargs="+",
        default=[5000],
        help="Idle sockets in all, widgets and agents; several sizes run one after another, "
        "each on a fresh database and server (default 5000).",
    )
    parser.add_argument(
        "--agents",
        type=int,
        help="Agent dashboards among the sockets (default one per hundred sockets, at least 1).",
    )
    parser.add_argument(
        "--teams",
        type=int,
        default=10,
        help="Teams whose queues the customers wait in, round robin; every agent is in each "
        "(default 10).",
    )
    parser.add_argument(
        "--concurrency", type=int, default=50, help="Sockets being opened at once (default 50)."
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=30.0,
        help="Seconds the sockets stay idle after the server settled, before the memory is "
        "read (default 30: a round of Daphne's pings, every 20 s).",
    )
    parser.add_argument(
        "--echo",
        action="store_true",
        help="Also measure the same number of sockets on the bare echo consumer.",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="Record the app server with py-spy while it idles with the sockets open, as "
        "collapsed stacks in this folder (summarise with bench.profile_summary).",
    )
    parser.add_argument(
        "--database-url", default="", help="Use this PostgreSQL (flushed) instead of SQLite."
    )
    parser.add_argument(
        "--redis-url", default="", help="Use this Redis instead of the in-memory channel layer."
    )
    args = parser.parse_args()
    if any(size < 2 for size in args.sockets):
        parser.error("--sockets must be at least 2")
    if args.agents is not None and not 1 <= args.agents < min(args.sockets):
        parser.error("--agents must be at least 1 and fewer than the sockets")
    raise_file_limit(max(args.sockets))  # the echo's sockets are closed before the app's open
    try:
        asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted: the sockets are closed and the servers stopped")
        sys.exit(130)


if __name__ == "__main__":
    main()
