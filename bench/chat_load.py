"""Chat load: encrypted conversations through one Daphne process, against a bare echo ceiling.

Starts its own servers on 127.0.0.1: the Sealdesk app (on a fresh SQLite database and the
in-memory channel layer, or on the PostgreSQL and Redis given) and a bare Channels echo
consumer (bench/echo_asgi.py). Each conversation is a Python customer and the agent's side of
it (sealdesk_client.client); each message is encrypted and signed by its sender and counted
when the other side has verified and decrypted it. Prints a table, one row per measurement.

    .venv/bin/python -m bench.chat_load --conversations 200 --half-max
"""

import argparse
import asyncio
import itertools
import json
import math
import os
import re
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bench.servers import (
    Backend,
    machine_cpu_ticks,
    percentile,
    process_cpu_seconds,
    start_py_spy,
    stop_py_spy,
    wait_for_quiet_machine,
)
from sealdesk_client import protocol
from sealdesk_client.client import AgentClient, ConversationClient, Customer, now_iso
from tests.harness import Daphne

ORIGIN = "https://shop.bench.example"
PRECHAT = {"name": "Bench Customer", "email": "bench@example.org", "question": "A question"}
# Text after the send time: the plaintext stays under 256 bytes, one padding block.
FILLER = "x" * 120
SETUP_TIMEOUT = 600.0
DRAIN_TIMEOUT = 60.0
CHECK_TIMEOUT = 10.0
CHECK_CONCURRENCY = 10  # few enough that no check waits on a server queue
SETTLED_CPU = 0.05  # a server using less of a core than this is idle (its sweeper runs each second)
CORES = os.cpu_count() or 1
T = TypeVar("T")


def log(text: str) -> None:
    """Print progress to stderr, keeping stdout for the table."""
    print(text, file=sys.stderr, flush=True)


def message_body(sent: float) -> str:
    """Return a message body that carries its send time (this process's monotonic clock)."""
    return f"bench {sent:.6f} {FILLER}"


def sent_time(content: dict[str, Any]) -> float | None:
    """Return the send time a benchmark message carries, or None for any other message."""
    body = content.get("body", "")
    if content.get("type") != "text" or not body.startswith("bench "):
        return None
    return float(body.split(" ", 2)[1])


def sample_send_frame() -> str:
    """Return a send frame of the size this benchmark's messages have, for the echo clients."""
    keys = protocol.generate_device()
    conversation = str(uuid.uuid4())
    tenant = "wid_" + "x" * 22  # a widget id's length
    record = protocol.make_epoch(keys, tenant, conversation, None, [keys.member("customer")])
    envelope = protocol.encrypt_message(
        keys,
        tenant,
        conversation,
        record,
        protocol.new_epoch_key(),
        1,
        {"type": "text", "body": message_body(time.monotonic()), "sent_at": now_iso()},
        after=protocol.head_after(tenant, conversation, [record]),
    )
    frame = {"type": "send", "conversation": conversation, "envelope": envelope.to_json()}
    return json.dumps({**frame, "ref": 1})


class BenchAgent(AgentClient):
    """An AgentClient whose conversations draw their request refs from one counter.

    Its conversations share one socket, but sealdesk_client gives each its own counter from 1,
    so two of them can have the same ref outstanding and take each other's replies.
    """

    def __init__(self, base_url: str, username: str, password: str) -> None:
        super().__init__(base_url, username, password)
        self.refs = itertools.count(1)

    def _client_for(self, conversation: dict[str, Any]) -> ConversationClient:
        client = super()._client_for(conversation)
        client._refs = self.refs
        return client


@dataclass
class Side:
    """One end of a conversation: who sends, who must verify it, and the sender's turn."""

    client: ConversationClient
    peer: ConversationClient
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # keeps the sender's seq order


@dataclass
class Chat:
    """A conversation with both ends connected and keyed."""

    widget: Customer  # the customer's end, also as its Side's client
    customer: Side
    agent: Side
    last_seq: int = 0  # the server's number of the latest message sent in it

    def side(self, turn: int) -> Side:
        return self.customer if turn % 2 == 0 else self.agent


