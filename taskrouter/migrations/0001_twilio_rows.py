"""Rows of their own for what Sealdesk keeps of Twilio TaskRouter (taskrouter/models.py)."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("agents", "0004_twilio_taskrouter"),
        ("chat", "0005_offer_kinds"),
    ]

    operations = [
        migrations.CreateModel(
            name="Reservation",
            fields=[
                (
                    "offer",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="twilio_reservation",
                        serialize=False,
                        to="chat.offer",
                    ),
                ),
                (
                    "sid",
                    models.CharField(max_length=34, unique=True, verbose_name="Reservation SID"),
                ),
            ],
            options={
                "verbose_name": "Twilio Reservation",
            },
        ),
        migrations.CreateModel(
            name="Task",
            fields=[
                (
                    "conversation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="twilio_task",
                        serialize=False,
                        to="chat.conversation",
                    ),
                ),
                (
                    "sid",
                    models.CharField(
                        blank=True, db_index=True, max_length=34, verbose_name="Task SID"
                    ),
                ),
                ("requested_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "Twilio Task",
            },
        ),
        migrations.CreateModel(
            name="Workspace",
            fields=[
                (
                    "tenant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="twilio_workspace",
                        serialize=False,
                        to="agents.tenant",
                    ),
                ),
                (
                    "account_sid",
                    models.CharField(
                        blank=True,
                        max_length=34,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^AC[0-9a-fA-F]{32}$",
                                "A Account SID is AC followed by 32 hex digits, as Twilio's console shows it.",
                            )
                        ],
                        verbose_name="Account SID",
                    ),
                ),
                (
                    "sid",
                    models.CharField(
                        blank=True,
                        max_length=34,
                        null=True,
                        unique=True,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^WS[0-9a-fA-F]{32}$",
                                "A Workspace SID is WS followed by 32 hex digits, as Twilio's console shows it.",
                            )
                        ],
                        verbose_name="Workspace SID",
                    ),
                ),
                (
                    "workflow_sid",
                    models.CharField(
                        blank=True,
                        max_length=34,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^WW[0-9a-fA-F]{32}$",
                                "A Workflow SID is WW followed by 32 hex digits, as Twilio's console shows it.",
                            )
                        ],
                        verbose_name="Workflow SID",
                    ),
                ),
                (
                    "available_activity_sid",
                    models.CharField(
                        blank=True,
                        max_length=34,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^WA[0-9a-fA-F]{32}$",
                                "A Activity SID is WA followed by 32 hex digits, as Twilio's console shows it.",
                            )
                        ],
                        verbose_name="Activity SID for Available",
                    ),
                ),
                (
                    "away_activity_sid",
                    models.CharField(
                        blank=True,
                        max_length=34,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^WA[0-9a-fA-F]{32}$",
                                "A Activity SID is WA followed by 32 hex digits, as Twilio's console shows it.",
                            )
                        ],
                        verbose_name="Activity SID for Away",
                    ),
                ),
                (
                    "offline_activity_sid",
                    models.CharField(
                        blank=True,
                        max_length=34,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^WA[0-9a-fA-F]{32}$",
                                "A Activity SID is WA followed by 32 hex digits, as Twilio's console shows it.",
                            )
                        ],
                        verbose_name="Activity SID for Offline",
                    ),
                ),
            ],
            options={
                "verbose_name": "Twilio TaskRouter workspace",
            },
        ),
        migrations.CreateModel(
            name="Callback",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "digest",
                    models.CharField(
                        help_text="SHA-256 of the URL and the parameters", max_length=64
                    ),
                ),
                ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="agents.tenant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "digest"), name="taskrouter_callback_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="TaskQueue",
            fields=[
                (
                    "team",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="twilio_task_queue",
                        serialize=False,
                        to="agents.team",
                    ),
                ),
                (
                    "sid",
                    models.CharField(
                        blank=True,
                        help_text="With Twilio TaskRouter routing: the TaskQueue of this team's chats.",
                        max_length=34,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^WQ[0-9a-fA-F]{32}$",
                                "A TaskQueue SID is WQ followed by 32 hex digits, as Twilio's console shows it.",
                            )
                        ],
                        verbose_name="TaskQueue SID",
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="agents.tenant",
                    ),
                ),
            ],
            options={
                "verbose_name": "Twilio TaskQueue",
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("sid", ""), _negated=True),
                        fields=("tenant", "sid"),
                        name="task_queue_once_per_tenant",
                        violation_error_message="Another team of this tenant has this TaskQueue.",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="Worker",
            fields=[
                (
                    "agent",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="twilio_worker",
                        serialize=False,
                        to="agents.agent",
                    ),
                ),
                (
                    "sid",
                    models.CharField(
                        blank=True,
                        help_text="With Twilio TaskRouter routing: this agent's Worker.",
                        max_length=34,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^WK[0-9a-fA-F]{32}$",
                                "A Worker SID is WK followed by 32 hex digits, as Twilio's console shows it.",
                            )
                        ],
                        verbose_name="Worker SID",
                    ),
                ),
                (
                    "presence",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("available", "Available"),
                            ("away", "Away"),
                            ("offline", "Offline"),
                        ],
                        editable=False,
                        help_text="The presence of the Activity Twilio last reported or was sent; empty if unknown",
                        max_length=20,
                    ),
                ),
                (
                    "activity_at",
                    models.DateTimeField(
                        blank=True,
                        editable=False,
                        help_text="Time of the last Activity event applied",
                        null=True,
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="agents.tenant",
                    ),
                ),
            ],
            options={
                "verbose_name": "Twilio Worker",
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("sid", ""), _negated=True),
                        fields=("tenant", "sid"),
                        name="worker_once_per_tenant",
                        violation_error_message="Another agent of this tenant is this Worker.",
                    )
                ],
            },
        ),
    ]
