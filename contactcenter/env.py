"""Reading the environment: shared by the settings and by secrets looked up at run time."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def env_secret(name: str) -> str | None:
    """Return NAME from the environment, or the contents of the file named by NAME_FILE."""
    value = env.str(name, default="")
    path = env.str(f"{name}_FILE", default="")
    if value and path:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if path:
        value = Path(path).read_text().strip()
        if not value:
            raise ImproperlyConfigured(f"{name}_FILE names an empty file: {path}")
    return value or None