@dataclass
class Result:
    """One measurement, as a table row."""

    config: str
    conversations: int
    offered: float  # msg/s; 0 for closed loop
    delivered: float  # verified msg/s received within the window
    p50_ms: float
    p99_ms: float
    echo: float
    sent: int
    lost: int
    server_cpu: float  # shares of one core
    client_cpu: float
    other_cpu: float  # every other process: the database, Redis, anything else on the machine

    HEADER = (
        "| config | conversations | offered msg/s | delivered msg/s | p50 ms | p99 ms "
        "| echo ceiling msg/s | ratio | sent | lost | server CPU | client CPU | other CPU |"
    )

    def row(self) -> str:
        offered = "closed loop" if self.offered == 0 else f"{self.offered:.0f}"
        cells = [
            self.config,
            str(self.conversations),
            offered,
            f"{self.delivered:.0f}",
            f"{self.p50_ms:.1f}",
            f"{self.p99_ms:.1f}",
            f"{self.echo:.0f}",
            f"{self.delivered / self.echo:.0%}",
            str(self.sent),
            str(self.lost),
            f"{self.server_cpu:.0%}",
            f"{self.client_cpu:.0%}",
            f"{self.other_cpu:.0%}",
        ]
        return "| " + " | ".join(cells) + " |"


async def within(seconds: float, step: Awaitable[T]) -> T:
    """Await STEP, raising TimeoutError after SECONDS."""
    async with asyncio.timeout(seconds):
        return await step


async def sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


# Setting up: agents log in and accept every offer; customers start conversations.


async def open_chats(
    agents: list[BenchAgent],
    customers: list[Customer],
    teams: list[int],
    chats_per_agent: int,
    arriving: int,
) -> list[Chat]:
    """Log the agents in, start the conversations, and return them once both sides are keyed."""
    began = time.monotonic()
    await within(SETUP_TIMEOUT, asyncio.gather(*(agent.login() for agent in agents)))
    await within(SETUP_TIMEOUT, asyncio.gather(*(agent.connect() for agent in agents)))
    await asyncio.gather(*(agent.set_presence("available") for agent in agents))
    log(f"{len(agents)} agents logged in and connected in {time.monotonic() - began:.1f} s")
    began = time.monotonic()
    accepting = [
        asyncio.create_task(a.accept_offers(chats_per_agent, SETUP_TIMEOUT)) for a in agents
    ]
    starting = asyncio.Semaphore(arriving)  # a burst of customers arriving, ARRIVING at a time

    async def start(customer: Customer, team: int) -> None:
        async with starting:
            await customer.start(team, PRECHAT)

    await within(
        SETUP_TIMEOUT,
        asyncio.gather(*(start(c, teams[n % len(teams)]) for n, c in enumerate(customers))),
    )
    chats: list[Chat] = []
    deadline = time.monotonic() + SETUP_TIMEOUT
    for customer in customers:
        while True:
            agent_side = next(
                (
                    a.conversations[customer.conversation]
                    for a in agents
                    if customer.conversation in a.conversations
                ),
                None,
            )
            if (
                agent_side is not None
                and agent_side.keyed_since_joined()
                and customer.keyed_since_joined()
            ):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"conversation {customer.conversation} not keyed in time")
            await asyncio.sleep(0.05)
        chats.append(Chat(customer, Side(customer, agent_side), Side(agent_side, customer)))
    for task in accepting:
        task.cancel()
    await asyncio.gather(*accepting, return_exceptions=True)
    log(
        f"{len(chats)} conversations started, accepted and keyed on both sides in "
        f"{time.monotonic() - began:.1f} s"
    )
    return chats


async def heard(chat: Chat, side: Side, turns: asyncio.Semaphore) -> bool:
    """Send one message from SIDE; return whether its peer verified it within CHECK_TIMEOUT."""
    async with turns:
        await send_one(chat, side, time.monotonic())
        try:
            await side.peer.wait_until(caught_up(side.peer, chat.last_seq), CHECK_TIMEOUT)
        except TimeoutError:
            return False
        return True


