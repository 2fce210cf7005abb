"""Filters for the reports page (templates/agents/reports.html)."""

from django import template

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """Return SECONDS as people read a wait: "45 s", "2 min 5 s", "1 h 3 min"; a dash for none."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60} min" if rest // 60 else f"{hours} h"


@register.filter
def score(value: float | None) -> str:
    """Return an average satisfaction score with one decimal; a dash for none."""
    return "–" if value is None else f"{value:.1f}"
