"""Membership becomes a record per person (Participant) with the devices it takes part through
(ParticipantDevice), instead of a row per device and Conversation.agent. Existing rows move over:
each old participation becomes a person's participation with its one device."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def per_person(apps, schema_editor):
    Participant = apps.get_model("chat", "Participant")
    ParticipantDevice = apps.get_model("chat", "ParticipantDevice")
    kept = {}
    for old in Participant.objects.select_related("device").order_by("joined_at", "pk"):
        person = (old.conversation_id, old.device.agent_id)
        participant = kept.get(person) if old.device.agent_id else None
        if participant is None:
            participant = kept[person] = old
            old.agent_id = old.device.agent_id
            old.save(update_fields=["agent"])
        ParticipantDevice.objects.create(
            participant=participant,
            device_id=old.device_id,
            last_sender_seq=old.last_sender_seq,
            added_at=old.joined_at,
        )
        if participant is not old:  # a second device of the same person: one participation
            old.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0004_twilio_taskrouter"),
        ("chat", "0003_twilio_taskrouter"),
    ]

    operations = [
        migrations.AlterField(
            model_name="participant",
            name="device",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="agents.device"
            ),
        ),
        migrations.CreateModel(
            name="ParticipantDevice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "last_sender_seq",
                    models.PositiveBigIntegerField(
                        default=0, help_text="The device's last message number in the conversation"
                    ),
                ),
                ("added_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "device",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="participations",
                        to="agents.device",
                    ),
                ),
                (
                    "participant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="devices",
                        to="chat.participant",
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="participant",
            name="agent",
            field=models.ForeignKey(
                blank=True,
                help_text="The agent or supervisor; none for the customer.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="participations",
                to="agents.agent",
            ),
        ),
        migrations.RunPython(per_person, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="participant",
            name="participant_once_per_conversation",
        ),
        migrations.RemoveField(
            model_name="conversation",
            name="agent",
        ),
        migrations.RemoveField(
            model_name="participant",
            name="device",
        ),
        migrations.RemoveField(
            model_name="participant",
            name="last_sender_seq",
        ),
        migrations.AlterModelOptions(
            name="participant",
            options={"ordering": ["conversation", "joined_at", "pk"]},
        ),
        migrations.AddIndex(
            model_name="participant",
            index=models.Index(fields=["agent", "left_at"], name="chat_partic_agent_i_37b989_idx"),
        ),
        migrations.AddConstraint(
            model_name="participant",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("agent__isnull", True), ("role", "customer")),
                    models.Q(
                        models.Q(("role", "customer"), _negated=True), ("agent__isnull", False)
                    ),
                    _connector="OR",
                ),
                name="participant_agent_matches_role",
            ),
        ),
        migrations.AddConstraint(
            model_name="participant",
            constraint=models.UniqueConstraint(
                condition=models.Q(("left_at__isnull", True)),
                fields=("conversation", "agent"),
                name="participant_once_at_a_time",
            ),
        ),
        migrations.AddConstraint(
            model_name="participant",
            constraint=models.UniqueConstraint(
                condition=models.Q(("role", "customer")),
                fields=("conversation",),
                name="one_customer_per_conversation",
            ),
        ),
        migrations.AddConstraint(
            model_name="participantdevice",
            constraint=models.UniqueConstraint(
                fields=("participant", "device"), name="participant_device_once"
            ),
        ),
    ]
