from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Security")

    def ready(self) -> None:
        from django.contrib.auth import signals

        from audit import log
        from chat import sweeper

        signals.user_logged_in.connect(log.logged_in, dispatch_uid="audit-login")
        signals.user_logged_out.connect(log.logged_out, dispatch_uid="audit-logout")
        signals.user_login_failed.connect(log.login_failed, dispatch_uid="audit-login-failed")
        sweeper.register_chore(log.forget_old_entries)