async def find_deaf(chats: list[Chat]) -> tuple[list[Chat], list[Chat]]:
    """Return the conversations whose agent side, and whose customer, hears no broadcast."""
    turns = asyncio.Semaphore(CHECK_CONCURRENCY)
    agent_heard = await asyncio.gather(*(heard(chat, chat.customer, turns) for chat in chats))
    customer_heard = await asyncio.gather(*(heard(chat, chat.agent, turns) for chat in chats))
    return (
        [chat for chat, ok in zip(chats, agent_heard, strict=True) if not ok],
        [chat for chat, ok in zip(chats, customer_heard, strict=True) if not ok],
    )


async def check_delivery(chats: list[Chat], agents: list[BenchAgent]) -> None:
    """Make sure every socket hears its conversations' broadcasts, reconnecting any that do not.

    The in-memory layer drops a channel from all its groups once a message waited 60 s in it,
    without telling the consumer: such a socket stays open but hears nothing more.
    """
    deaf_agent_sides, deaf_customers = await find_deaf(chats)
    if not deaf_agent_sides and not deaf_customers:
        return
    deaf_agents = [
        a
        for a in agents
        if any(c.agent.client in a.conversations.values() for c in deaf_agent_sides)
    ]
    log(
        f"after the setup, {len(deaf_customers)} customer sockets and {len(deaf_agents)} agent "
        f"sockets ({len(deaf_agent_sides)} conversations) heard no broadcasts: reconnecting them"
    )
    for chat in deaf_customers:
        await chat.widget.disconnect()
        await chat.widget.connect()
    for agent in deaf_agents:
        await agent.disconnect()
        await agent.connect()
    deaf_agent_sides, deaf_customers = await find_deaf(chats)
    if deaf_agent_sides or deaf_customers:
        raise RuntimeError("reconnected sockets still hear no broadcasts")


async def quiet_machine() -> None:
    """Wait, a bounded time, until the machine is nearly idle, so others' work stays out.

    Measures anyway after a while; the "other CPU" column then shows what ran alongside.
    """
    if not await wait_for_quiet_machine():
        log("the machine stayed busy; measuring anyway")


async def settle(server_pid: int) -> None:
    """Wait, a bounded time, until the server has worked off what the setup left it.

    Every conversation started or accepted tells every customer socket of the team to look up
    its queue position, so the setup leaves a backlog that would otherwise land in the window.
    """
    deadline = time.monotonic() + SETUP_TIMEOUT
    while time.monotonic() < deadline:
        before = process_cpu_seconds(server_pid)
        await asyncio.sleep(1.0)
        if process_cpu_seconds(server_pid) - before < SETTLED_CPU:
            return
    raise TimeoutError("the server stayed busy after the setup")


# Driving messages.


async def send_one(chat: Chat, side: Side, sent: float) -> None:
    """Send one message stamped SENT, after the sender's earlier ones."""
    async with side.lock:
        seq = await within(DRAIN_TIMEOUT, side.client.send_text(message_body(sent)))
    chat.last_seq = max(chat.last_seq, seq)


