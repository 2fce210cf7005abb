"""Conversations in the admin: a read-only list of their metadata, with filters and a CSV
download, scoped like the rest of the tenant admin (agents/admin.py). Never an event: the
admin shows when, where, who and how it ended, never a byte of ciphertext."""

from datetime import datetime
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents import access
from agents.admin import TenantScopedAdmin
from chat import reports
from chat.models import Conversation, Offer

# What the server knows of a chat without reading it; not the customer's token hash or keys.
METADATA = (
    "id",
    "tenant",
    "team",
    "state",
    "created_at",
    "accepted_at",
    "closed_at",
    "waiting",
    "handling",
    "disposition",
    "satisfaction",
    "rated_at",
    "language",
    "origin",
    "supervision",
    "last_seq",
)


class AgentFilter(admin.SimpleListFilter):
    """The conversations an agent of the user's tenant took (accepted an offer of)."""

    title = "agent who took it"
    parameter_name = "agent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        agents = access.agents_for(request.user).order_by("display_name", "pk")
        return [(str(agent.pk), agent.display_name) for agent in agents]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        agent = self.value()
        if not agent:
            return queryset
        took = Offer.objects.filter(state=Offer.State.ACCEPTED, agent_id=agent)
        return queryset.filter(pk__in=took.values("conversation_id"))


@admin.register(Conversation)
class ConversationAdmin(TenantScopedAdmin[Conversation]):
    scope = staticmethod(access.conversation_metadata_for)
    lookup = staticmethod(access.access_conversation_metadata)
    date_hierarchy = "created_at"
    actions = ["download_csv"]
    list_per_page = 50
    fields = METADATA
    readonly_fields = METADATA

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return (
            super()
            .get_queryset(request)
            .annotate(waiting=reports.WAITING, handling=reports.HANDLING)
        )

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = [
            "short_id",
            "team",
            "state",
            "created_at",
            "waiting",
            "handling",
            "disposition",
            "satisfaction",
        ]
        return [*columns, "tenant"] if access.is_platform_admin(request.user) else columns

    def get_list_filter(self, request: HttpRequest) -> Any:
        # Only teams of the listed conversations: the plain filter would list every tenant's.
        columns: list[Any] = [
            "state",
            ("team", admin.RelatedOnlyFieldListFilter),
            AgentFilter,
            "disposition",
            "satisfaction",
        ]
        return ["tenant", *columns] if access.is_platform_admin(request.user) else columns

    @admin.display(description=_("Conversation"), ordering="created_at")
    def short_id(self, conversation: Conversation) -> str:
        return str(conversation.id)[:8]

    @admin.display(description=_("Waiting"), ordering="waiting")
    def waiting(self, conversation: Conversation) -> str:
        return _between(conversation.created_at, conversation.accepted_at)

    @admin.display(description=_("Handling"), ordering="handling")
    def handling(self, conversation: Conversation) -> str:
        return _between(conversation.accepted_at, conversation.closed_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    @admin.action(description=_("Download the selected conversations as CSV"))
    def download_csv(
        self, request: HttpRequest, queryset: QuerySet[Conversation]
    ) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            reports.csv_text(reports.conversation_rows(queryset)),
            content_type="text/csv; charset=utf-8",
        )
        name = f"sealdesk-conversations-{timezone.now():%Y-%m-%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _between(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "–"
    seconds = round((end - start).total_seconds())
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
