"""The command-line client: a customer and an agent chat from two terminals."""

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


def read_until(stream: IO[str], text: str, timeout: float = 20) -> list[str]:
    """Return the lines a process printed up to the one containing TEXT."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if text in line:
            return lines
    raise AssertionError(f"{text!r} not printed; got {lines}")


def test_customer_and_agent_chat_from_the_command_line(acme: Staff, daphne: DaphneServer) -> None:
    origin = "https://www.acme.example"
    base = [sys.executable, "-m", "sealdesk_client"]
    env = {**os.environ, "SEALDESK_PASSWORD": PASSWORD}
    options = {
        "cwd": ROOT,
        "env": env,
        "text": True,
        "stdin": subprocess.PIPE,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.STDOUT,
    }
    agent = subprocess.Popen(
        [*base, "agent", "--url", daphne.url, "--username", "alice", "--wait", "30"], **options
    )  # type: ignore[call-overload]
    customer = None
    try:
        assert agent.stdout is not None
        read_until(agent.stdout, "waiting for a chat")
        customer = subprocess.Popen(
            [
                *base,
                "customer",
                "--url",
                daphne.url,
                "--widget",
                acme.tenant.widget_id,
                "--origin",
                origin,
                "--name",
                "Carla",
                "--question",
                "Is it raining?",
            ],
            **options,  # type: ignore[call-overload]
        )
        assert customer.stdout is not None and customer.stdin is not None
        assert agent.stdin is not None
        read_until(customer.stdout, "in the queue")
        seen = read_until(agent.stdout, "Is it raining?")
        assert any(line.startswith("Customer key: ") for line in seen)
        agent.stdin.write("Not here.\n")
        agent.stdin.flush()
        read_until(customer.stdout, "them: Not here.")
        customer.stdin.write("Good to know!\n")
        customer.stdin.flush()
        read_until(agent.stdout, "them: Good to know!")
    finally:
        for process in (agent, customer):
            if process is not None:
                process.kill()
                process.wait(timeout=10)
