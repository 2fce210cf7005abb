"""Sealdesk settings: every value comes from the environment (see README.md, "Configuration")."""

import secrets
from pathlib import Path

import django_stubs_ext
from django.conf import global_settings

from contactcenter.env import env, env_secret

# Lets runtime code write the generic types that mypy checks (ModelForm[Agent], QuerySet[Team]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def _generated_secret_key(data_dir: Path) -> str:
    """Return this installation's random key, creating it on first start (single-machine setups)."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


DATA_DIR = Path(env.str("SEALDESK_DATA_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env_secret("SECRET_KEY") or _generated_secret_key(DATA_DIR)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# Behind TLS (directly or through a proxy): secure cookies, HSTS and redirects. See README.md.
HTTPS = env.bool("HTTPS", default=False)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "contactcenter.apps.SealdeskAdminConfig",  # Django's admin, its site hardened
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "agents",
    "chat",
    "taskrouter",  # Twilio TaskRouter: registers its router and extends the core admin
    "audit",  # the security events of each tenant, append-only
    "django_otp",  # two-factor sign-in (agents/two_factor.py)
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]

MIDDLEWARE = [
    # First: every later middleware's log lines carry the request's id (contactcenter/logs.py).
    "contactcenter.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # No NUL character in a path, query or header reaches a view (nor the database).
    "contactcenter.middleware.RefuseNulMiddleware",
    "contactcenter.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The page's language from the person's browser (Accept-Language), among LANGUAGES; the
    # widget's files and API are the same in every language.
    "contactcenter.middleware.PageLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # A session that owes its second factor reaches only the sign-in pages.
    "agents.two_factor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "contactcenter.urls"
ASGI_APPLICATION = "contactcenter.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'sealdesk.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dashboard read while a consumer writes; IMMEDIATE avoids upgrade deadlocks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # A file, not memory: the Daphne processes that browser tests start must open the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_sealdesk.sqlite3")}
    # One connection kept open per thread, not a new one per database call: opening one (and
    # its PRAGMAs and functions) was about half of the database thread's time per message
    # (docs/BENCHMARKS.md, issue 14). Checked before reuse, so a broken one is replaced.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # A pooled connection per process instead of one PostgreSQL session per request or message.
    # Room for the group commit's writers (SEND_BATCH_WRITERS), Channels' database thread and
    # the threads of concurrent HTTP requests; psycopg's default is 4 connections in all.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "pool", {"min_size": 2, "max_size": env.int("DATABASE_POOL_SIZE", default=20)}
    )
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}

# The address Twilio and browsers use to reach this app, e.g. https://desk.example.com, when a
# reverse proxy sits in front: Twilio signs its webhooks over the URL it called, so checking a
# signature needs the public URL, not the one the proxy forwards to. Unset: the request's own.
PUBLIC_URL = env.str("PUBLIC_URL", default="").rstrip("/")
# Tenants' Twilio auth tokens are not settings: each is read when needed from
# TWILIO_AUTH_TOKEN_<Account SID> or its _FILE (taskrouter/credentials.py).
# Only for tests and local trials: send the twilio SDK's API calls to this base URL instead of
# https://taskrouter.twilio.com (tests/test_twilio.py points it at a recording server).
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="").rstrip("/")

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer: the list-based RedisChannelLayer drops group messages past
            # its capacity without an error (../shared/BACKGROUND.md).
            "BACKEND": "contactcenter.channel_layer.ScaleOutChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=1000),
                    }
                ],
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "contactcenter.channel_layer.ProcessChannelLayer"}}

# Group commit (chat/group_commit.py): the messages that arrive while the database writes a batch
# form the next one, of at most SEND_BATCH_MOST, gathered for SEND_BATCH_WINDOW_MS more (0: none)
# before it is written. Measured in docs/BENCHMARKS.md (issue 14).
SEND_BATCH_WINDOW_MS = env.float("SEND_BATCH_WINDOW_MS", default=0.0)
SEND_BATCH_MOST = env.int("SEND_BATCH_MOST", default=500)
# Batches written at once, each on its own connection: SQLite writes one transaction at a time.
SEND_BATCH_WRITERS = env.int(
    "SEND_BATCH_WRITERS", default=1 if DATABASES["default"]["ENGINE"].endswith("sqlite3") else 3
)

# Rate-limit counters are in Redis when the app runs on it (this cache), else in the database
# (chat/limits.py): either way every process counts the same hits.
CACHES: dict[str, dict[str, object]] = {
    # Room for the counters of many clients: past MAX_ENTRIES, LocMem evicts (hourly) counters.
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}
if REDIS_URL:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "sealdesk",
    }
# Chats one client address may start on one tenant's widget per minute and per hour (0: no
# limit). Every chat costs an agent's attention, and a Twilio Task in TaskRouter mode.
CHAT_STARTS_PER_MINUTE = env.int("CHAT_STARTS_PER_MINUTE", default=5)
CHAT_STARTS_PER_HOUR = env.int("CHAT_STARTS_PER_HOUR", default=30)
# And one tenant's chats from every address together: starts per minute, and chats waiting in
# the queue at once (0: no limit), so that many addresses cannot flood one tenant.
TENANT_CHAT_STARTS_PER_MINUTE = env.int("TENANT_CHAT_STARTS_PER_MINUTE", default=120)
TENANT_MAX_WAITING_CHATS = env.int("TENANT_MAX_WAITING_CHATS", default=500)
# Failed sign-ins (the password or the second factor) per account and per client address within
# LOGIN_LIMIT_WINDOW seconds; past either, sign-ins from there or to that account wait (0: none).
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=10)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=50)
LOGIN_LIMIT_WINDOW = env.int("LOGIN_LIMIT_WINDOW", default=900)
# Files a conversation and a client address may begin uploading per hour (0: no limit).
UPLOADS_PER_CONVERSATION_PER_HOUR = env.int("UPLOADS_PER_CONVERSATION_PER_HOUR", default=120)
UPLOADS_PER_ADDRESS_PER_HOUR = env.int("UPLOADS_PER_ADDRESS_PER_HOUR", default=240)
# Behind reverse proxies that append the client's address to X-Forwarded-For: how many. The
# client address is then that many entries from the right; 0 trusts no such header. A site that
# trusts a proxy's X-Forwarded-Proto has one proxy, unless it says otherwise.
TRUST_X_FORWARDED_PROTO = env.bool("TRUST_X_FORWARDED_PROTO", default=False)
FORWARDED_FOR_HOPS = env.int("FORWARDED_FOR_HOPS", default=1 if TRUST_X_FORWARDED_PROTO else 0)
# How long the audit log keeps its entries (audit/), in days; 0 keeps them for ever.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)

# Tests only: the suite sets a fast hasher for its servers too (tests/live.py), since real hashing
# costs ~0.25 s a login and a user. Unset, Django's own list (PBKDF2 first).
PASSWORD_HASHERS = env.list("PASSWORD_HASHERS", default=global_settings.PASSWORD_HASHERS)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
OTP_TOTP_ISSUER = "Sealdesk"
# Wrong codes count as failed sign-ins (LOGIN_FAILURES_PER_*, chat/limits.py), with a clear wait;
# django-otp's own growing per-device delay would refuse a right code silently meanwhile.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# What Sealdesk ships complete: its own strings in locale/ (templates, Python and, as djangojs,
# the browser code: the widget's catalogues are made from the same files by scripts/build-widget),
# and Django's for its admin.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` puts the static files with gzip and brotli copies beside them. Set, the
# app serves from there, compressed (scripts/run does this); unset, it serves straight from the
# source folders, uncompressed, so that a checkout and the tests run without collectstatic.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = STATIC_ROOT is None
WHITENOISE_AUTOREFRESH = DEBUG

# The widget's builds, each kept as <version>.js beside a `current` file naming the newest
# (scripts/build-widget writes them, chat/widget_files.py serves them). Earlier builds stay, so
# that tenants' snippets pinned to them keep working after an upgrade. Machines that serve the
# app together share it: each builds the current version alike, but only one that kept an
# earlier build can serve that.
WIDGET_DIR = Path(env.str("SEALDESK_WIDGET_DIR", default=str(DATA_DIR / "widget")))

MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "media/"

STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
S3_BUCKET = env.str("S3_BUCKET", default="")
if S3_BUCKET:
    from boto3.s3.transfer import TransferConfig

    # Media (encrypted file parts only) in an S3-compatible bucket, for several app machines.
    STORAGES["default"] = {
        "BACKEND": "contactcenter.storage.SharedClientS3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("S3_REGION", default="us-east-1"),
            "access_key": env_secret("S3_ACCESS_KEY_ID"),
            "secret_key": env_secret("S3_SECRET_ACCESS_KEY"),
            # Part names are unique (conversation, upload, index): no HEAD to find a free name.
            "file_overwrite": True,
            # Parts are at most 4 MiB: a thread pool per transfer only costs memory and time.
            "transfer_config": TransferConfig(use_threads=False),
            "default_acl": None,
        },
    }

_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
if EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]  # filemail:///dir: a file a mail, for trials
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="sealdesk@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Security headers. The Content-Security-Policy is set by contactcenter.middleware.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
if TRUST_X_FORWARDED_PROTO:
    # Only behind a proxy that sets this header itself and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# One JSON object a line (LOG_FORMAT=json), or text for a person at a terminal (LOG_FORMAT=text),
# each with the id of the request or websocket it was written for and never a secret: the filters
# put the id on and redact secret fields (contactcenter/logs.py, README.md "Health and logs").
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "contactcenter.logs.RequestIdFilter"},
        "redact": {"()": "contactcenter.logs.RedactSecretsFilter"},
    },
    "formatters": {
        "chosen": {
            "()": "contactcenter.logs.formatter",
            "kind": env.str("LOG_FORMAT", default="json"),
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "chosen",
            "filters": ["request_id", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The twilio SDK logs every request's headers at INFO; its failures reach us as exceptions.
    "loggers": {"twilio.http_client": {"level": "WARNING"}},
}
