"""Sealdesk's admin site: Django's, with the answers that told a tenant admin too much closed.

Django's history view looks the object up before it checks permission, so a tenant admin got
403 for a user id that exists and a "doesn't exist" redirect for one that does not: the
platform's user count, superusers included. The autocomplete view answered 500 when field_name
named a reverse relation. Here both refuse the same way whatever exists.
"""

from functools import wraps
from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.core.exceptions import PermissionDenied
from django.db.models import ForeignObjectRel
from django.http import HttpRequest, HttpResponse

from agents.login import AdminLogin, with_retry_after


class AutocompleteView(AutocompleteJsonView):
    """Django's autocomplete, refusing a field_name that is not a field of the model (a reverse
    relation has no choices to offer) with 403, as it does for an unknown field."""

    def process_request(self, request: HttpRequest) -> Any:
        found = super().process_request(request)  # type: ignore[misc]  # not in the stubs
        source_field = found[2]
        if isinstance(source_field, ForeignObjectRel):
            raise PermissionDenied
        return found


class AdminSite(admin.AdminSite):
    """The default admin site (contactcenter/apps.py); contactcenter/urls.py sets its titles."""

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        model_admin = getattr(view, "__self__", None)
        if getattr(view, "__name__", "") == "history_view" and model_admin is not None:
            object_history = view

            @wraps(object_history)
            def history(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                # Signed in (the site's wrapper checks that first), but who may see no row of
                # the model learns nothing of which rows exist.
                if not model_admin.has_view_or_change_permission(request):
                    raise PermissionDenied
                response: HttpResponse = object_history(request, *args, **kwargs)
                return response

            view = history
        return super().admin_view(view, cacheable)

    login_form = AdminLogin  # sign-ins limited as the dashboard's are (agents/login.py)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return cast(HttpResponse, with_retry_after(super().login(request, extra_context)))

    def autocomplete_view(self, request: HttpRequest) -> HttpResponse:
        return cast(HttpResponse, AutocompleteView.as_view(admin_site=self)(request))
