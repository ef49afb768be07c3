"""Django settings for predictmarket, read from the environment.

Every variable is documented in README.md (Configuration). With nothing set the
project runs on embedded defaults: SQLite, the local-memory cache and a
filesystem Celery broker. ``DATABASE_URL`` and ``REDIS_URL`` switch to
PostgreSQL and Redis.
"""

from __future__ import annotations

from pathlib import Path

from points.amounts import MAX_AMOUNT
from predictmarket.config import Config, ConfigError

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

cfg = Config()

# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
DEBUG = cfg.bool("DJANGO_DEBUG", True)

if DEBUG:
    # Local and test use only: production mode refuses to start without a key.
    SECRET_KEY = cfg.str(
        "DJANGO_SECRET_KEY", "django-insecure-local-development-key-not-for-production"
    )
    ALLOWED_HOSTS = cfg.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
else:
    SECRET_KEY = cfg.str("DJANGO_SECRET_KEY", required=True)
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ConfigError("DJANGO_SECRET_KEY", "must be at least 50 random characters")
    ALLOWED_HOSTS = cfg.list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise ConfigError("ALLOWED_HOSTS", "is required when DJANGO_DEBUG=false")

CSRF_TRUSTED_ORIGINS = cfg.list("CSRF_TRUSTED_ORIGINS", [])
PUBLIC_BASE_URL = cfg.str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # Django's admin with the moderators' console as admin.site (predictmarket/console).
    "predictmarket.console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    # htmx, vendored as a static file (the members' web app polls live odds with it).
    "django_htmx",
    "predictmarket.apps.CoreConfig",
    # Sign in with Discord: allauth's Discord provider with URLs from settings.
    "predictmarket.discord_login",
    "points",
    "markets",
    "betting",
    "botrunner",
    "webapp",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "predictmarket.logging.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

if not DEBUG:
    # Static files for the admin and public pages under gunicorn; runserver
    # serves them itself in debug mode.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )

ROOT_URLCONF = "predictmarket.urls"
WSGI_APPLICATION = "predictmarket.wsgi.application"
ASGI_APPLICATION = "predictmarket.asgi.application"

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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# ------------------------------------------------------------------------------
# Database
# ------------------------------------------------------------------------------
_db = cfg.database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
# Only the hot-path statements are server-side prepared (predictmarket.db); a
# generic plan spares PostgreSQL re-planning them on every bet.
_PG_SESSION_OPTIONS = "-c plan_cache_mode=force_generic_plan"
# Django turns psycopg's statement preparation off (prepare_threshold=None), and
# then nothing is ever prepared. Its own ClientCursor never prepares either way;
# this only lets the server-side-binding cursor of predictmarket.db prepare a
# statement on its fifth run.
_PG_PREPARE_THRESHOLD = 5
if _db["ENGINE"] == "django.db.backends.postgresql":
    _db["ENGINE"] = "django_prometheus.db.backends.postgresql"
    if cfg.bool("DATABASE_POOL", True):
        # psycopg 3 pool (Django 5.1+): persistent connections without
        # CONN_MAX_AGE, which Django advises against in async code (the bot).
        _db["OPTIONS"] = {
            "pool": {
                "min_size": cfg.int("DATABASE_POOL_MIN_SIZE", 2, min_value=0),
                "max_size": cfg.int("DATABASE_POOL_MAX_SIZE", 20, min_value=1),
                "timeout": cfg.int("DATABASE_POOL_TIMEOUT", 10, min_value=1),
            },
            "connect_timeout": 5,
            "options": _PG_SESSION_OPTIONS,
            "prepare_threshold": _PG_PREPARE_THRESHOLD,
        }
    else:
        _db["CONN_MAX_AGE"] = cfg.int("DATABASE_CONN_MAX_AGE", 60, min_value=0)
        _db["CONN_HEALTH_CHECKS"] = True
        _db["OPTIONS"] = {
            "connect_timeout": 5,
            "options": _PG_SESSION_OPTIONS,
            "prepare_threshold": _PG_PREPARE_THRESHOLD,
        }
