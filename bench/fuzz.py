"""Fuzzing at length: the recipes of tests/test_fuzz.py, by the hundred thousand.

The test file runs a few hundred generated inputs in the suite; this runs the same generators
(Hypothesis, with a seed) and the same checks for as many as asked, in one process on a fresh
database (a temporary SQLite file, or the DATABASE_URL given, flushed), through Channels'
WebsocketCommunicator and Django's test client as the tests do, and counts instead of stopping
at the first failure. For each kind of input it prints how many were tried and refused, and the
inputs that broke a property: a 5xx answer, an unhandled exception, a row or file stored from a
refused input, a socket that died or closed, or an answer outside the contract. Every one of
those counts should be 0; each distinct failure is printed once, with how often it happened
and the first input that caused it.

    .venv/bin/python -m bench.fuzz [--total 100000] [--seed 0] [--only "Twilio callbacks"]
"""

import argparse
import asyncio
import os
import re
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.files_common import log
from bench.servers import fresh_django

PROJECT_FRAME = re.compile(r'File ".*/(agents|chat|contactcenter|taskrouter|sealdesk_client)/')
KINDS = ("5xx", "exception", "stored", "socket", "contract")

# Each kind's share of the inputs: the sockets' frames first, where most of the protocol is.
SHARES = {
    "widget socket frames": 0.25,
    "agent socket frames": 0.25,
    "widget socket handshakes": 0.025,
    "agent socket handshakes": 0.025,
    "widget API requests": 0.15,
    "customer upload requests": 0.10,
    "dashboard upload requests": 0.10,
    "Twilio callbacks": 0.10,
}


class Tally:
    """What one kind of input did: how many were tried and refused, its failures by kind, and
    for each distinct failure (its kind and last line) how often, with the first input."""

    def __init__(self) -> None:
        self.tried = 0
        self.refused = 0
        self.failed: Counter[str] = Counter()
        self.distinct: Counter[tuple[str, str]] = Counter()
        self.first: dict[tuple[str, str], str] = {}
        self.seconds = 0.0

    def add(self, outcome: Any, sent: object) -> None:
        self.tried += 1
        self.refused += outcome.refused
        for kind in {kind for kind, _ in outcome.failures}:
            self.failed[kind] += 1
        for kind, detail in outcome.failures:
            lines = detail.strip().splitlines() or [""]
            # Where in Sealdesk it happened: the innermost line of its own code in the traceback.
            ours = [line.strip() for line in lines if PROJECT_FRAME.search(line)]
            key = (kind, f"{lines[-1][:200]} ({ours[-1] if ours else 'no frame of ours'})")
            self.distinct[key] += 1
            self.first.setdefault(key, f"    {sent!r:.600}")


