"""Django admin for platform superusers (every tenant) and tenant admins (their own tenant only).

Every queryset and object lookup goes through agents.access, so an object of another tenant
answers 404 here exactly as in the dashboard (docs/THREAT_MODEL.md).
"""

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db.models import Count, Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from agents import access, two_factor
from agents.forms import (
    AgentChangeForm,
    AgentCreationForm,
    CannedResponseForm,
    TeamForm,
    TenantForm,
    TenantOwnedForm,
)
from agents.models import Agent, CannedResponse, Team, Tenant, WidgetText
from audit import log as audit
from audit.models import Entry
from chat.actions.trust import org_payload
from chat.widget_files import WidgetBuildError, current_widget, embed_snippet

M = TypeVar("M", bound=Model)


def may_administer(request: HttpRequest) -> bool:
    """Return whether the user is a platform admin or an active tenant admin."""
    return (
        access.is_platform_admin(request.user) or access.tenant_admin_of(request.user) is not None
    )


def _tenant_of_row(obj: object) -> Tenant | None:
    """Return the tenant a row of the admin is, or belongs to."""
    return obj if isinstance(obj, Tenant) else getattr(obj, "tenant", None)


def _shown(value: object) -> object:
    """Return VALUE as the audit log keeps it: short plain values as they are, others by kind."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str) and len(value) <= 100:
        return value
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, QuerySet | list | tuple | set):
        items = [str(item) for item in value]
        return items if len(items) <= 20 else f"{len(items)} items"
    return "(changed)"


def _changes(form: Any, fields: list[str]) -> dict[str, Any]:
    """Return what a form changed: each field's value before and after."""
    return {
        "fields": fields,
        "from": {name: _shown(form.initial.get(name)) for name in fields},
        "to": {name: _shown(form.cleaned_data.get(name)) for name in fields},
    }


