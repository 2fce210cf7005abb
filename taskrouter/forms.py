"""The Twilio settings as inline formsets of the admin's tenant, team and agent pages.

Each formset checks what needs the page's own row as it is being saved (the tenant's routing mode,
the team's or agent's tenant), which a form of the Twilio row alone cannot see.
"""

from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from agents.models import Agent, Team, Tenant
from taskrouter import credentials
from taskrouter.models import TaskQueue, Worker, Workspace

M = TypeVar("M", TaskQueue, Worker)
P = TypeVar("P", Team, Agent)


class WorkspaceFormSet(BaseInlineFormSet[Workspace, Tenant, forms.ModelForm[Workspace]]):
    """A tenant's Workspace: in Twilio TaskRouter mode every SID is needed, and the operator must
    have given the account to this tenant, with its auth token (taskrouter/credentials.py),
    which is never in the form."""

    audit_action = "routing_changed"  # in the audit log (audit/), as Entry.Action says

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
            raise ValidationError(_("Twilio TaskRouter routing needs the Workspace's SIDs."))
        for form in self.forms:
            for name in Workspace.REQUIRED:
                if name not in form.errors and not form.cleaned_data.get(name):
                    form.add_error(name, "Twilio TaskRouter routing needs this.")
            if account := form.cleaned_data.get("account_sid"):
                try:
                    credentials.auth_token(account, self.instance.slug)
                except credentials.CredentialError as e:
                    form.add_error("account_sid", str(e))


class _OncePerTenantFormSet(BaseInlineFormSet[M, P, forms.ModelForm[M]]):
    """The one Twilio row of a team or an agent, whose SID no other of the tenant's may have.

    OWNER names the row's team or agent field; TAKEN says who has the SID already."""

    owner: str
    audit_action = "routing_changed"  # in the audit log (audit/), as Entry.Action says

    def taken(self, other: M) -> str:
        raise NotImplementedError

    def clean(self) -> None:
        super().clean()
        owner = self.instance
        for form in self.forms:
            sid = getattr(form, "cleaned_data", {}).get("sid")
            if not sid or owner.tenant_id is None:
                continue
            others = self.model.objects.filter(
                tenant=owner.tenant_id, sid=credentials.normal_sid(sid)
            )
            other = others.exclude(**{self.owner: owner.pk}).select_related(self.owner).first()
            if other is not None:
                form.add_error("sid", self.taken(other))


class TaskQueueFormSet(_OncePerTenantFormSet[TaskQueue, Team]):
    """A team's TaskQueue: one team of a tenant per TaskQueue."""

    owner = "team"

    def taken(self, other: TaskQueue) -> str:
        return f"The team “{other.team}” has this TaskQueue."


class WorkerFormSet(_OncePerTenantFormSet[Worker, Agent]):
    """An agent's Worker: one agent of a tenant per Worker."""

    owner = "agent"

    def taken(self, other: Worker) -> str:
        return f"{other.agent} is this Worker already."
