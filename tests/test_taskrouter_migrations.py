"""Moving Twilio's columns off the core's tables into the taskrouter app keeps every tenant's
set-up and traffic, and going back restores the columns.

The database is taken back to the migrations before the move, filled through the models of that
time, and migrated forward (and back, and forward again to the newest state for the next tests).
"""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.twilio_api import sid

pytestmark = pytest.mark.django_db(transaction=True)

Target = tuple[str, str | None]  # an app's migration, or None for none of the app's
BEFORE: list[Target] = [
    ("agents", "0004_twilio_taskrouter"),
    ("chat", "0005_offer_kinds"),
    ("taskrouter", None),
]
AFTER: list[Target] = [
    ("agents", "0005_twilio_moved_to_taskrouter"),
    ("chat", "0006_twilio_moved_to_taskrouter"),
    ("taskrouter", "0002_copy_from_core"),
]


def migrate(targets: list[Target]) -> Any:
    """Migrate the test database to TARGETS; return the models as they were then."""
    MigrationExecutor(connection).migrate(targets)
    nodes = [(app, name) for app, name in targets if name is not None]
    return MigrationExecutor(connection).loader.project_state(nodes).apps


def columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [
            column.name for column in connection.introspection.get_table_description(cursor, table)
        ]


def fill_before(apps: Any) -> dict[str, Any]:
    """Create a Twilio-routed tenant with a team, an agent, a chat with a Task, an offer for a
    Reservation and a handled callback, and a tenant on the built-in router; return the SIDs."""
    tenant_model, team_model, agent_model, device_model = (
        apps.get_model("agents", name) for name in ("Tenant", "Team", "Agent", "Device")
    )
    now = timezone.now()
    sids = {
        "account": sid("AC"),
        "workspace": sid("WS"),
        "workflow": sid("WW"),
        "available": sid("WA"),
        "away": sid("WA"),
        "offline": sid("WA"),
        "queue": sid("WQ"),
        "worker": sid("WK"),
        "task": sid("WT"),
        "reservation": sid("WR"),
        "activity_at": now - timedelta(minutes=3),
        "requested_at": now - timedelta(minutes=2),
    }
    acme = tenant_model.objects.create(
        name="Acme",
        slug="acme",
        widget_id="wid_acme",
        routing="twilio",
        twilio_account_sid=sids["account"],
        twilio_workspace_sid=sids["workspace"],
        twilio_workflow_sid=sids["workflow"],
        twilio_available_activity_sid=sids["available"],
        twilio_away_activity_sid=sids["away"],
        twilio_offline_activity_sid=sids["offline"],
    )
    globex = tenant_model.objects.create(name="Globex", slug="globex", widget_id="wid_globex")
    support = team_model.objects.create(
        tenant=acme, name="Support", twilio_task_queue_sid=sids["queue"]
    )
    team_model.objects.create(tenant=acme, name="Sales")
    team_model.objects.create(tenant=globex, name="Support")
    user = apps.get_model("auth", "User").objects.create(username="alice")
    alice = agent_model.objects.create(
        user=user,
        tenant=acme,
        display_name="Alice",
        twilio_worker_sid=sids["worker"],
        twilio_activity_at=sids["activity_at"],
    )
    other = apps.get_model("auth", "User").objects.create(username="sam")
    agent_model.objects.create(user=other, tenant=acme, display_name="Sam")
    device = device_model.objects.create(
        id="d" * 32, tenant=acme, kind="customer", sign_public="A" * 44, box_public="B" * 44
    )
    conversation = apps.get_model("chat", "Conversation").objects.create(
        tenant=acme,
        team=support,
        customer_device=device,
        customer_token_hash="0" * 64,
        twilio_task_sid=sids["task"],
        twilio_task_requested_at=sids["requested_at"],
    )
    apps.get_model("chat", "Offer").objects.create(
        conversation=conversation,
        agent=alice,
        expires_at=now + timedelta(seconds=30),
        twilio_reservation_sid=sids["reservation"],
    )
    apps.get_model("chat", "TwilioCallback").objects.create(tenant=acme, digest="f" * 64)
    return sids


def test_the_twilio_columns_move_into_the_taskrouter_apps_rows_and_back() -> None:
    try:
        sids = fill_before(migrate(BEFORE))

        apps = migrate(AFTER)
        [space] = apps.get_model("taskrouter", "Workspace").objects.all()
        assert (space.tenant.slug, space.account_sid, space.sid, space.workflow_sid) == (
            "acme",
            sids["account"],
            sids["workspace"],
            sids["workflow"],
        )
        assert [
            space.available_activity_sid,
            space.away_activity_sid,
            space.offline_activity_sid,
        ] == [sids["available"], sids["away"], sids["offline"]]
        [queue] = apps.get_model("taskrouter", "TaskQueue").objects.all()
        assert (queue.team.name, queue.tenant.slug, queue.sid) == ("Support", "acme", sids["queue"])
        [worker] = apps.get_model("taskrouter", "Worker").objects.all()
        assert (worker.agent.display_name, worker.tenant.slug, worker.sid) == (
            "Alice",
            "acme",
            sids["worker"],
        )
        assert worker.activity_at == sids["activity_at"] and worker.presence == ""
        [task] = apps.get_model("taskrouter", "Task").objects.all()
        assert (task.sid, task.requested_at) == (sids["task"], sids["requested_at"])
        [reservation] = apps.get_model("taskrouter", "Reservation").objects.all()
        assert reservation.sid == sids["reservation"]
        assert reservation.offer.conversation_id == task.conversation_id
        [callback] = apps.get_model("taskrouter", "Callback").objects.all()
        assert (callback.tenant.slug, callback.digest) == ("acme", "f" * 64)
        for table in (
            "agents_tenant",
            "agents_team",
            "agents_agent",
            "chat_conversation",
            "chat_offer",
        ):
            assert not [column for column in columns(table) if column.startswith("twilio_")]
        assert "chat_twiliocallback" not in connection.introspection.table_names()

        apps = migrate(BEFORE)
        acme = apps.get_model("agents", "Tenant").objects.get(slug="acme")
        assert (acme.twilio_account_sid, acme.twilio_workspace_sid) == (
            sids["account"],
            sids["workspace"],
        )
        assert acme.twilio_offline_activity_sid == sids["offline"]
        assert (
            apps.get_model("agents", "Tenant").objects.get(slug="globex").twilio_workspace_sid
            is None
        )
        team = apps.get_model("agents", "Team").objects.get(tenant=acme, name="Support")
        assert team.twilio_task_queue_sid == sids["queue"]
        alice = apps.get_model("agents", "Agent").objects.get(display_name="Alice")
        assert (alice.twilio_worker_sid, alice.twilio_activity_at) == (
            sids["worker"],
            sids["activity_at"],
        )
        conversation = apps.get_model("chat", "Conversation").objects.get()
        assert conversation.twilio_task_sid == sids["task"]
        assert conversation.twilio_task_requested_at == sids["requested_at"]
        offer = apps.get_model("chat", "Offer").objects.get()
        assert offer.twilio_reservation_sid == sids["reservation"]
        assert apps.get_model("chat", "TwilioCallback").objects.get().digest == "f" * 64
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