async def open_loop(chats: list[Chat], rate: float, start: float, until: float) -> list[float]:
    """Send at RATE msgs/s in total, round robin over the conversations, both sides in turn.

    Each message carries the time it was due, not the time it left, so a client or server that
    falls behind shows in the latency instead of slowing the offered rate.
    """
    due_times: list[float] = []
    sending: list[asyncio.Task[None]] = []
    for k in range(math.ceil((until - start) * rate)):
        due = start + k / rate
        await sleep_until(due)
        chat = chats[k % len(chats)]
        due_times.append(due)
        sending.append(asyncio.create_task(send_one(chat, chat.side(k // len(chats)), due)))
    failed = [e for e in await asyncio.gather(*sending, return_exceptions=True) if e is not None]
    if failed:
        log(f"{len(failed)} sends failed, the first with {failed[0]!r}")
    return due_times


async def ping_pong(chat: Chat, until: float, sent: list[float]) -> None:
    """Alternate the sides: send, wait until the other side has verified it, reply."""
    for turn in itertools.count():
        if time.monotonic() >= until:
            return
        side = chat.side(turn)
        now = time.monotonic()
        sent.append(now)
        try:
            await send_one(chat, side, now)
            await side.peer.wait_until(caught_up(side.peer, chat.last_seq), DRAIN_TIMEOUT)
        except TimeoutError:
            # The client gives up on a request after 10 s; a lost last broadcast is never noticed.
            log(f"conversation {chat.widget.conversation} stopped: no reply or no delivery in time")
            return


def caught_up(client: ConversationClient, seq: int) -> Callable[[], bool]:
    return lambda: client.last_seq >= seq


async def closed_loop(chats: list[Chat], until: float) -> list[float]:
    """Keep one message in flight in every conversation until UNTIL."""
    sent: list[float] = []
    await asyncio.gather(*(ping_pong(chat, until, sent) for chat in chats))
    return sent


async def drain(chats: list[Chat]) -> None:
    """Wait, a bounded time, until both sides of every conversation have every message."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        if all(side.client.last_seq >= c.last_seq for c in chats for side in (c.customer, c.agent)):
            return
        await asyncio.sleep(0.05)


@dataclass
class CpuWindow:
    """CPU used between two moments, in shares of one core: the server, this client, the rest."""

    server: float = 0.0
    client: float = 0.0
    other: float = 0.0


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def cpu_between(start: float, end: float, server_pid: int, into: CpuWindow) -> None:
    """Record the CPU used between START and END into INTO."""
    await sleep_until(start)
    server, client, (busy, total) = (
        process_cpu_seconds(server_pid),
        client_cpu_seconds(),
        machine_cpu_ticks(),
    )
    await sleep_until(end)
    busy_after, total_after = machine_cpu_ticks()
    into.server = (process_cpu_seconds(server_pid) - server) / (end - start)
    into.client = (client_cpu_seconds() - client) / (end - start)
    machine = CORES * (busy_after - busy) / max(1, total_after - total)
    into.other = max(0.0, machine - into.server - into.client)


async def py_spy(start: float, duration: float, server_pid: int, output: Path) -> None:
    """Record the server's stacks with py-spy from START for DURATION seconds into OUTPUT."""
    await sleep_until(start)
    recorder = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("py-spy")),
        *("record", "--nonblocking", "--rate", "100", "--format", "raw"),
        *("--duration", str(round(duration)), "--pid", str(server_pid), "--output", str(output)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await within(duration + DRAIN_TIMEOUT, recorder.communicate())
    if recorder.returncode != 0:
        log(f"py-spy failed: {errors.decode(errors='replace').strip()}")


async def measure(
    chats: list[Chat],
    rate: float,
    warmup: float,
    duration: float,
    server_pid: int,
    profile: Path | None,
) -> tuple[float, float, float, int, int, CpuWindow]:
    """Drive the chats, then return delivered msg/s, p50 and p99 in ms, sent, lost and CPU.

    With PROFILE, py-spy records the server during the measured window into that file.
    """
    await quiet_machine()
    start = time.monotonic()
    window_start, window_end = start + warmup, start + warmup + duration
    cpu = CpuWindow()
    sampling = asyncio.create_task(cpu_between(window_start, window_end, server_pid, cpu))
    recording = None
    if profile is not None:
        recording = asyncio.create_task(py_spy(window_start, duration, server_pid, profile))
    if rate == 0:
        sent = await closed_loop(chats, window_end)
    else:
        sent = await open_loop(chats, rate, start, window_end)
    await sampling
    if recording is not None:
        await recording
    await drain(chats)
    latencies: list[float] = []
    delivered = 0
    for chat in chats:
        for side in (chat.customer, chat.agent):
            me = side.client.keys.device_id
            for shown in side.client.shown:
                stamp = sent_time(shown.content) if shown.kind == "message" else None
                if stamp is None or shown.sender == me:
                    continue
                if window_start <= shown.received_at <= window_end:
                    delivered += 1
                if window_start <= stamp <= window_end:
                    latencies.append(shown.received_at - stamp)
    # Rounded as the message bodies carry them, so that both counts draw the same line.
    in_window = sum(1 for s in sent if window_start <= round(s, 6) <= window_end)
    return (
        delivered / duration,
        percentile(latencies, 0.50) * 1000,
        percentile(latencies, 0.99) * 1000,
        in_window,
        in_window - len(latencies),
        cpu,
    )


# The ceiling: the same number of clients echoing same-size frames off a bare consumer.


async def echo_ceiling(url: str, clients: int, frame: str, warmup: float, duration: float) -> float:
    """Return the echoed frames per second of CLIENTS closed-loop websocket clients."""
    ws_url = url.replace("http://", "ws://") + "/echo/"
    await quiet_machine()
    received: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)  # the default pool holds only 100 connections
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = [await session.ws_connect(ws_url) for _ in range(clients)]
        start = time.monotonic()
        window_start, window_end = start + warmup, start + warmup + duration

        async def bounce(socket: aiohttp.ClientWebSocketResponse) -> None:
            for _ in itertools.count():
                if time.monotonic() >= window_end:
                    return
                await socket.send_str(frame)
                reply = await socket.receive(timeout=DRAIN_TIMEOUT)
                if reply.type != aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"echo server answered {reply.type}")
                received.append(time.monotonic())

        await asyncio.gather(*(bounce(s) for s in sockets))
        await asyncio.gather(*(s.close() for s in sockets))
    return sum(1 for t in received if window_start <= t <= window_end) / duration


# One configuration at one size: fresh database, server, conversations; every rate.


async def measure_rates(
    chats: list[Chat],
    server: Daphne,
    config: str,
    conversations: int,
    reference: float | None,
    echo: float,
    args: argparse.Namespace,
) -> list[Result]:
    """Measure every rate asked for on the open conversations; print and return the rows.

    With --half-max, a closed-loop run is followed by one at half of REFERENCE (the first
    size's maximum), or of its own maximum when there is no reference yet.
    """
    results: list[Result] = []
    pending: list[float] = list(args.rate)
    while pending:
        rate = pending.pop(0)
        profile = None
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9.]+", "-", f"{config} {conversations} {rate:g}")
            profile = args.profile / f"{name}.txt"
        for attempt in range(1, args.attempts + 1):
            delivered, p50, p99, sent, lost, cpu = await measure(
                chats, rate, args.warmup, args.duration, server.pid, profile
            )
            result = Result(
                *(config, conversations, rate, delivered, p50, p99, echo),
                *(sent, lost, cpu.server, cpu.client, cpu.other),
            )
            if cpu.other <= args.max_other_cpu or attempt == args.attempts:
                break
            log(f"other processes used {cpu.other:.0%} of a core; measuring again: {result.row()}")
        print(result.row(), flush=True)
        results.append(result)
        if rate == 0 and args.half_max:
            pending.append(max(1, round((reference or delivered) / 2)))
    refused = sum(len(s.client.warnings()) for chat in chats for s in (chat.customer, chat.agent))
    if refused:
        log(f"warning: receivers refused {refused} messages")
    return results


async def run_size(
    backend: Backend,
    workdir: Path,
    conversations: int,
    reference: float | None,
    echo: float,
    args: argparse.Namespace,
) -> list[Result]:
    """Set up the conversations on a fresh database and server, then measure every rate."""
    await asyncio.to_thread(backend.reset)
    agent_count = math.ceil(conversations / args.chats_per_agent)
    seed = json.loads(
        await asyncio.to_thread(
            backend.seed,
            *("--agents", str(agent_count), "--chats-per-agent", str(args.chats_per_agent)),
            *("--teams", str(args.teams), "--origin", ORIGIN),
        )
    )
    server = Daphne("contactcenter.asgi:application", backend.env(), workdir / "daphne.log")
    await asyncio.to_thread(server.start)
    agents = [BenchAgent(server.url, name, seed["password"]) for name in seed["agents"]]
    customers = [Customer(server.url, seed["widget_id"], ORIGIN) for _ in range(conversations)]
    recorder = None
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        output = args.profile / f"setup-{conversations}.txt"
        recorder = await start_py_spy(server.pid, output)
    try:
        began = time.monotonic()
        try:
            chats = await open_chats(
                agents, customers, seed["teams"], args.chats_per_agent, args.arriving
            )
        finally:
            if recorder is not None:
                await stop_py_spy(recorder)
        log(
            f"set up {conversations} conversations with {agent_count} agents in "
            f"{time.monotonic() - began:.1f} s"
        )
        await settle(server.pid)
        log(f"the server was idle again {time.monotonic() - began:.1f} s after the start")
        await check_delivery(chats, agents)
        return await measure_rates(
            chats, server, backend.describe(), conversations, reference, echo, args
        )
    except BaseException:
        log(f"the server's log ended with:\n{server.log_tail()}")
        raise
    finally:
        await asyncio.gather(*(c.close() for c in customers), *(a.close() for a in agents))
        await asyncio.to_thread(server.stop)


async def run(args: argparse.Namespace) -> None:
    """Measure every size: first the echo ceiling, then the app on a fresh database."""
    with tempfile.TemporaryDirectory(prefix="sealdesk-bench-") as tmp:
        workdir = Path(tmp)
        backend = Backend(workdir / "data", args.database_url, args.redis_url)
        echo_env = {**backend.env(), "DJANGO_SETTINGS_MODULE": "bench.echo_settings"}
        frame = sample_send_frame()
        log(f"send frames are {len(frame)} bytes; the echo clients send the same frame")
        print(Result.HEADER)
        print("|" + " --- |" * (Result.HEADER.count("|") - 1), flush=True)
        reference: float | None = None
        for conversations in args.conversations:
            # The echo runs alone, before this size's app server starts.
            with Daphne("bench.echo_asgi:application", echo_env, workdir / "echo.log") as echo:
                ceiling = await echo_ceiling(
                    echo.url, conversations, frame, args.warmup, args.echo_duration
                )
            results = await run_size(backend, workdir, conversations, reference, ceiling, args)
            if reference is None:
                reference = next((r.delivered for r in results if r.offered == 0), None)


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--conversations",
        type=int,
        nargs="+",
        default=[200],
        help="Concurrent conversations; several sizes run one after another (default 200).",
    )
    parser.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[0.0],
        help="Total messages per second to offer; 0 is closed loop, one message in flight "
        "per conversation (default 0).",
    )
    parser.add_argument(
        "--half-max",
        action="store_true",
        help="After a closed-loop run, also offer half the maximum it delivered (the first "
        "size's maximum for every later size).",
    )
    parser.add_argument("--duration", type=float, default=20.0, help="Measured seconds (20).")
    parser.add_argument("--warmup", type=float, default=3.0, help="Seconds before measuring (3).")
    parser.add_argument(
        "--echo-duration", type=float, default=10.0, help="Measured seconds of the echo (10)."
    )
    parser.add_argument(
        "--chats-per-agent",
        type=int,
        default=10,
        help="Each agent's max_concurrent_chats; agents = conversations / this (default 10).",
    )
    parser.add_argument(
        "--arriving",
        type=int,
        default=10,
        help="Customers starting their chats at the same time during the set-up (default 10): "
        "each start is several round trips (the start, the socket and its sync, epoch 0, the "
        "pre-chat form).",
    )
    parser.add_argument(
        "--teams",
        type=int,
        default=1,
        help="Teams the conversations are spread over, every agent in each (default 1). Each "
        "customer socket of a team looks up its queue place whenever that team's queue changes, "
        "so setting up N conversations in one team costs about N*N queries.",
    )
    parser.add_argument(
        "--database-url", default="", help="Use this PostgreSQL (flushed) instead of SQLite."
    )
    parser.add_argument(
        "--redis-url", default="", help="Use this Redis instead of the in-memory channel layer."
    )
    parser.add_argument(
        "--max-other-cpu",
        type=float,
        default=0.3,
        help="Measure a rate again when other processes used more than this share of a core "
        "during its window (0.3; the database and Redis count as others).",
    )
    parser.add_argument(
        "--attempts", type=int, default=3, help="Measurements of one rate at most (3)."
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="Record the app server with py-spy during the set-up (setup-N.txt) and each "
        "measured window, as collapsed stacks in this folder (summarise with "
        "bench.profile_summary).",
    )
    args = parser.parse_args()
    if args.attempts < 1:
        parser.error("--attempts must be at least 1")
    if args.arriving < 1:
        parser.error("--arriving must be at least 1")
    if not 1 <= args.chats_per_agent <= 50:
        parser.error("--chats-per-agent must be between 1 and 50 (the model's limit)")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
