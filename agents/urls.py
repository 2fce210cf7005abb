from django.urls import path

from agents import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("presence/", views.set_presence, name="set_presence"),
    path("devices/", views.register_device, name="register_device"),
]
