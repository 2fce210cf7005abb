"""Protocol v2 (docs/PROTOCOL.md, "From v1 to v2"): close every conversation still open.

A v2 client reads no v1 record, so a conversation begun under v1 could not go on: it is closed as
the router closes one (state, time, disposition `upgraded`, pending offers withdrawn, a `closed`
event its members' browsers see), and a customer who writes again starts a new one. Closed
conversations are left as they are.
"""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.utils import timezone


def close_open_conversations(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    conversation_model = apps.get_model("chat", "Conversation")
    event_model = apps.get_model("chat", "Event")
    offer_model = apps.get_model("chat", "Offer")
    now = timezone.now()
    for conversation in conversation_model.objects.exclude(state="closed").order_by("pk"):
        offer_model.objects.filter(conversation=conversation, state="pending").update(
            state="rescinded", decided_at=now
        )
        conversation.state = "closed"
        conversation.closed_at = now
        conversation.disposition = "upgraded"
        conversation.last_seq += 1
        conversation.save(update_fields=["state", "closed_at", "disposition", "last_seq"])
        event_model.objects.create(
            conversation=conversation,
            seq=conversation.last_seq,
            kind="closed",
            body={"by": "upgrade", "disposition": "upgraded"},
        )


class Migration(migrations.Migration):
    dependencies = [("chat", "0006_twilio_moved_to_taskrouter")]

    operations = [
        migrations.AlterField(
            model_name="conversation",
            name="disposition",
            field=models.CharField(
                blank=True,
                choices=[
                    ("resolved", "Resolved"),
                    ("follow_up", "Needs follow-up"),
                    ("no_answer", "Customer left"),
                    ("spam", "Spam or abuse"),
                    ("unrouted", "No agent took it"),
                    ("upgraded", "Closed by the upgrade to protocol v2"),
                ],
                max_length=10,
            ),
        ),
        migrations.RunPython(close_open_conversations, migrations.RunPython.noop),
    ]