else:
    _db["ENGINE"] = "django_prometheus.db.backends.sqlite3"
    # IMMEDIATE transactions take SQLite's write lock up front so concurrent
    # writers (web, worker) wait instead of failing with "database is locked".
    _db["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
DATABASES = {"default": _db}
DATABASE_IS_POSTGRES = "postgresql" in _db["ENGINE"]

# ------------------------------------------------------------------------------
# Cache and Redis
# ------------------------------------------------------------------------------
REDIS_URL = cfg.redis_url("REDIS_URL")
CACHE_TTL = cfg.int("CACHE_TTL", 300, min_value=0)
# A dead or hung Redis must not stall requests: every cache call gives up after
# this long (milliseconds) and the cached reads fall back to the database.
CACHE_SOCKET_TIMEOUT_MS = cfg.int("CACHE_SOCKET_TIMEOUT_MS", 250, min_value=10)
# Market snapshots and leaderboards served from the cache (off: every read goes
# to the database, as bench/reads.py compares).
READ_CACHE_ENABLED = cfg.bool("READ_CACHE_ENABLED", True)
# How long a market snapshot stays cached (seconds). A new version replaces it
# at once; this only bounds how long an unused one lingers.
MARKET_SNAPSHOT_TTL = cfg.int("MARKET_SNAPSHOT_TTL", 600, min_value=1)
# Build a market's new snapshot right after each commit (the writer pays a few
# queries) instead of on its first read (one reader per version misses).
MARKET_SNAPSHOT_EAGER = cfg.bool("MARKET_SNAPSHOT_EAGER", False)
# How long a guild's cached market list pages and public-page guild lookups live.
MARKET_LIST_TTL = cfg.int("MARKET_LIST_TTL", 60, min_value=1)
# How long a verified API key is trusted by reads without the database (writes always
# check it there). Under a minute, so its last_used_at stays within a minute.
API_KEY_CACHE_SECONDS = cfg.int("API_KEY_CACHE_SECONDS", 30, min_value=1, max_value=60)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "predictmarket.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "TIMEOUT": CACHE_TTL,
            "KEY_PREFIX": "pm",
            "OPTIONS": {
                "socket_connect_timeout": CACHE_SOCKET_TIMEOUT_MS / 1000,
                "socket_timeout": CACHE_SOCKET_TIMEOUT_MS / 1000,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache",
            "LOCATION": "predictmarket",
            "TIMEOUT": CACHE_TTL,
        }
    }
# A leaderboard (top rows and every member's score, per guild, board and period)
# is recomputed at most this often; a member's own figures are always read live.
LEADERBOARD_CACHE_SECONDS = cfg.int("LEADERBOARD_CACHE_SECONDS", 5, min_value=1)

# ------------------------------------------------------------------------------
# Celery (configured from these settings by predictmarket/celery.py)
# ------------------------------------------------------------------------------
CELERY_TASK_TIME_LIMIT = cfg.int("CELERY_TASK_TIME_LIMIT", 300, min_value=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
if REDIS_URL:
    CELERY_BROKER_URL = cfg.str("CELERY_BROKER_URL", REDIS_URL)
    # A task not acknowledged within the visibility timeout is redelivered; it
    # must be well above the longest task (acks are late, see below).
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": CELERY_TASK_TIME_LIMIT * 4,
    }
else:
    _broker_dir = VAR_DIR / "celery-broker"
    # The filesystem transport needs its folders to exist before it connects.
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = cfg.str("CELERY_BROKER_URL", "filesystem://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
# Tasks are idempotent, so a task whose worker died is run again rather than lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = cfg.bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat's own scheduler stamps the beat heartbeat that /health/ready reads.
CELERY_BEAT_SCHEDULER = "predictmarket.worker_metrics:HeartbeatScheduler"
# The worker's own Prometheus endpoint (0 turns it off); its children's samples
# go to WORKER_METRICS_DIR (empty: a fresh temporary directory per start).
WORKER_METRICS_PORT = cfg.int("WORKER_METRICS_PORT", 9102, min_value=0, max_value=65535)
# The one beat schedule. Entries are added by the apps' real tasks.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "reconcile-ledger": {"task": "points.reconcile_ledger", "schedule": 3600.0},
    "close-due-markets": {"task": "markets.close_due_markets", "schedule": 60.0},
    "settlement-sweep": {"task": "betting.settlement_sweep", "schedule": 60.0},
    "auto-refund-sweep": {"task": "betting.auto_refund_sweep", "schedule": 300.0},
    "remind-moderators": {"task": "markets.remind_moderators", "schedule": 900.0},
    "announce-closing-soon": {"task": "markets.announce_closing_soon", "schedule": 60.0},
    # Claims each guild's ended ISO week and month once (betting.period_posts), so the
    # leaders are posted within ten minutes of the period's end.
    "post-period-leaders": {"task": "betting.post_period_leaders", "schedule": 600.0},
    "deliver-drip-transfers": {"task": "points.deliver_drip_transfers", "schedule": 15.0},
    "reconcile-drip": {"task": "points.reconcile_drip", "schedule": 3600.0},
}

