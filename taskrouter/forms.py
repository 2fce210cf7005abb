"""The Twilio settings as inline formsets of the admin's tenant, team and agent pages.

Each formset checks what needs the page's own row as it is being saved (the tenant's routing mode,
the team's or agent's tenant), which a form of the Twilio row alone cannot see.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from agents.models import Agent, Team, Tenant
from taskrouter import credentials
from taskrouter.models import TaskQueue, Worker, Workspace


class WorkspaceFormSet(BaseInlineFormSet[Workspace, Tenant, forms.ModelForm[Workspace]]):
    """A tenant's Workspace: in Twilio TaskRouter mode every SID is needed, and the server must
    have the account's auth token (taskrouter/credentials.py), which is never in the form."""

    def uses_twilio(self) -> bool:
        return self.instance.routing == Tenant.Routing.TWILIO

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        kwargs = super().get_form_kwargs(index)
        if self.uses_twilio() and index is not None:
            kwargs["empty_permitted"] = False  # checked even when left empty
        return kwargs

    def clean(self) -> None:
        super().clean()
        if not self.uses_twilio():
            return
        if not self.forms:
            raise ValidationError("Twilio TaskRouter routing needs the Workspace's SIDs.")
        for form in self.forms:
            for name in Workspace.REQUIRED:
                if name not in form.errors and not form.cleaned_data.get(name):
                    form.add_error(name, "Twilio TaskRouter routing needs this.")
            if account := form.cleaned_data.get("account_sid"):
                try:
                    credentials.auth_token(account)
                except credentials.CredentialError as e:
                    form.add_error("account_sid", str(e))


class TaskQueueFormSet(BaseInlineFormSet[TaskQueue, Team, forms.ModelForm[TaskQueue]]):
    """A team's TaskQueue: one team of a tenant per TaskQueue."""

    def clean(self) -> None:
        super().clean()
        team = self.instance
        for form in self.forms:
            sid = getattr(form, "cleaned_data", {}).get("sid")
            if not sid or team.tenant_id is None:
                continue
            others = TaskQueue.objects.filter(tenant=team.tenant_id, sid=sid).exclude(team=team.pk)
            if other := others.select_related("team").first():
                form.add_error("sid", f"The team “{other.team}” has this TaskQueue.")


class WorkerFormSet(BaseInlineFormSet[Worker, Agent, forms.ModelForm[Worker]]):
    """An agent's Worker: one agent of a tenant per Worker."""

    def clean(self) -> None:
        super().clean()
        agent = self.instance
        for form in self.forms:
            sid = getattr(form, "cleaned_data", {}).get("sid")
            if not sid or agent.tenant_id is None:
                continue
            others = Worker.objects.filter(tenant=agent.tenant_id, sid=sid).exclude(agent=agent.pk)
            if other := others.select_related("agent").first():
                form.add_error("sid", f"{other.agent} is this Worker already.")
