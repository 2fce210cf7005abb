"""The Twilio columns live in the taskrouter app now: dropped once its 0002 copied them."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0005_offer_kinds"),
        ("taskrouter", "0002_copy_from_core"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="conversation",
            name="twilio_task_requested_at",
        ),
        migrations.RemoveField(
            model_name="conversation",
            name="twilio_task_sid",
        ),
        migrations.RemoveField(
            model_name="offer",
            name="twilio_reservation_sid",
        ),
        migrations.DeleteModel(
            name="TwilioCallback",
        ),
    ]
