from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from agents.models import Tenant
        from chat import router, sweeper, taskrouter, uploads
        from chat.builtin_router import BuiltinRouter

        router.register(Tenant.Routing.BUILTIN, BuiltinRouter)
        router.register(Tenant.Routing.TWILIO, taskrouter.TaskRouterRouter)
        sweeper.register_chore(uploads.do_clean_abandoned_uploads)
        sweeper.register_chore(taskrouter.forget_old_callbacks)
