from django.urls import path

from agents import organisation, reports, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("presence/", views.set_presence, name="set_presence"),
    path("colleagues/", views.colleagues, name="colleagues"),
    path("board/", views.board, name="board"),
    path("history/", views.history, name="history"),
    path("canned/", views.canned_responses, name="canned_responses"),
    path("reports/", reports.reports_page, name="reports"),
    path(
        "reports/conversations.csv",
        reports.reports_csv,
        {"kind": "conversations"},
        name="reports_conversations_csv",
    ),
    path(
        "reports/figures.csv", reports.reports_csv, {"kind": "figures"}, name="reports_figures_csv"
    ),
    path("devices/", views.register_device, name="register_device"),
    path("uploads", views.agent_uploads, name="agent_uploads"),
    path("uploads/<uuid:upload_id>", views.agent_uploads),
    path("uploads/<uuid:upload_id>/<str:action>", views.agent_uploads),
    path("uploads/<uuid:upload_id>/parts/<int:index>", views.agent_uploads),
    path("organisation/", organisation.organisation, name="organisation"),
    path("organisation/state", organisation.organisation_state, name="organisation_state"),
    path("organisation/key", organisation.organisation_key, name="organisation_key"),
    path("organisation/shares", organisation.request_org_key, name="request_org_key"),
    path("organisation/shares/<int:share_id>/give", organisation.give_org_key, name="give_org_key"),
    path(
        "organisation/devices/<str:device_id>/certify",
        organisation.certify_device,
        name="certify_device",
    ),
    path(
        "organisation/devices/<str:device_id>/revoke",
        organisation.revoke_device,
        name="revoke_device",
    ),
]
