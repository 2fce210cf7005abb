from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path, re_path, reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from django.views.i18n import JSONCatalog

from agents import two_factor
from agents.login import LoginView
from chat import widget_files
from contactcenter import health

admin.site.site_header = _("Sealdesk administration")
admin.site.site_title = _("Sealdesk admin")
admin.site.index_title = _("Tenants, teams and agents")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard", permanent=False)),
    # Browsers ask for /favicon.ico on pages that name no icon, such as the admin's.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    # For load balancers and monitors: no login, no session, every few seconds (health.py).
    path("healthz", health.healthz, name="healthz"),
    # The dashboard's strings in the page's language (locale/*/djangojs.po), for i18n.js.
    path("i18n/catalogue.json", JSONCatalog.as_view(), name="json_catalogue"),
    path(
        "accounts/login/",
        LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", two_factor.verify, name="two_factor_verify"),
    path("accounts/two-factor/setup/", two_factor.setup, name="two_factor_setup"),
    path(
        "accounts/two-factor/recovery-codes/",
        two_factor.new_recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            post_reset_login=True, success_url=reverse_lazy("dashboard")
        ),
        name="password_reset_confirm",
    ),
    path("dashboard/", include("agents.urls")),
    path("api/widget/", include("chat.urls")),
    # The widget that tenants' pages embed, one bundled file per version (chat/widget_files.py).
    re_path(
        rf"^widget/(?P<version>{widget_files.VERSION.pattern})/sealdesk-widget\.js$",
        widget_files.serve_widget,
        name="widget_file",
    ),
    # Its strings in one language, loaded on demand and checked against the digest it holds.
    re_path(
        rf"^widget/i18n/(?P<name>{widget_files.CATALOGUE.pattern})\.json$",
        widget_files.serve_catalogue,
        name="widget_catalogue",
    ),
    path("twilio/", include("taskrouter.urls")),
]
