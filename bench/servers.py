"""What the benchmarks set up and read: the server's database, CPU counters, V8 profiles.

Daphne and Chromium start as in the tests, through tests/harness.py.
"""

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.harness import ROOT

PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
QUIET_CPU = 0.15  # of all cores: below this the machine is quiet enough to measure
QUIET_WAIT = 300.0  # seconds to wait for that before measuring anyway


def percentile(values: list[float], fraction: float) -> float:
    """Return the FRACTION quantile of VALUES (nan when there are none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    # Nearest rank: the smallest value with at least FRACTION of all values at or below it.
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def process_cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5), counted after the command name's closing parenthesis.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu_ticks() -> tuple[int, int]:
    """Return the machine's busy and total CPU ticks so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


async def wait_for_quiet_machine() -> bool:
    """Wait until a second passes with the machine nearly idle; return False after QUIET_WAIT.

    The machine may be shared: others' test runs would otherwise land in a measured window.
    """
    deadline = time.monotonic() + QUIET_WAIT
    while time.monotonic() < deadline:
        busy, total = machine_cpu_ticks()
        await asyncio.sleep(1.0)
        busy_after, total_after = machine_cpu_ticks()
        if (busy_after - busy) / max(1, total_after - total) < QUIET_CPU:
            return True
    return False


class Backend:
    """Where the app keeps its data: a fresh SQLite file and the in-memory channel layer by
    default, or the PostgreSQL and Redis given."""

    def __init__(self, data_dir: Path, database_url: str = "", redis_url: str = "") -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.redis_url = redis_url

    def describe(self) -> str:
        """Return the configuration's short name for tables."""
        database = "PostgreSQL" if self.database_url else "SQLite"
        layer = "Redis pub/sub" if self.redis_url else "in-memory layer"
        return f"{database} + {layer}"

    def env(self) -> dict[str, str]:
        """Return the environment a server process and manage.py run with."""
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            SEALDESK_DATA_DIR=str(self.data_dir),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DEBUG="false",
            LOG_LEVEL="WARNING",  # per-connection INFO lines would cost the server time
            CHAT_STARTS_PER_MINUTE="0",  # every benchmark customer comes from 127.0.0.1
            CHAT_STARTS_PER_HOUR="0",
            TENANT_CHAT_STARTS_PER_MINUTE="0",  # hundreds of chats a minute, on one tenant
            TENANT_MAX_WAITING_CHATS="0",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return env

    def manage(self, *args: str) -> str:
        """Run a manage.py command with this backend and return what it printed."""
        done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def reset(self) -> None:
        """Leave an empty, migrated database."""
        sqlite = self.data_dir / "sealdesk.sqlite3"
        for path in (sqlite, sqlite.with_name(sqlite.name + "-wal")):
            path.unlink(missing_ok=True)
        self.manage("migrate", "--noinput", "-v", "0")
        if self.database_url:
            self.manage("flush", "--noinput", "-v", "0")

    def seed(self, *args: str) -> str:
        """Run bench.seed_tenant with this backend and return its JSON output."""
        done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
            [PYTHON, "-m", "bench.seed_tenant", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"bench.seed_tenant failed:\n{done.stderr}")
        return done.stdout


def print_v8_profile(profile: dict[str, Any], title: str, top: int) -> None:
    """Print the functions that took the most self time in a V8 CPU profile."""
    frames = {node["id"]: node["callFrame"] for node in profile["nodes"]}
    self_us: Counter[str] = Counter()
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = frames[node_id]
        where = (
            f"{frame['url'].rsplit('/', 1)[-1]}:{frame['lineNumber'] + 1}" if frame["url"] else ""
        )
        self_us[f"{frame['functionName'] or '(anonymous)'} {where}".strip()] += delta
    total = sum(self_us.values())
    print(f"\nV8 profile of {title} ({total / 1000:.0f} ms sampled):")
    for name, spent in self_us.most_common(top):
        print(f"{spent / 1000:8.1f} ms {spent / total:6.1%}  {name}")


def fresh_django() -> None:
    """Set Django up, in this process, on a database of its own (a fresh SQLite file in a
    temporary data dir unless DATABASE_URL names one, which is flushed), migrated: the start of
    the benchmarks that call the actions in-process (actions_cpu.py, reports_bench.py)."""
    import tempfile

    data = tempfile.mkdtemp(prefix="sealdesk-bench-")
    os.environ["SEALDESK_DATA_DIR"] = data
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{data}/db.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if os.environ["DATABASE_URL"].startswith("postgres"):
        call_command("flush", verbosity=0, interactive=False)


async def start_py_spy(pid: int, output: Path) -> asyncio.subprocess.Process:
    """Start recording PID's stacks with py-spy (raw collapsed stacks, 100 Hz) into OUTPUT, until
    stop_py_spy; the recorder gives up by itself after an hour."""
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("py-spy")),
        *("record", "--nonblocking", "--rate", "100", "--format", "raw"),
        *("--duration", "3600", "--pid", str(pid), "--output", str(output)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def stop_py_spy(recorder: asyncio.subprocess.Process) -> None:
    """Stop py-spy, which writes its recording on SIGINT."""
    if recorder.returncode is None:
        recorder.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(recorder.wait(), 30)
    except TimeoutError:
        recorder.kill()
        await recorder.wait()
