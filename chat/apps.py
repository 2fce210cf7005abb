from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")

    def ready(self) -> None:
        from agents.models import Tenant
        from chat import router, sweeper, uploads
        from chat.builtin_router import BuiltinRouter

        router.register(Tenant.Routing.BUILTIN, BuiltinRouter)
        sweeper.register_chore(uploads.do_clean_abandoned_uploads)
