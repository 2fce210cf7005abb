from django.urls import path

from chat import views

urlpatterns = [
    path("<str:widget_id>/config", views.widget_config, name="widget_config"),
    path("<str:widget_id>/conversations", views.start_conversation, name="start_conversation"),
]
