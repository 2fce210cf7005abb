"""How long the reports' queries take over 10,000 conversations, and how many queries each is.

Migrates a fresh database (SQLite in a temporary folder, or the DATABASE_URL given), creates a
tenant with 10 teams and 50 agents, then 10,000 conversations spread over the last 29 days
(bulk_create), each with one to three offers: about 15 % with a missed offer before the one
taken, about 10 % with a declined one, 12 % never taken; 90 % closed with a wrap-up, 40 %
rated. Then times, wall clock, the median of --repeats runs (and counts the queries of one run,
requests included):

1. the figures of the whole tenant over 30 days (a tenant admin's report), and of one team over
   7 days (a supervisor's), `chat.reports.figures`; and its part in Python: the list of
   durations and the percentiles computed from it;
2. the CSV of the 10,000 conversations and of the figures, as the reports page streams them;
3. the reports page and the admin's conversation list, through Django's test client;
4. a supervisor's board (`chat.actions.supervision.board`).

    .venv/bin/python -m bench.reports_bench [--conversations 10000] [--repeats 5]
"""

import argparse
import os
import random
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench.servers import fresh_django


def main() -> None:
    """Parse the arguments, set Django up on a fresh database, seed it and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each measurement")
    args = parser.parse_args()
    fresh_django()
    started = time.perf_counter()
    seeded = seed(args.conversations)
    print(
        f"seeded {args.conversations} conversations and {seeded['offers']} offers in "
        f"{time.perf_counter() - started:.1f} s ({os.environ['DATABASE_URL'].split(':')[0]})",
        flush=True,
    )
    print("| what | median ms | min ms | queries |\n| --- | ---: | ---: | ---: |")
    for name, work in measurements(seeded):
        times, queries = measure(work, args.repeats)
        print(
            f"| {name} | {statistics.median(times):,.1f} | {min(times):,.1f} | {queries} |",
            flush=True,
        )


def seed(count: int) -> dict[str, Any]:
    """Create the tenant, its staff and COUNT conversations with their offers."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from agents.models import Agent, Device, Team, Tenant
    from chat.models import Conversation, Offer, hash_token

    rng = random.Random(12)  # noqa: S311 (the same data on every run; no secret)
    tenant = Tenant.objects.create(
        name="Bench", slug="bench", allowed_origins="https://bench.example"
    )
    teams = [Team.objects.create(tenant=tenant, name=f"Team {n}") for n in range(10)]
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"bench-{n}") for n in range(52)]
    )
    admin = Agent.objects.create(
        user=users[50], tenant=tenant, display_name="Admin", role=Agent.Role.TENANT_ADMIN
    )
    supervisor = Agent.objects.create(
        user=users[51], tenant=tenant, display_name="Supervisor", role=Agent.Role.SUPERVISOR
    )
    supervisor.teams.set(teams[:1])
    agents = []
    for n in range(50):
        agent = Agent.objects.create(user=users[n], tenant=tenant, display_name=f"Agent {n:02}")
        agent.teams.set([teams[n % 10]])
        agents.append(agent)
    now = timezone.now()
    devices = Device.objects.bulk_create(
        [
            Device(
                id=secrets.token_hex(16),
                tenant=tenant,
                kind=Device.Kind.CUSTOMER,
                sign_public="A" * 43 + "=",
                box_public="B" * 43 + "=",
            )
            for _ in range(count)
        ],
        batch_size=2000,
    )
    conversations, offers = [], []
    dispositions = [d.value for d in Conversation.CLOSING_DISPOSITIONS]
    for device in devices:
        team = rng.randrange(10)
        created = now - timedelta(seconds=rng.uniform(0, 29 * 86_400))
        conversation = Conversation(
            tenant=tenant,
            team=teams[team],
            customer_device=device,
            customer_token_hash=hash_token(secrets.token_hex(8)),
            created_at=created,
            queued_at=created,
            state=Conversation.State.CLOSED,
        )
        team_agents = agents[team::10]
        taken = rng.random() > 0.12
        offered = created
        for state, chance in ((Offer.State.EXPIRED, 0.15), (Offer.State.DECLINED, 0.10)):
            if rng.random() < chance:
                offers.append((conversation, rng.choice(team_agents), state, offered))
                offered += timedelta(seconds=rng.uniform(5, 30))
        if taken:
            conversation.accepted_at = offered + timedelta(seconds=rng.expovariate(1 / 20))
            offers.append((conversation, rng.choice(team_agents), Offer.State.ACCEPTED, offered))
            closed = conversation.accepted_at + timedelta(seconds=rng.expovariate(1 / 600))
        else:
            closed = offered + timedelta(seconds=rng.uniform(30, 600))
        if rng.random() < 0.9:
            conversation.closed_at = closed
            conversation.disposition = rng.choice(dispositions) if taken else ""
            if taken and rng.random() < 0.4:
                conversation.satisfaction = rng.randint(1, 5)
                conversation.rated_at = closed
        else:
            conversation.state = Conversation.State.ACTIVE if taken else Conversation.State.QUEUED
        conversations.append(conversation)
    Conversation.objects.bulk_create(conversations, batch_size=2000)
    Offer.objects.bulk_create(
        [
            Offer(
                conversation=conversation,
                agent=agent,
                state=state,
                created_at=at,
                expires_at=at + timedelta(seconds=30),
                decided_at=at + timedelta(seconds=5),
            )
            for conversation, agent, state, at in offers
        ],
        batch_size=2000,
    )
    return {
        "tenant": tenant,
        "teams": teams,
        "admin": admin,
        "supervisor": supervisor,
        "offers": len(offers),
    }


