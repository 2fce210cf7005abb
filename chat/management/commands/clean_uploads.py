"""Remove uploads left unfinished for a day (the Daphne processes also do it every ten minutes)."""

from typing import Any

from django.core.management.base import BaseCommand

from chat.uploads import do_clean_abandoned_uploads


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        removed = do_clean_abandoned_uploads()
        self.stdout.write(f"Removed {removed} abandoned upload(s).")