def main() -> None:
    """Parse the arguments, set Django up on a fresh database, fuzz, and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--total", type=int, default=100_000, help="inputs in all")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis's seed")
    parser.add_argument("--only", nargs="*", default=list(SHARES), help="kinds of input to try")
    args = parser.parse_args()
    # The agent socket's site and the test client's host.
    os.environ["ALLOWED_HOSTS"] = "localhost,testserver"
    os.environ.setdefault("LOG_LEVEL", "ERROR")  # the refusals' warnings would fill the screen
    fresh_django()
    from django.conf import settings

    from tests.test_fuzz import RATE_LIMITS

    for limit in RATE_LIMITS:  # every request comes from one address
        setattr(settings, limit, 0)
    started = time.monotonic()
    tallies = run(args.total, args.seed, args.only)
    report(tallies, time.monotonic() - started)


def run(total: int, seed: int, only: list[str]) -> dict[str, Tally]:
    """Fuzz TOTAL inputs shared among the kinds; return what each kind did."""
    from django.contrib.auth import get_user_model
    from hypothesis import strategies as st

    from taskrouter import api
    from tests import test_fuzz as fuzz
    from tests.factories import make_staff
    from tests.twilio_api import TwilioApi

    desk = fuzz.Desk(
        make_staff("Acme", "acme", ("ada", "sam", "alice")),
        make_staff("Globex", "globex", ("oscar", "olga", "otto")),
    )
    rita = get_user_model().objects.create_superuser("rita", "rita@example.com", "-")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    sockets = fuzz.Sockets(desk)
    twilio_server = TwilioApi()
    twilio_server.start()
    personas = st.sampled_from(fuzz.WIDGET_PERSONAS)
    scenes = st.sampled_from(("open", "closed"))
    agents = st.sampled_from(("alice", "sam"))
    kinds: dict[str, tuple[st.SearchStrategy[Any], Callable[..., Any]]] = {
        "widget socket frames": (
            st.tuples(personas, scenes, fuzz.socket_inputs("widget")),
            lambda p, s, sent: loop.run_until_complete(sockets.try_frame(p, s, sent)),
        ),
        "agent socket frames": (
            st.tuples(agents, scenes, fuzz.socket_inputs("agent")),
            lambda p, s, sent: loop.run_until_complete(sockets.try_frame(p, s, sent)),
        ),
        "widget socket handshakes": (
            st.tuples(fuzz.socket_widget_ids, fuzz.page_origins),
            lambda w, o: loop.run_until_complete(fuzz.widget_handshake(desk, w, o)),
        ),
        "agent socket handshakes": (
            st.tuples(st.sampled_from(fuzz.AGENT_PERSONAS), fuzz.agent_devices, fuzz.site_origins),
            lambda p, d, o: loop.run_until_complete(fuzz.agent_handshake(desk, rita, p, d, o)),
        ),
        "widget API requests": (
            st.tuples(fuzz.widget_requests),
            lambda sent: desk.try_request("page", sent, "widget"),
        ),
        "customer upload requests": (
            st.tuples(fuzz.customer_uploads),
            lambda sent: desk.try_request("customer", sent, "uploads"),
        ),
        "dashboard upload requests": (
            st.tuples(st.sampled_from(("alice", "otto", "anonymous")), fuzz.agent_uploads),
            lambda p, sent: desk.try_request(p, sent, "uploads"),
        ),
        "Twilio callbacks": (
            st.tuples(fuzz.callbacks),
            lambda sent: desk.try_request("twilio", sent, "twilio"),
        ),
    }
    tallies: dict[str, Tally] = {}
    try:
        for name, (strategy, attempt) in kinds.items():
            if name not in only:
                continue
            if name == "Twilio callbacks":  # last: the other kinds run on the built-in router
                set_up_twilio(desk, twilio_server)
            tally = tallies[name] = Tally()
            count = max(1, round(total * SHARES[name]))

            began = time.monotonic()
            fuzz_kind(strategy, attempt, tally, count, seed)
            tally.seconds = time.monotonic() - began
            log(f"{name}: {tally.tried} in {tally.seconds:.0f} s, failures {dict(tally.failed)}")
    finally:
        loop.run_until_complete(sockets.close())
        api.flush()
        twilio_server.stop()
    return tallies


def set_up_twilio(desk: Any, server: Any) -> None:
    """Put both tenants of DESK in Twilio TaskRouter mode, Twilio's API answered by SERVER."""
    from django.conf import settings

    from taskrouter import api
    from tests.test_fuzz import TwilioAccount

    settings.TWILIO_API_BASE_URL = server.url
    desk.twilio = {
        "acme": TwilioAccount(desk.acme, "a1" * 16),
        "globex": TwilioAccount(desk.globex, "b2" * 16),
    }
    for account in desk.twilio.values():
        os.environ.update(account.variables())
    desk.set_up_twilio()
    api.flush()


def fuzz_kind(
    strategy: Any, attempt: Callable[..., Any], tally: Tally, count: int, seed: int
) -> None:
    """Try COUNT inputs drawn from STRATEGY with ATTEMPT, counting what they did in TALLY."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from tests.test_fuzz import Outcome

    @hypothesis_seed(seed)
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # nothing fails here, so nothing to shrink
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(drawn: tuple[Any, ...]) -> None:
        try:
            outcome = attempt(*drawn)
        except Exception:  # the fuzz's own set-up for this input, such as a socket's opening
            outcome = Outcome(True, [("exception", traceback.format_exc())])
        tally.add(outcome, drawn)

    one()


def report(tallies: dict[str, Tally], seconds: float) -> None:
    """Print the figures as a Markdown table, then the inputs that broke a property."""
    print(
        "| input | tried | refused | 5xx | unhandled exceptions | stored from refused input "
        "| socket died or closed | outside the contract | seconds | per second |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    totals: Counter[str] = Counter()
    for name, tally in tallies.items():
        totals.update(tried=tally.tried, refused=tally.refused, **tally.failed)
        failed = " | ".join(f"{tally.failed[kind]:,}" for kind in KINDS)
        rate = tally.tried / tally.seconds if tally.seconds else 0.0
        print(
            f"| {name} | {tally.tried:,} | {tally.refused:,} | {failed} "
            f"| {tally.seconds:.0f} | {rate:.0f} |"
        )
    failed = " | ".join(f"**{totals[kind]:,}**" for kind in KINDS)
    print(
        f"| **all** | **{totals['tried']:,}** | **{totals['refused']:,}** | {failed} "
        f"| **{seconds:.0f}** | **{totals['tried'] / seconds:.0f}** |"
    )
    for name, tally in tallies.items():
        for (kind, last), count in tally.distinct.most_common():
            print(f"\n{name}: {count:,} x {kind}: {last}\n{tally.first[(kind, last)]}")


if __name__ == "__main__":
    main()