def measurements(seeded: dict[str, Any]) -> list[tuple[str, Callable[[], object]]]:
    """Return what to time, by name."""
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from agents.access import report_teams
    from chat import reports
    from chat.actions.supervision import board
    from chat.models import Conversation

    today = timezone.now().date()
    month = reports.Period.last_days(30, today)
    week = reports.Period.last_days(7, today)
    everything = reports.conversations_in(report_teams(seeded["admin"]), month)
    one_team = reports.conversations_in(report_teams(seeded["supervisor"]), week)
    admin_user = seeded["admin"].user
    admin_user.is_staff = True
    admin_user.save()
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin_user)
    query = {"start": month.first.isoformat(), "end": month.last.isoformat()}

    def durations() -> list[Any]:
        return list(
            everything.filter(accepted_at__isnull=False)
            .annotate(waiting=reports.WAITING, handling=reports.HANDLING)
            .values_list("team_id", "waiting", "handling")
        )

    listed = durations()

    def percentiles() -> object:
        return reports.spread(d[1] for d in listed), reports.spread(d[2] for d in listed)

    def streamed(url: str) -> int:
        response: Any = client.get(url, query)
        return sum(len(chunk) for chunk in response.streaming_content)

    def page(url: str, **params: str) -> int:
        response = client.get(url, params)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        return len(response.content)

    report = reports.figures(everything)
    if report["totals"]["conversations"] != Conversation.objects.count():
        raise RuntimeError("the 30 days' report does not count every conversation")
    admin_list = reverse("admin:chat_conversation_changelist")
    return [
        ("figures, whole tenant, 30 days", lambda: reports.figures(everything)),
        ("figures, one team, 7 days", lambda: reports.figures(one_team)),
        (f"durations list ({len(listed):,} rows)", durations),
        ("percentiles in Python (median, p90, twice)", percentiles),
        ("conversation rows for CSV, 30 days", lambda: list(reports.conversation_rows(everything))),
        ("figure rows for CSV", lambda: list(reports.figure_rows(report, month))),
        ("GET conversations.csv, 30 days", lambda: streamed(reverse("reports_conversations_csv"))),
        ("GET reports page, 30 days", lambda: page(reverse("reports"), **query)),
        ("GET admin conversation list", lambda: page(admin_list)),
        (
            "GET admin list, filtered by agent",
            lambda: page(admin_list, agent=str(seeded["teams"][0].agents.first().pk)),
        ),
        ("supervisor's board", lambda: board(seeded["supervisor"])),
    ]


def measure(work: Callable[[], object], repeats: int) -> tuple[list[float], int]:
    """Return the milliseconds of REPEATS runs of WORK and the queries of one run."""
    from django.db import connection

    work()  # warm: compiled queries, templates
    # Counted as they run: a request resets the connection's own log of queries.
    queries = 0

    def count(execute: Callable[..., object], *args: object) -> object:
        nonlocal queries
        queries += 1
        return execute(*args)

    with connection.execute_wrapper(count):
        work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times, queries


if __name__ == "__main__":
    main()
