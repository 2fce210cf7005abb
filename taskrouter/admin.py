"""Twilio TaskRouter in the admin: a tenant's Workspace, a team's TaskQueue and an agent's Worker,
edited on the tenant's, team's and agent's own pages; the SIDs in the lists; the set-up check.
All of it shows only where Twilio routes: a tenant on the built-in router sees none of it, except
its tenant page's Twilio section, kept hidden until the routing mode says Twilio.

The core admin (agents/admin.py) knows nothing of this app. Its tenant, team and agent admins are
registered again here, as subclasses that add the inlines, columns and action, the way Django's
documentation extends the User admin. Who may see and edit them is the core's rule
(agents.admin.may_administer), and the inline rows follow their page's tenant.
"""

from collections.abc import Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from agents import access
from agents.admin import AdministeredRows, AgentAdmin, TeamAdmin, TenantAdmin
from agents.models import Agent, Team, Tenant
from taskrouter import credentials
from taskrouter.forms import TaskQueueFormSet, WorkerFormSet, WorkspaceFormSet
from taskrouter.models import TaskQueue, Worker, Workspace
from taskrouter.setup_check import check_setup

C = TypeVar("C", bound=Model)
P = TypeVar("P", bound=Model)


def routes_with_twilio(request: HttpRequest, tenant: Tenant | None) -> bool:
    """Return whether TENANT routes with Twilio or, for a page of no tenant yet (a platform
    admin's new row, a list), whether any tenant the user manages does."""
    if tenant is not None:
        return tenant.routing == Tenant.Routing.TWILIO
    twilio = access.tenants_for(request.user).filter(routing=Tenant.Routing.TWILIO)
    return twilio.exists()


class TwilioInline(AdministeredRows, admin.StackedInline[C, P]):
    """The one Twilio row of the page's tenant, team or agent, for whoever may administer it."""

    extra = 1
    max_num = 1
    can_delete = False  # emptied, not deleted: the row holds what Twilio last said, too

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class WorkspaceInline(TwilioInline[Workspace, Tenant]):
    # On every tenant page, so that choosing Twilio and giving its SIDs is one save; hidden
    # while the form's routing mode is the built-in router.
    template = "taskrouter/workspace_inline.html"
    model = Workspace
    formset = WorkspaceFormSet
    verbose_name_plural = _("Twilio TaskRouter")
    fields = [
        "account_sid",
        "auth_token_status",
        "sid",
        "workflow_sid",
        "available_activity_sid",
        "away_activity_sid",
        "offline_activity_sid",
        "mapping",
    ]
    readonly_fields = ["auth_token_status", "mapping"]

    @admin.display(description=_("Auth token"))
    def auth_token_status(self, space: Workspace) -> str:
        """Say whether the server has the account's token: never what it is."""
        if not space.account_sid:
            return gettext("Enter the Account SID first.")
        name = credentials.token_variable(space.account_sid)
        try:
            space.auth_token()
        except credentials.CredentialError as e:
            return gettext("Missing: %(error)s") % {"error": e}
        return gettext("The server has it, in %(name)s (it is never shown here).") % {"name": name}

    @admin.display(description=_("Twilio set-up"))
    def mapping(self, space: Workspace) -> SafeString | str:
        """Show the URLs to paste into Twilio and which teams and agents map to what."""
        if space.tenant_id is None:
            return gettext("Shown once the tenant is saved.")
        tenant = space.tenant
        if tenant.routing != Tenant.Routing.TWILIO:
            # The built-in router gives every team and agent chats: nothing is missing.
            return gettext("Shown once the tenant routes with Twilio TaskRouter.")
        base = settings.PUBLIC_URL or gettext("(this site's public address)")
        urls = [
            (
                gettext("Workflow's assignment callback URL"),
                reverse("twilio_assignment", args=[tenant.widget_id]),
            ),
            (
                gettext("Workspace's event callback URL"),
                reverse("twilio_events", args=[tenant.widget_id]),
            ),
        ]
        queues = dict(TaskQueue.objects.filter(tenant=tenant).values_list("team_id", "sid"))
        workers = dict(Worker.objects.filter(tenant=tenant).values_list("agent_id", "sid"))
        missing = gettext("missing: gets no chats")
        rows = [
            (gettext("Team %(team)s") % {"team": team.name}, queues.get(team.pk) or missing)
            for team in tenant.teams.all()
        ]
        rows += [
            (
                gettext("Agent %(agent)s") % {"agent": agent.display_name},
                workers.get(agent.pk) or missing,
            )
            for agent in tenant.agents.all()
        ]
        return format_html(
            '<table class="twilio-mapping"><tbody>{}{}</tbody></table>',
            format_html_join(
                "",
                "<tr><th>{}</th><td><code>{}{}</code></td></tr>",
                ((label, base, path) for label, path in urls),
            ),
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )


