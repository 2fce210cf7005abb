"""What the file benchmarks share: progress on stderr, waiting for a quiet machine, CPU seconds."""

import os
import sys
import time

from bench.servers import CLOCK_TICKS, machine_cpu_ticks

QUIET_CPU = 0.15  # of all cores: the machine is quiet enough to measure below this
QUIET_TIMEOUT = 300.0


def log(text: str) -> None:
    """Print progress to stderr, keeping stdout for the figures."""
    print(text, file=sys.stderr, flush=True)


def machine_busy_seconds() -> float:
    """Return the CPU seconds all processes of the machine have used so far, over all cores."""
    return machine_cpu_ticks()[0] / CLOCK_TICKS


def wait_until_quiet(timeout: float = QUIET_TIMEOUT) -> float:
    """Wait up to TIMEOUT s for a second with under QUIET_CPU of the machine busy; return it."""
    deadline = time.monotonic() + timeout
    busy_fraction = 1.0
    while time.monotonic() < deadline:
        busy, total = machine_cpu_ticks()
        time.sleep(1.0)
        busy_after, total_after = machine_cpu_ticks()
        busy_fraction = (busy_after - busy) / max(1, total_after - total)
        if busy_fraction < QUIET_CPU:
            return busy_fraction
    log(f"the machine stayed {busy_fraction:.0%} busy for {timeout:.0f} s; measuring anyway")
    return busy_fraction


def machine_line(busy_fraction: float) -> str:
    """Return a line naming the cores, the load and how busy the machine was before measuring."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cores; load average {load}; "
        f"{busy_fraction:.0%} of all cores busy in the second before measuring"
    )
