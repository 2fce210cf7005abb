from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from agents.models import Agent, Tenant
        from chat import limits, router, sweeper, uploads
        from chat.actions import accounts
        from chat.builtin_router import BuiltinRouter

        router.register(Tenant.Routing.BUILTIN, BuiltinRouter)
        sweeper.register_chore(uploads.do_clean_abandoned_uploads)
        sweeper.register_chore(limits.forget_old_counters)
        # Agent sockets keep their access check until one of these says to check again.
        post_save.connect(accounts.agent_changed, sender=Agent, dispatch_uid="access-agent")
        post_delete.connect(accounts.agent_changed, sender=Agent, dispatch_uid="access-agent-gone")
        post_save.connect(accounts.tenant_changed, sender=Tenant, dispatch_uid="access-tenant")
        user_model = get_user_model()
        post_save.connect(accounts.user_changed, sender=user_model, dispatch_uid="access-user")
