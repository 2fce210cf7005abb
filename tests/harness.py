"""What the tests and the benchmarks both start: Debian's Chromium, Daphne on a free port, and
two Daphne processes behind Debian's HAProxy.

A plain module under tests/, as tests/twilio_api.py is, so that bench/ imports it without pytest
and without a change to mypy's `files`. It imports only the standard library: the benchmarks
load it before (or without) setting Django up.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Final

ROOT = Path(__file__).resolve().parent.parent

# Playwright's launch options, for its sync and async APIs alike: `chromium.launch(**CHROMIUM)`.
# Without the background-networking flags Chromium keeps dialling Google's hosts, which a closed
# network refuses (console noise and slow starts).
CHROMIUM: Final[dict[str, Any]] = {
    "executable_path": "/usr/bin/chromium",
    "args": [
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ],
}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def log_tail(log: Path, lines: int = 30) -> str:
    """Return the last LINES lines of a server's log."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_for_url(url: str, timeout: float, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until URL answers 200, or raise with the end of the process's output."""

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 (http)
                return bool(reply.status == 200)
        except OSError:
            return False

    _wait_until(answers, f"{url} did not answer", timeout, process, log)


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until PORT on 127.0.0.1 accepts connections, or raise with the process's output."""

    def listens() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    _wait_until(listens, f"port {port} did not listen", timeout, process, log)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """End PROCESS, killing it if it does not end within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until(
    ready: Callable[[], bool],
    failure: str,
    timeout: float,
    process: subprocess.Popen[bytes],
    log: Path,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited early; {log} ends:\n{log_tail(log)}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{failure} within {timeout} s; {log} ends:\n{log_tail(log)}")


class Daphne:
    """One Daphne process serving APPLICATION on a free loopback port; restartable on that port.

    With READY_PATH, start() returns once that path answers 200; without, once the port accepts
    connections (Daphne imports the application before it listens), which suits an application
    that serves no HTTP, such as bench/echo_asgi.py. The output goes to LOG, by default a new
    temporary file.
    """

    def __init__(
        self,
        application: str,
        env: Mapping[str, str],
        log: Path | None = None,
        ready_path: str | None = None,
    ) -> None:
        self.application = application
        # As scripts/run serves it: two malloc arenas, so threads do not each keep a part's worth.
        self.env = {"MALLOC_ARENA_MAX": "2", **env}
        self.log = log or Path(tempfile.mkstemp(prefix="daphne-", suffix=".log")[1])
        self.ready_path = ready_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("Daphne is not running")
        return self.process.pid

    def start(self, timeout: float = 30) -> None:
        """Start Daphne and return once it is ready (see the class)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    self.application,
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if self.ready_path is None:
            wait_for_port(self.port, timeout, self.process, self.log)
        else:
            wait_for_url(f"{self.url}{self.ready_path}", timeout, self.process, self.log)

    def stop(self) -> None:
        """Stop Daphne, killing it if it does not end within 10 s."""
        if self.process is None:
            return
        _terminate(self.process)
        self.process = None

    def kill(self) -> None:
        """Kill Daphne outright with SIGKILL, as a crash or the OOM killer would: no shutdown,
        nothing flushed, no socket closed by Daphne itself. start() serves on the same port
        again."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        """Return the last LINES lines of the server's output."""
        return log_tail(self.log, lines)

    def __enter__(self) -> "Daphne":
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


class HAProxy:
    """Debian's HAProxy on a free loopback port with scripts/haproxy.cfg: the widget's paths to
    CUSTOMER_SIDE, every other path to AGENT_SIDE (addresses such as 127.0.0.1:8001). Its log, one
    line a request or websocket, goes to LOG, by default a new temporary file."""

    CONFIG: Final = ROOT / "scripts" / "haproxy.cfg"

    def __init__(self, agent_side: str, customer_side: str, log: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "SEALDESK_PROXY_BIND": f"127.0.0.1:{self.port}",
            "SEALDESK_AGENT_SIDE": agent_side,
            "SEALDESK_CUSTOMER_SIDE": customer_side,
        }
        self.log = log or Path(tempfile.mkstemp(prefix="haproxy-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10) -> None:
        """Start HAProxy and return once it listens."""
        # Debian installs it in /usr/sbin, which a user's PATH may leave out.
        binary = shutil.which("haproxy", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
        if binary is None:
            raise RuntimeError("HAProxy is missing: scripts/install --test installs Debian's")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(self.CONFIG)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, timeout, self.process, self.log)

    def stop(self) -> None:
        """Stop HAProxy, which drops every connection through it."""
        if self.process is None:
            return
        _terminate(self.process)
        self.process = None


class LoadBalancedDaphne:
    """Two Daphne processes serving APPLICATION behind HAProxy, reached at `url`: the customer
    side (the widget's file, API and socket) on one, the agent side (everything else) on the
    other, so that a chat crosses processes through the channel layer, which must be Redis.

    It has Daphne's interface. stop() stops the proxy and both processes, start() starts what is
    stopped; kill() kills both Daphne processes as a crash would and leaves the proxy running, so
    that the proxy must drop their sockets itself. `pid` is the customer side's, the process a
    customer's frame reaches. Each process keeps its own log; `log` is all three in one file.
    """

    def __init__(self, application: str, env: Mapping[str, str], ready_path: str) -> None:
        self.agent_side = Daphne(application, env, ready_path=ready_path)
        self.customer_side = Daphne(application, env, ready_path=ready_path)
        self.proxy = HAProxy(
            f"127.0.0.1:{self.agent_side.port}", f"127.0.0.1:{self.customer_side.port}"
        )
        self.port = self.proxy.port
        self.url = self.proxy.url
        self._log = Path(tempfile.mkstemp(prefix="load-balanced-", suffix=".log")[1])

    @property
    def pid(self) -> int:
        return self.customer_side.pid

    @property
    def log(self) -> Path:
        """A file holding the agent side's, the customer side's and the proxy's output so far."""
        logs = (self.agent_side.log, self.customer_side.log, self.proxy.log)
        self._log.write_bytes(b"".join(log.read_bytes() for log in logs))
        return self._log

    def start(self, timeout: float = 30) -> None:
        """Start whichever of the two processes and the proxy is stopped, the processes at once,
        and return once all are ready."""
        stopped = [side for side in (self.agent_side, self.customer_side) if side.process is None]
        with ThreadPoolExecutor() as pool:
            for started in [pool.submit(side.start, timeout) for side in stopped]:
                started.result()
        if self.proxy.process is None:
            self.proxy.start()

    def stop(self) -> None:
        """Stop the proxy, then both processes, so that no client meets a proxy without them."""
        self.proxy.stop()
        self.agent_side.stop()
        self.customer_side.stop()

    def kill(self) -> None:
        """Kill both Daphne processes with SIGKILL (see Daphne.kill); the proxy keeps running."""
        self.agent_side.kill()
        self.customer_side.kill()

    def log_tail(self, lines: int = 30) -> str:
        """Return the last LINES lines of each process's output."""
        return "\n".join(
            f"== {name}:\n{log_tail(log, lines)}"
            for name, log in (
                ("agent side", self.agent_side.log),
                ("customer side", self.customer_side.log),
                ("proxy", self.proxy.log),
            )
        )

    def __enter__(self) -> "LoadBalancedDaphne":
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