class TaskQueueInline(TwilioInline[TaskQueue, Team]):
    model = TaskQueue
    formset = TaskQueueFormSet
    verbose_name_plural = _("Twilio TaskRouter")
    fields = ["sid"]


class WorkerInline(TwilioInline[Worker, Agent]):
    model = Worker
    formset = WorkerFormSet
    verbose_name_plural = _("Twilio TaskRouter")
    fields = ["sid"]


def _before_tenant(columns: Sequence[Any], column: str) -> list[Any]:
    """Return the list COLUMNS with COLUMN added before the tenant's, or last."""
    found = list(columns)
    found.insert(found.index("tenant") if "tenant" in found else len(found), column)
    return found


admin.site.unregister(Tenant)
admin.site.unregister(Team)
admin.site.unregister(Agent)


@admin.register(Tenant)
class TwilioTenantAdmin(TenantAdmin):
    inlines = [*TenantAdmin.inlines, WorkspaceInline]
    actions = ["check_twilio_setup"]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not routes_with_twilio(request, None):
            actions.pop("check_twilio_setup", None)
        return actions

    @admin.action(description=_("Check the selected tenants' Twilio set-up with Twilio"))
    def check_twilio_setup(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            space = Workspace.objects.filter(tenant=tenant).first()
            if tenant.routing != Tenant.Routing.TWILIO:
                messages.info(
                    request,
                    gettext("%(tenant)s uses the built-in router.") % {"tenant": tenant.name},
                )
                continue
            problems = check_setup(space) if space else [gettext("No Twilio SIDs are set.")]
            if problems:
                for problem in problems:
                    messages.error(
                        request,
                        gettext("%(tenant)s: %(problem)s")
                        % {"tenant": tenant.name, "problem": problem},
                    )
            else:
                messages.success(
                    request,
                    gettext("%(tenant)s: Twilio has everything Sealdesk needs.")
                    % {"tenant": tenant.name},
                )


@admin.register(Team)
class TwilioTeamAdmin(TeamAdmin):
    def get_inlines(self, request: HttpRequest, obj: Team | None) -> list[Any]:
        twilio = routes_with_twilio(request, self.fixed_tenant(request, obj))
        return [TaskQueueInline] if twilio else []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).select_related("twilio_task_queue")

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = super().get_list_display(request)
        if not routes_with_twilio(request, None):
            return columns
        return _before_tenant(columns, "task_queue_sid")

    @admin.display(description=_("TaskQueue SID"))
    def task_queue_sid(self, team: Team) -> str:
        queue = getattr(team, "twilio_task_queue", None)  # None: the team has no row
        return queue.sid if queue else ""


@admin.register(Agent)
class TwilioAgentAdmin(AgentAdmin):
    def get_inlines(self, request: HttpRequest, obj: Agent | None) -> list[Any]:
        twilio = routes_with_twilio(request, self.fixed_tenant(request, obj))
        return [WorkerInline] if twilio else []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        return super().get_queryset(request).select_related("twilio_worker")

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = super().get_list_display(request)
        if not routes_with_twilio(request, None):
            return columns
        return _before_tenant(columns, "worker_sid")

    @admin.display(description=_("Worker SID"))
    def worker_sid(self, agent: Agent) -> str:
        worker = getattr(agent, "twilio_worker", None)  # None: the agent has no row
        return worker.sid if worker else ""
