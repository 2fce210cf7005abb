from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def give_user_a_random_id(sender: Any, instance: Any, raw: bool = False, **_: Any) -> None:
    """Users are Django's own model, with a sequential id: a new one gets a random one instead
    (contactcenter/ids.py), so that user ids in links tell no tenant how many users there are."""
    from contactcenter.ids import new_user_id

    if instance.pk is None and not raw:
        instance.pk = new_user_id(lambda pk: sender._default_manager.filter(pk=pk).exists())


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = _("Tenants, teams and agents")

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_save

        pre_save.connect(
            give_user_a_random_id, sender=get_user_model(), dispatch_uid="user-random-id"
        )
