"""The Twilio columns live in the taskrouter app now: dropped once its 0002 copied them."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0004_twilio_taskrouter"),
        ("taskrouter", "0002_copy_from_core"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="agent",
            name="agent_worker_unique_per_tenant",
        ),
        migrations.RemoveConstraint(
            model_name="team",
            name="team_task_queue_unique_per_tenant",
        ),
        migrations.RemoveField(
            model_name="agent",
            name="twilio_activity_at",
        ),
        migrations.RemoveField(
            model_name="agent",
            name="twilio_worker_sid",
        ),
        migrations.RemoveField(
            model_name="team",
            name="twilio_task_queue_sid",
        ),
        migrations.RemoveField(
            model_name="tenant",
            name="twilio_account_sid",
        ),
        migrations.RemoveField(
            model_name="tenant",
            name="twilio_available_activity_sid",
        ),
        migrations.RemoveField(
            model_name="tenant",
            name="twilio_away_activity_sid",
        ),
        migrations.RemoveField(
            model_name="tenant",
            name="twilio_offline_activity_sid",
        ),
        migrations.RemoveField(
            model_name="tenant",
            name="twilio_workflow_sid",
        ),
        migrations.RemoveField(
            model_name="tenant",
            name="twilio_workspace_sid",
        ),
    ]
