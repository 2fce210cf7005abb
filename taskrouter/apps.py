from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TaskRouterConfig(AppConfig):
    name = "taskrouter"
    verbose_name = _("Twilio TaskRouter")

    def ready(self) -> None:
        from agents.models import Tenant
        from chat import router, sweeper
        from taskrouter.callbacks import forget_old_callbacks
        from taskrouter.router import TaskRouterRouter

        router.register(Tenant.Routing.TWILIO, TaskRouterRouter)
        sweeper.register_chore(forget_old_callbacks)
