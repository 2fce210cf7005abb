"""Settings of the bare echo server (bench/echo_asgi.py): Channels alone, no database, no layer."""

SECRET_KEY = "bench-echo-server-has-no-secrets"  # noqa: S105 (signs nothing)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = ["channels"]
USE_TZ = True
