"""The reports page (/dashboard/reports/): figures and charts for tenant admins (their whole
tenant) and supervisors (their teams), and the same as CSV. Metadata only: nothing here comes
from a message (chat/reports.py says what each figure counts)."""

from datetime import date
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from agents.access import report_teams, require_agent
from agents.models import Agent, Team
from audit import log as audit
from audit.models import Entry
from chat import reports

DEFAULT_DAYS = 7


class ReportForm(forms.Form):
    """The period (UTC days, both included) and the team a report covers."""

    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label=_("All teams")
    )

    def __init__(self, teams: QuerySet[Team], data: Any, today: date) -> None:
        default = reports.Period.last_days(DEFAULT_DAYS, today)
        given = {key: value for key, value in data.items() if value}
        super().__init__({"start": default.first, "end": default.last, **given})
        field = self.fields["team"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 (for mypy)
        field.queryset = teams.order_by("name")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The first day comes before the last."))
            if (end - start).days >= reports.MAX_DAYS:
                raise forms.ValidationError(f"A report covers at most {reports.MAX_DAYS} days.")
        return cleaned

    def period(self) -> reports.Period:
        return reports.Period(self.cleaned_data["start"], self.cleaned_data["end"])

    def teams(self, teams: QuerySet[Team]) -> QuerySet[Team]:
        team = self.cleaned_data.get("team")
        return teams.filter(pk=team.pk) if team else teams


def _reporter(request: HttpRequest) -> tuple[Agent, QuerySet[Team]]:
    """Return the agent asking and the teams it may report on; 403 for plain agents."""
    agent = require_agent(request.user)
    if not (agent.is_tenant_admin or agent.role == Agent.Role.SUPERVISOR):
        raise PermissionDenied(_("Reports are for tenant admins and supervisors."))
    return agent, report_teams(agent)


@require_safe
@login_required
def reports_page(request: HttpRequest) -> HttpResponse:
    agent, teams = _reporter(request)
    form = ReportForm(teams, request.GET, timezone.now().date())
    context: dict[str, Any] = {"agent": agent, "tenant": agent.tenant, "form": form}
    if not form.is_valid():
        return render(request, "agents/reports.html", context, status=400)
    report = reports.figures(reports.conversations_in(form.teams(teams), form.period()))
    query = request.GET.urlencode()
    context |= {
        "report": report,
        "period": form.period(),
        "csv_query": f"?{query}" if query else "",
        "charts": _charts(report),
    }
    return render(request, "agents/reports.html", context)


def _charts(report: dict[str, Any]) -> dict[str, Any]:
    """Return what static/agents/reports.js draws: labels and numbers, nothing else."""
    return {
        "teams": {
            "labels": [team["team__name"] for team in report["teams"]],
            "taken": [team["taken"] for team in report["teams"]],
            "unanswered": [team["unanswered"] for team in report["teams"]],
            "other": [
                team["conversations"] - team["taken"] - team["unanswered"]
                for team in report["teams"]
            ],
        },
        "agents": {
            "labels": [agent["agent__display_name"] for agent in report["agents"]],
            "missed": [agent["missed"] for agent in report["agents"]],
            "declined": [agent["declined"] for agent in report["agents"]],
        },
        "dispositions": {
            "labels": [row["label"] for row in report["dispositions"]],
            "counts": [row["count"] for row in report["dispositions"]],
        },
        "satisfaction": {
            "labels": [str(row["score"]) for row in report["satisfaction"]],
            "counts": [row["count"] for row in report["satisfaction"]],
        },
    }


@require_safe
@login_required
def reports_csv(request: HttpRequest, kind: str) -> HttpResponse | StreamingHttpResponse:
    """The conversation list or the figures of the report the query string names, as CSV."""
    reporter, teams = _reporter(request)
    form = ReportForm(teams, request.GET, timezone.now().date())
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    period = form.period()
    conversations = reports.conversations_in(form.teams(teams), period)
    if kind == "conversations":
        rows = reports.conversation_rows(conversations)
    else:
        rows = reports.figure_rows(reports.figures(conversations), period)
    response = StreamingHttpResponse(reports.csv_text(rows), content_type="text/csv; charset=utf-8")
    name = f"sealdesk-{kind}-{period.first.isoformat()}-to-{period.last.isoformat()}.csv"
    audit.record(
        Entry.Action.REPORT_EXPORTED,
        request=request,
        tenant=reporter.tenant,
        target=name,
        detail={"teams": [team.name for team in form.teams(teams)]},
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
