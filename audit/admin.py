"""The audit log in the admin: each tenant admin reads its tenant's entries, a platform admin
every tenant's and the platform's; nobody adds, changes or deletes one (append-only)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from agents import access
from agents.admin import TenantScopedAdmin
from audit.models import Entry


@admin.register(Entry)
class EntryAdmin(TenantScopedAdmin[Entry]):
    scope = staticmethod(access.audit_entries_for)
    lookup = staticmethod(access.access_audit_entry)
    date_hierarchy = "at"
    search_fields = ["actor_name", "target", "address", "request_id"]
    list_per_page = 100
    fields = [
        "at",
        "action",
        "actor_name",
        "target",
        "detail",
        "address",
        "user_agent",
        "request_id",
    ]

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = ["at", "actor_name", "action", "target", "address"]
        return [*columns, "tenant"] if access.is_platform_admin(request.user) else columns

    def get_list_filter(self, request: HttpRequest) -> Any:
        return ["action", "tenant"] if access.is_platform_admin(request.user) else ["action"]

    def get_readonly_fields(self, request: HttpRequest, obj: Entry | None = None) -> Any:
        return [*self.fields, "tenant"]

    def get_fields(self, request: HttpRequest, obj: Entry | None = None) -> Any:
        return [*self.fields, "tenant"] if access.is_platform_admin(request.user) else self.fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Entry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Entry | None = None) -> bool:
        return False
