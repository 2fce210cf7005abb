from django.apps import AppConfig


class TaskRouterConfig(AppConfig):
    name = "taskrouter"
    verbose_name = "Twilio TaskRouter"
