from django.urls import path

from taskrouter import views

urlpatterns = [
    path("<str:widget_id>/assignment", views.assignment, name="twilio_assignment"),
    path("<str:widget_id>/events", views.events, name="twilio_events"),
]
