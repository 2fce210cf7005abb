from django.urls import path

from agents import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("presence/", views.set_presence, name="set_presence"),
    path("devices/", views.register_device, name="register_device"),
    path("uploads", views.agent_uploads, name="agent_uploads"),
    path("uploads/<uuid:upload_id>", views.agent_uploads),
    path("uploads/<uuid:upload_id>/<str:action>", views.agent_uploads),
    path("uploads/<uuid:upload_id>/parts/<int:index>", views.agent_uploads),
]