# ------------------------------------------------------------------------------
# Business rules (defaults from the design notes; per-guild settings start here)
# ------------------------------------------------------------------------------
MIN_BET_AMOUNT = cfg.int("MIN_BET_AMOUNT", 1, min_value=1, max_value=MAX_AMOUNT)
MAX_BET_AMOUNT = cfg.int("MAX_BET_AMOUNT", 1_000_000, min_value=1, max_value=MAX_AMOUNT)
if MAX_BET_AMOUNT < MIN_BET_AMOUNT:
    raise ConfigError("MAX_BET_AMOUNT", f"must not be below MIN_BET_AMOUNT ({MIN_BET_AMOUNT})")
AUTO_REFUND_HOURS = cfg.int("AUTO_REFUND_HOURS", 120, min_value=1, max_value=24 * 365)
MIN_RESOLUTION_VOTES = cfg.int("MIN_RESOLUTION_VOTES", 2, min_value=1, max_value=25)
# Default hours after a decision during which moderators may correct it (0 = never).
CORRECTION_WINDOW_HOURS = cfg.int(
    "CORRECTION_WINDOW_HOURS", 7 * 24, min_value=0, max_value=24 * 365
)
# New guilds start from these; a guild amount is at most MAX_AMOUNT (a CHECK in points).
DEFAULT_LIQUIDITY = cfg.int("DEFAULT_LIQUIDITY", 1000, min_value=1, max_value=MAX_AMOUNT)
STARTING_BALANCE = cfg.int("STARTING_BALANCE", 1000, min_value=0, max_value=MAX_AMOUNT)
DAILY_POINTS = cfg.int("DAILY_POINTS", 100, min_value=0, max_value=MAX_AMOUNT)

RATE_LIMIT_BETS_PER_MINUTE = cfg.int("RATE_LIMIT_BETS_PER_MINUTE", 5, min_value=1)
RATE_LIMIT_COMMANDS_PER_MINUTE = cfg.int("RATE_LIMIT_COMMANDS_PER_MINUTE", 10, min_value=1)
RATE_LIMIT_GUILD_COMMANDS_PER_MINUTE = cfg.int(
    "RATE_LIMIT_GUILD_COMMANDS_PER_MINUTE", 100, min_value=1
)
RATE_LIMIT_MARKET_CREATIONS_PER_HOUR = cfg.int(
    "RATE_LIMIT_MARKET_CREATIONS_PER_HOUR", 10, min_value=1
)
RATE_LIMITS_ENABLED = cfg.bool("RATE_LIMITS_ENABLED", True)

# ------------------------------------------------------------------------------
# Discord bot
# ------------------------------------------------------------------------------
DISCORD_TOKEN = cfg.str("DISCORD_TOKEN", "")
# Discord's HTTP API; tests point it at a local Discord emulator. The bot sets
# nextcord.http.Route.BASE from it, and the web asks Discord for moderator roles there.
DISCORD_API_BASE_URL = cfg.str("DISCORD_API_BASE_URL", "https://discord.com/api/v10").rstrip("/")
# How long the web waits for Discord when checking a moderator's rights (a moderator
# action waits this long at most before it is refused with a 503).
DISCORD_API_TIMEOUT_SECONDS = cfg.float(
    "DISCORD_API_TIMEOUT_SECONDS", 3.0, min_value=0.1, max_value=30.0
)
BOT_METRICS_PORT = cfg.int("BOT_METRICS_PORT", 9101, min_value=0, max_value=65535)

