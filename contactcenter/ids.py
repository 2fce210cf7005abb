"""Row ids that say when a row was made, not how many rows all tenants have.

Sequential ids shared by every tenant leaked volume: an agent offered chat 3 and then chat 16 knew
that twelve chats were offered to other tenants' agents in between. The ids people see in frames
and URLs (tenants, teams, agents, canned responses, offers) are instead the milliseconds
since 2026 followed by 12 random bits: still integers that JavaScript holds exactly (under 2^53
for 69 years) and still in the order rows were made (so "newest first, then by id" keeps its
meaning), but two ids tell only how far apart in time they were made. Within one process they
only grow; two processes that draw the same id in the same millisecond are told by the database
(a primary key), and the row is saved again with a new one. Users, Django's own model, get a
random id instead (new_user_id).
"""

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, models, transaction

EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
RANDOM_BITS = 12
_lock = threading.Lock()
_last = 0


def new_id() -> int:
    """Return a fresh id: time-ordered, random within its millisecond, growing in this process."""
    global _last
    now = int(time.time() * 1000) - EPOCH_MS
    candidate = (now << RANDOM_BITS) | secrets.randbelow(1 << RANDOM_BITS)
    with _lock:
        _last = max(candidate, _last + 1)
        return _last


def new_user_id(taken: Callable[[int], bool]) -> int:
    """Return a random id for a new user that TAKEN says is free. Django's users keep their
    32-bit integer column, too narrow for new_id()'s: theirs are drawn at random from
    [2^30, 2^31), which says nothing of how many users there are."""
    while True:
        candidate = (1 << 30) + secrets.randbelow(1 << 30)
        if not taken(candidate):
            return candidate


class TimeOrderedId(models.Model):
    """A model whose id is new_id()'s, saved again with another if two processes drew it."""

    id = models.BigIntegerField(primary_key=True, default=new_id, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            super().save(*args, **kwargs)
            return
        for attempt in range(3):
            try:
                with transaction.atomic(using=kwargs.get("using")):
                    super().save(*args, **kwargs)
                return
            except IntegrityError:
                taken = type(self)._default_manager.filter(pk=self.pk).exists()
                if attempt == 2 or not taken:
                    raise
                self.pk = new_id()
