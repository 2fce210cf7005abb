from django.urls import path

from chat import webhooks

urlpatterns = [
    path("<str:widget_id>/assignment", webhooks.assignment, name="twilio_assignment"),
    path("<str:widget_id>/events", webhooks.events, name="twilio_events"),
]