# ------------------------------------------------------------------------------
# Sign in with Discord (OAuth2 authorization-code flow, django-allauth)
# ------------------------------------------------------------------------------
# The Discord application's OAuth2 client; without both, the site says sign-in is
# not configured. The client id also builds the bot's invite link on the landing page.
DISCORD_OAUTH_CLIENT_ID = cfg.str("DISCORD_OAUTH_CLIENT_ID", "")
DISCORD_OAUTH_CLIENT_SECRET = cfg.str("DISCORD_OAUTH_CLIENT_SECRET", "")
# Registered as a redirect in Discord's developer portal, character for character.
DISCORD_OAUTH_REDIRECT_URL = cfg.str(
    "DISCORD_OAUTH_REDIRECT_URL", f"{PUBLIC_BASE_URL}/accounts/discord/login/callback/"
)
# Where the browser is sent to consent (Discord's web site, not its API); tests point it
# at the Discord emulator. The token and user endpoints are under DISCORD_API_BASE_URL.
DISCORD_OAUTH_AUTHORIZE_URL = cfg.str(
    "DISCORD_OAUTH_AUTHORIZE_URL", "https://discord.com/oauth2/authorize"
)
DISCORD_OAUTH_SCOPES = ["identify", "guilds", "guilds.members.read"]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "/"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
# People sign up only through Discord; operators keep the admin's password login.
ACCOUNT_ADAPTER = "predictmarket.discord_login.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "predictmarket.discord_login.adapter.DiscordAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_AUTO_SIGNUP = True
# Kept (allauth's SocialToken, updated at each sign-in): Discord is asked with the
# person's own token which servers they are in (the members' web app) and which they
# moderate (the moderators' console, GET /users/@me/guilds/{id}/member).
SOCIALACCOUNT_STORE_TOKENS = True
SOCIALACCOUNT_REQUESTS_TIMEOUT = DISCORD_API_TIMEOUT_SECONDS
# The OAuth client comes from DISCORD_OAUTH_CLIENT_ID/SECRET, read on each request by
# predictmarket.discord_login.adapter (no SocialApp row, no admin step).
SOCIALACCOUNT_PROVIDERS = {"discord": {"SCOPE": DISCORD_OAUTH_SCOPES}}
# How old Discord's answer "this person moderates these servers" may be before the
# moderators' console asks again (every POST asks anyway). At most 5 minutes: a
# moderator who loses the role loses the console within this window.
MODERATOR_CONSOLE_REFRESH_SECONDS = cfg.int(
    "MODERATOR_CONSOLE_REFRESH_SECONDS", 300, min_value=1, max_value=300
)

# ------------------------------------------------------------------------------
# DRIP (external points service, for guilds that choose it)
# ------------------------------------------------------------------------------
DRIP_API_BASE_URL = cfg.str("DRIP_API_BASE_URL", "https://api.drip.re").rstrip("/")
DRIP_API_VERSION = cfg.str("DRIP_API_VERSION", "v1")
DRIP_TIMEOUT_SECONDS = cfg.float("DRIP_TIMEOUT_SECONDS", 5.0, min_value=0.1, max_value=60.0)
DRIP_MAX_ATTEMPTS = cfg.int("DRIP_MAX_ATTEMPTS", 4, min_value=1, max_value=10)
DRIP_MAX_RETRY_AFTER_SECONDS = cfg.int("DRIP_MAX_RETRY_AFTER_SECONDS", 30, min_value=1)
DRIP_BREAKER_FAILURES = cfg.int("DRIP_BREAKER_FAILURES", 5, min_value=1)
DRIP_BREAKER_RESET_SECONDS = cfg.int("DRIP_BREAKER_RESET_SECONDS", 30, min_value=1)
DRIP_BALANCE_CACHE_SECONDS = cfg.int("DRIP_BALANCE_CACHE_SECONDS", 15, min_value=0)
DRIP_ENCRYPTION_KEY = cfg.str("DRIP_ENCRYPTION_KEY", "")

# ------------------------------------------------------------------------------
# REST framework
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "predictmarket.api.auth.ApiKeyAuthentication",
        "predictmarket.api.auth.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["predictmarket.api.throttling.SharedRateLimit"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "predictmarket.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "predictmarket API",
    "DESCRIPTION": (
        "Prediction markets of one Discord server. Authenticate with a member's personal "
        "key (`/apikey` in Discord): `Authorization: Bearer pm_…`. Every error is "
        '`{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"MarketStatusEnum": "markets.models.MarketStatus"},
}

# ------------------------------------------------------------------------------
# Security (production mode)
# ------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = cfg.bool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes and Prometheus scrape over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SECURE_HSTS_SECONDS = cfg.int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, min_value=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = cfg.bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
if cfg.bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# check --deploy warns about HSTS preload, which is an opt-in commitment.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# ------------------------------------------------------------------------------
# Logging and error reporting
# ------------------------------------------------------------------------------
LOG_LEVEL = cfg.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOG_FORMAT = cfg.choice("LOG_FORMAT", "console" if DEBUG else "json", ("json", "console"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "predictmarket.logging.RequestIdFilter"},
        # trace_id and span_id, written by the json formatter like every extra attribute.
        "trace_id": {"()": "predictmarket.logging.TraceIdFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "console": {
            "format": "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "trace_id"],
        }
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
    },
}

SENTRY_DSN = cfg.str("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = cfg.str("SENTRY_ENVIRONMENT", "development" if DEBUG else "production")
SENTRY_TRACES_SAMPLE_RATE = cfg.float(
    "SENTRY_TRACES_SAMPLE_RATE", 0.0, min_value=0.0, max_value=1.0
)
if SENTRY_DSN:
    from predictmarket.observability import init_sentry

    init_sentry(SENTRY_DSN, SENTRY_ENVIRONMENT, SENTRY_TRACES_SAMPLE_RATE)