class TenantScopedAdmin(admin.ModelAdmin[M], Generic[M]):
    """Admin whose rows and lookups are limited to what agents.access lets the user see."""

    scope: Callable[[Any], QuerySet[M]]
    lookup: Callable[[Any, object], M]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_administer(request)

    def has_view_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return may_administer(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_administer(request)

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return may_administer(request)

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return may_administer(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[M]:
        return type(self).scope(request.user)

    def audit_action(self, obj: M, fields: list[str]) -> str | None:
        """Return the audit log's action (audit/) for a change of FIELDS of OBJ (["(new)"] for
        a new row, ["(deleted)"] for a deletion), or None for no entry."""
        return None

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        fields = list(form.changed_data)
        action = self.audit_action(obj, fields if change else ["(new)"])
        if action and (fields or not change):
            audit.record(
                action,
                request=request,
                tenant=_tenant_of_row(obj),
                target=obj,
                detail=_changes(form, fields) if change else {"added": True},
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        action = getattr(formset, "audit_action", None)
        fields = sorted({name for row in formset.forms for name in row.changed_data})
        if action and fields:
            audit.record(
                action,
                request=request,
                tenant=_tenant_of_row(form.instance),
                target=form.instance,
                detail={"section": str(formset.model._meta.verbose_name), "fields": fields},
            )

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        action = self.audit_action(obj, ["(deleted)"])
        if action:
            audit.record(
                action,
                request=request,
                tenant=_tenant_of_row(obj),
                target=obj,
                detail={"deleted": True},
            )
        super().delete_model(request, obj)

    def get_form(
        self, request: HttpRequest, obj: M | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form, TenantOwnedForm):
            form.fixed_tenant = self.fixed_tenant(request, obj)
        return form

    def fixed_tenant(self, request: HttpRequest, obj: M | None) -> Tenant | None:
        """Return the tenant a form's row belongs to, or None if a platform admin picks it."""
        if obj is not None:
            tenant: Tenant = getattr(obj, "tenant")  # noqa: B009 (not every M has one)
            return tenant
        if access.is_platform_admin(request.user):
            return None
        admin_agent = access.tenant_admin_of(request.user)
        if admin_agent is None:
            raise PermissionDenied(_("Only platform and tenant admins edit tenants' rows."))
        return admin_agent.tenant

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> M:
        # Raise 404 for another tenant's object, instead of the admin's "perhaps deleted" redirect.
        return type(self).lookup(request.user, object_id)


def snippet_attributes(tenant: Tenant) -> dict[str, str]:
    """Return the tenant's own attributes of its embed snippet, after those that pin the widget:
    its widget id and, once it has one, the fingerprint of its organisation key, which the widget
    pins (docs/PROTOCOL.md, "Certified devices")."""
    org = org_payload(tenant)
    if org is None:
        return {"data-sealdesk-widget": tenant.widget_id}
    return {"data-sealdesk-widget": tenant.widget_id, "data-org-key": org["fingerprint"]}


class AdministeredRows:
    """An inline's rows for whoever may administer the page's tenant (may_administer): its rows
    are the page's tenant's, which agents.access already checked."""

    # OBJ is the page's row (the stubs say the inline's own row); the core's rule needs neither.
    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return may_administer(request)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return may_administer(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return may_administer(request)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return may_administer(request)


class WidgetTextInline(AdministeredRows, admin.TabularInline[WidgetText, Tenant]):
    """The tenant's greeting and pre-chat labels, a row per language, on the tenant's page."""

    model = WidgetText
    extra = 0
    max_num = len(settings.LANGUAGES)
    fields = ["language", "greeting", "name_label", "email_label", "question_label"]


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin[Tenant]):
    scope = staticmethod(access.tenants_for)
    ROUTING = {"routing", "offer_timeout_seconds"}

    def audit_action(self, obj: Tenant, fields: list[str]) -> str | None:
        return (
            Entry.Action.ROUTING_CHANGED
            if set(fields) & self.ROUTING
            else Entry.Action.POLICY_CHANGED
        )

    lookup = staticmethod(access.access_tenant)
    form = TenantForm
    list_display = ["name", "slug", "widget_id", "routing", "is_active", "agent_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [WidgetTextInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return super().get_queryset(request).annotate(agent_count=Count("agents"))

    @admin.display(description=_("Agents"), ordering="agent_count")
    def agent_count(self, tenant: Tenant) -> int:
        return getattr(tenant, "agent_count", 0)

    def get_prepopulated_fields(
        self, request: HttpRequest, obj: Tenant | None = None
    ) -> dict[str, Any]:
        return {} if obj else dict(self.prepopulated_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> list[str]:
        if access.is_platform_admin(request.user):
            return ["widget_id", "created_at"] + (["slug"] if obj else [])
        return ["slug", "widget_id", "is_active", "created_at"]

    def get_fieldsets(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        fields = [
            "name",
            "slug",
            "allowed_origins",
            "offer_timeout_seconds",
            "away_after_missed_offer",
            "is_active",
        ]
        if obj:
            fields += ["widget_id", "created_at"]
        return [
            (None, {"fields": fields}),
            (_("Routing"), {"fields": ["routing"]}),
            (_("Sign-in"), {"fields": ["require_two_factor"]}),
            (_("Supervision"), {"fields": ["supervision"]}),
            (_("Parked chats"), {"fields": ["park_resume_minutes", "park_expiry_hours"]}),
            (_("Files in the chat"), {"fields": ["max_file_mb", "conversation_quota_mb"]}),
            (_("When no one can answer"), {"fields": ["message_after_minutes"]}),
            (_("The widget's look"), {"fields": ["brand_color", "launcher_position"]}),
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.is_platform_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return access.is_platform_admin(request.user)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Tenant | None = None,
    ) -> HttpResponse:
        # The tenant's page shows the tag to embed the widget with
        # (templates/admin/agents/tenant/change_form.html).
        if obj is not None:
            app_url = settings.PUBLIC_URL or f"{request.scheme}://{request.get_host()}"
            try:
                context["embed_snippet"] = embed_snippet(
                    app_url, snippet_attributes(obj), current_widget()
                )
            except WidgetBuildError as e:
                context["embed_snippet_missing"] = str(e)
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(Team)
class TeamAdmin(TenantScopedAdmin[Team]):
    scope = staticmethod(access.teams_for)

    def audit_action(self, obj: Team, fields: list[str]) -> str | None:
        return Entry.Action.TEAM_CHANGED

    lookup = staticmethod(access.access_team)
    form = TeamForm
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(agent_count=Count("agents"))

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = ["name", "agent_count"]
        return [*columns, "tenant"] if access.is_platform_admin(request.user) else columns

    def get_list_filter(self, request: HttpRequest) -> Any:
        return ["tenant"] if access.is_platform_admin(request.user) else []

    @admin.display(description=_("Agents"), ordering="agent_count")
    def agent_count(self, team: Team) -> int:
        return getattr(team, "agent_count", 0)

    def get_fields(self, request: HttpRequest, obj: Team | None = None) -> Any:
        names = ["tenant", "name"] if access.is_platform_admin(request.user) else ["name"]
        return [*names, "time_zone", "hours", "holidays"]

    def get_readonly_fields(self, request: HttpRequest, obj: Team | None = None) -> list[str]:
        return ["tenant"] if obj and access.is_platform_admin(request.user) else []


@admin.register(CannedResponse)
class CannedResponseAdmin(TenantScopedAdmin[CannedResponse]):
    """Canned responses: tenant configuration, in clear (docs/THREAT_MODEL.md)."""

    scope = staticmethod(access.canned_responses_for)
    lookup = staticmethod(access.access_canned_response)
    form = CannedResponseForm
    search_fields = ["shortcut", "title", "text"]

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = ["shortcut", "title", "for_whom"]
        return [*columns, "tenant"] if access.is_platform_admin(request.user) else columns

    def get_list_filter(self, request: HttpRequest) -> Any:
        # Only teams that have canned responses listed: the plain filter lists every tenant's.
        teams = ("team", admin.RelatedOnlyFieldListFilter)
        return ["tenant", teams] if access.is_platform_admin(request.user) else [teams]

    @admin.display(description=_("For"), ordering="team__name")
    def for_whom(self, response: CannedResponse) -> str:
        return response.team.name if response.team else gettext("Every team")

    def get_fields(self, request: HttpRequest, obj: CannedResponse | None = None) -> Any:
        fields = ["team", "shortcut", "title", "text"]
        return ["tenant", *fields] if access.is_platform_admin(request.user) else fields

    def get_readonly_fields(
        self, request: HttpRequest, obj: CannedResponse | None = None
    ) -> list[str]:
        return ["tenant"] if obj and access.is_platform_admin(request.user) else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "team":
            kwargs["queryset"] = access.teams_for(request.user)
        elif db_field.name == "tenant":
            kwargs["queryset"] = access.tenants_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Agent)
class AgentAdmin(TenantScopedAdmin[Agent]):
    scope = staticmethod(access.agents_for)

    def audit_action(self, obj: Agent, fields: list[str]) -> str | None:
        if fields == ["(new)"]:
            return Entry.Action.AGENT_ADDED
        if fields == ["(deleted)"]:
            return Entry.Action.AGENT_DELETED
        return Entry.Action.ROLE_CHANGED if "role" in fields else Entry.Action.AGENT_CHANGED

    lookup = staticmethod(access.access_agent)
    search_fields = ["display_name", "user__username", "user__email"]
    actions = ["send_set_password_links", "reset_two_factor"]
    filter_horizontal = ["teams"]

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = [
            "display_name",
            "username",
            "role",
            "presence",
            "max_concurrent_chats",
            "is_active",
        ]
        return [*columns, "tenant"] if access.is_platform_admin(request.user) else columns

    def get_list_filter(self, request: HttpRequest) -> Any:
        # Only teams of the listed agents: the plain filter would list every tenant's teams.
        columns: list[Any] = ["role", "presence", ("teams", admin.RelatedOnlyFieldListFilter)]
        return ["tenant", *columns] if access.is_platform_admin(request.user) else columns

    @admin.display(description=_("Username"), ordering="user__username")
    def username(self, agent: Agent) -> str:
        return agent.user.get_username()

    @admin.display(description=_("Active"), boolean=True, ordering="user__is_active")
    def is_active(self, agent: Agent) -> bool:
        return agent.user.is_active

    def get_form(
        self, request: HttpRequest, obj: Agent | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = AgentChangeForm if obj else AgentCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Agent | None = None) -> Any:
        person = ["display_name", "email", "first_name", "last_name"]
        work = ["role", "teams", "max_concurrent_chats"]
        if obj is None:
            login = ["username", "password1", "password2"]
            if access.is_platform_admin(request.user):
                work = ["tenant", *work]
        else:
            login = ["username", "is_active"]
            work = ["tenant", *work, "presence", "presence_changed_at"]
        return [
            (None, {"fields": login}),
            (_("Person"), {"fields": person}),
            (_("Work"), {"fields": work}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Agent | None = None) -> list[str]:
        if obj is None:
            return []
        fields = ["username", "tenant", "presence", "presence_changed_at"]
        if obj.user_id == request.user.pk and not access.is_platform_admin(request.user):
            # A tenant admin demoting itself would lock the tenant out of its own admin.
            fields.append("role")
        return fields

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "teams":
            kwargs["queryset"] = access.teams_for(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "tenant":
            kwargs["queryset"] = access.tenants_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _protects(self, request: HttpRequest, obj: Agent | None) -> bool:
        """Return whether OBJ is a platform admin's login, which only platform admins may touch."""
        if obj is None or access.is_platform_admin(request.user):
            return False
        return bool(obj.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        return super().has_change_permission(request, obj) and not self._protects(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        if obj is not None and obj.user_id == request.user.pk:
            return False
        return super().has_delete_permission(request, obj) and not self._protects(request, obj)

    def save_model(
        self, request: HttpRequest, obj: Agent, form: ModelForm[Agent], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if not change and isinstance(form, AgentCreationForm) and form.needs_password_link:
            self._issue_password_link(request, obj)

    def delete_model(self, request: HttpRequest, obj: Agent) -> None:
        audit.record(
            Entry.Action.AGENT_DELETED,
            request=request,
            tenant=obj.tenant,
            target=f"{obj} ({obj.user.get_username()})",
        )
        obj.user.delete()  # the agent row goes with its login

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        # The bulk action checks only the model-wide permission; check each row here.
        agents = list(queryset.select_related("user"))
        refused = [
            a.user.get_username() for a in agents if not self.has_delete_permission(request, a)
        ]
        if refused:
            raise PermissionDenied(
                gettext("You may not delete: %(logins)s.") % {"logins": ", ".join(refused)}
            )
        for agent in agents:
            self.delete_model(request, agent)

    def _issue_password_link(self, request: HttpRequest, agent: Agent) -> None:
        user = agent.user
        path = reverse(
            "password_reset_confirm",
            args=[
                urlsafe_base64_encode(force_bytes(user.pk)),
                default_token_generator.make_token(user),
            ],
        )
        link = request.build_absolute_uri(path)
        if user.email:
            send_mail(
                gettext("Set your Sealdesk password"),
                gettext(
                    "Hello %(name)s,\n\nSet your password for %(tenant)s on Sealdesk here:"
                    "\n\n%(link)s\n\nThe link works once, for a few days.\n"
                )
                % {"name": agent.display_name, "tenant": agent.tenant.name, "link": link},
                None,
                [user.email],
            )
        shown = {"login": user.get_username(), "link": link, "email": user.email}
        if user.email:
            info = gettext("Set-password link for %(login)s: %(link)s It was emailed to %(email)s.")
        else:
            info = gettext("Set-password link for %(login)s: %(link)s")
        messages.info(request, info % shown)

    @admin.action(description=_("Make set-password links for the selected agents"))
    def send_set_password_links(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset:
            if self._protects(request, agent):
                messages.error(
                    request,
                    gettext("%(login)s is managed by the platform admins.")
                    % {"login": agent.user.get_username()},
                )
                continue
            self._issue_password_link(request, agent)

    @admin.action(description=_("Reset the selected agents' two-factor sign-in"))
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        """For someone who lost phone and recovery codes: their next sign-in sets up a new
        authenticator app (or, without a policy that asks for one, uses the password alone)."""
        for agent in queryset:
            login = agent.user.get_username()
            if self._protects(request, agent):
                messages.error(
                    request,
                    gettext("%(login)s is managed by the platform admins.") % {"login": login},
                )
                continue
            if two_factor.remove_devices(agent.user):
                audit.record(
                    Entry.Action.TWO_FACTOR,
                    request=request,
                    tenant=agent.tenant,
                    target=login,
                    detail={"reset": True},
                )
                messages.info(
                    request,
                    gettext("%(login)s sets up two-factor sign-in anew.") % {"login": login},
                )
