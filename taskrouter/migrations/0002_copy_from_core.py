"""Copy the Twilio columns of tenants, teams, agents, conversations and offers, and the handled
callbacks, into this app's rows; the core's migrations that follow drop the columns. Reversible:
going back copies the rows into the columns again."""

from typing import Any

from django.db import migrations

BATCH = 1000


def _in_batches(model: Any, rows: Any) -> None:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            model.objects.bulk_create(batch)
            batch = []
    model.objects.bulk_create(batch)


def forwards(apps: Any, schema_editor: Any) -> None:
    tenant, team, agent = (apps.get_model("agents", name) for name in ("Tenant", "Team", "Agent"))
    conversation, offer = (apps.get_model("chat", name) for name in ("Conversation", "Offer"))
    Workspace = apps.get_model("taskrouter", "Workspace")
    _in_batches(
        Workspace,
        (
            Workspace(
                tenant_id=row.pk,
                account_sid=row.twilio_account_sid,
                sid=row.twilio_workspace_sid or None,
                workflow_sid=row.twilio_workflow_sid,
                available_activity_sid=row.twilio_available_activity_sid,
                away_activity_sid=row.twilio_away_activity_sid,
                offline_activity_sid=row.twilio_offline_activity_sid,
            )
            for row in tenant.objects.exclude(
                routing="builtin",
                twilio_account_sid="",
                twilio_workspace_sid__isnull=True,
                twilio_workflow_sid="",
                twilio_available_activity_sid="",
                twilio_away_activity_sid="",
                twilio_offline_activity_sid="",
            ).iterator()
        ),
    )
    TaskQueue = apps.get_model("taskrouter", "TaskQueue")
    _in_batches(
        TaskQueue,
        (
            TaskQueue(team_id=row.pk, tenant_id=row.tenant_id, sid=row.twilio_task_queue_sid)
            for row in team.objects.exclude(twilio_task_queue_sid="").iterator()
        ),
    )
    Worker = apps.get_model("taskrouter", "Worker")
    _in_batches(
        Worker,
        (
            Worker(
                agent_id=row.pk,
                tenant_id=row.tenant_id,
                sid=row.twilio_worker_sid,
                activity_at=row.twilio_activity_at,
            )
            for row in agent.objects.exclude(
                twilio_worker_sid="", twilio_activity_at__isnull=True
            ).iterator()
        ),
    )
    Task = apps.get_model("taskrouter", "Task")
    _in_batches(
        Task,
        (
            Task(
                conversation_id=row.pk,
                sid=row.twilio_task_sid,
                requested_at=row.twilio_task_requested_at,
            )
            for row in conversation.objects.exclude(
                twilio_task_sid="", twilio_task_requested_at__isnull=True
            ).iterator()
        ),
    )
    Reservation = apps.get_model("taskrouter", "Reservation")
    _in_batches(
        Reservation,
        (
            Reservation(offer_id=row.pk, sid=row.twilio_reservation_sid)
            for row in offer.objects.exclude(twilio_reservation_sid__isnull=True)
            .exclude(twilio_reservation_sid="")
            .iterator()
        ),
    )
    Callback = apps.get_model("taskrouter", "Callback")
    _in_batches(
        Callback,
        (
            Callback(tenant_id=row.tenant_id, digest=row.digest, received_at=row.received_at)
            for row in apps.get_model("chat", "TwilioCallback").objects.iterator()
        ),
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    tenant, team, agent = (apps.get_model("agents", name) for name in ("Tenant", "Team", "Agent"))
    conversation, offer = (apps.get_model("chat", name) for name in ("Conversation", "Offer"))
    for space in apps.get_model("taskrouter", "Workspace").objects.iterator():
        tenant.objects.filter(pk=space.tenant_id).update(
            twilio_account_sid=space.account_sid,
            twilio_workspace_sid=space.sid,
            twilio_workflow_sid=space.workflow_sid,
            twilio_available_activity_sid=space.available_activity_sid,
            twilio_away_activity_sid=space.away_activity_sid,
            twilio_offline_activity_sid=space.offline_activity_sid,
        )
    for queue in apps.get_model("taskrouter", "TaskQueue").objects.iterator():
        team.objects.filter(pk=queue.team_id).update(twilio_task_queue_sid=queue.sid)
    for worker in apps.get_model("taskrouter", "Worker").objects.iterator():
        agent.objects.filter(pk=worker.agent_id).update(
            twilio_worker_sid=worker.sid, twilio_activity_at=worker.activity_at
        )
    for task in apps.get_model("taskrouter", "Task").objects.iterator():
        conversation.objects.filter(pk=task.conversation_id).update(
            twilio_task_sid=task.sid, twilio_task_requested_at=task.requested_at
        )
    for reservation in apps.get_model("taskrouter", "Reservation").objects.iterator():
        offer.objects.filter(pk=reservation.offer_id).update(twilio_reservation_sid=reservation.sid)
    TwilioCallback = apps.get_model("chat", "TwilioCallback")
    _in_batches(
        TwilioCallback,
        (
            TwilioCallback(tenant_id=row.tenant_id, digest=row.digest, received_at=row.received_at)
            for row in apps.get_model("taskrouter", "Callback").objects.iterator()
        ),
    )


class Migration(migrations.Migration):
    dependencies = [("taskrouter", "0001_twilio_rows")]

    operations = [migrations.RunPython(forwards, backwards)]
