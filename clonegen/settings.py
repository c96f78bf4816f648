"""Settings for clonegen, read from the process environment and an optional `.env` file.

Every variable is documented in `.env.example` and the README; process variables win over `.env`.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env", override=False)


def env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_flag("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105 - debug only

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "daphne",  # first, so `runserver` serves ASGI (websockets) too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "generations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "clonegen.middleware.LoginRequiredWhenConfiguredMiddleware",
]

ROOT_URLCONF = "clonegen.urls"
ASGI_APPLICATION = "clonegen.asgi.application"
# The API answers with and without the trailing slash itself; a redirect would drop POST bodies.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "clonegen" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "generations.context_processors.model_warnings",
            ],
        },
    },
]

DATA_DIR = Path(os.environ.get("CLONEGEN_DATA_DIR", BASE_DIR / "data"))
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'clonegen.sqlite3'}"),
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_flag(
    "DJANGO_DB_POOL", default=True
):
    # Under ASGI every thread hop may open a connection (CONN_MAX_AGE must stay 0, Django's
    # docs say); psycopg's pool hands back an open one instead: ~4 ms and a forked backend
    # saved per hop. Each process holds up to max_size connections.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": int(os.environ.get("DJANGO_DB_POOL_MAX_SIZE", "10")),
        "timeout": 30,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock when a
    # transaction starts, so concurrent writers queue on the busy timeout instead of failing
    # with "database is locked" half-way through.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = None  # nothing is collected: see WHITENOISE_USE_FINDERS
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The app ships a handful of static files: whitenoise serves them straight from the app folders,
# so neither `make run` nor a deployment needs a collectstatic step.
WHITENOISE_USE_FINDERS = True


def _versioned_vendor_file(path: str, url: str) -> bool:
    # Vendored libraries live under a folder named for their version: cache them for a year.
    return "/vendor/tailwindcss/" in url


WHITENOISE_IMMUTABLE_FILE_TEST = _versioned_vendor_file

# A screenshot travels base64-encoded in one JSON body; 16 MiB matches the socket's frame limit.
REQUEST_BODY_MAX_BYTES = 16 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py times out reads after 5 s while channels-redis blocks 5 s waiting for a
            # message: an idle socket was closed (1011) and the control listener died.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "capacity": 1000},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # A socket's channel holds frames of four variants; the default of 100 drops
            # frames when a reader stalls briefly. Snapshots repair any that are dropped.
            "CONFIG": {"capacity": 1000},
        }
    }

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "generations.api.errors.envelope_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["generations.api.permissions.LoginRequiredWhenConfigured"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "clonegen API",
    "DESCRIPTION": (
        "Screenshot to HTML with four models streamed side by side; results are never lost."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # A generation and its list summary share their enums: one name each, not a hashed one.
    "ENUM_NAME_OVERRIDES": {
        "GenerationStatusEnum": "generations.models.GenerationStatus",
        "VariantStatusEnum": "generations.models.VariantStatus",
        "StackEnum": "generations.models.Stack",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    # The HTTP client logs request details at DEBUG only; keep it quiet so nothing it
    # prints could ever carry a header.
    "loggers": {name: {"level": "WARNING"} for name in ("httpx", "httpx2", "httpcore2", "openai")},
}

# --- security ---------------------------------------------------------------------------------
# The UI's own pages: nothing but this origin's scripts, styles and sockets. Generated HTML is
# never inline here: previews load from the REST HTML endpoint, which carries its own
# `sandbox allow-scripts` policy (this header is not added where one is already set).
CONTENT_SECURITY_POLICY = {
    # The admin is Django's own, with its own scripts; the API answers JSON or sandboxed pages.
    "EXCLUDE_URL_PREFIXES": ["/admin/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Only the REST HTML endpoint may be framed (by the UI's previews); it says SAMEORIGIN itself.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Production (debug off) is served over HTTPS behind a TLS proxy: trust its X-Forwarded-Proto,
# redirect plain HTTP, mark cookies secure, and ask browsers to keep to HTTPS.
# DJANGO_HTTPS=0 turns this off for a plain-HTTP deployment on a private network (and tests).
HTTPS = env_flag("DJANGO_HTTPS", not DEBUG)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_flag("DJANGO_HSTS_PRELOAD", False)
# Preloading binds the whole domain to HTTPS for good: an owner opts in (DJANGO_HSTS_PRELOAD=1),
# so its absence is not a deployment fault.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
# Pages that may open the socket besides the app's own (an Origin naming the host and port the
# socket was opened on): full origins, for a proxy that rewrites the Host header, say.
CLONEGEN_ALLOWED_ORIGINS = env_list("CLONEGEN_ALLOWED_ORIGINS", "")

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# --- clonegen itself -------------------------------------------------------------------------
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL", "") or None
CLONEGEN_MODELS = os.environ.get("CLONEGEN_MODELS", "")
# Generated images (contract §11): the default of a generation's `images`, the image model
# (the SDK's own default, generations.image_models.DEFAULT_IMAGE_MODEL), and a cap per variant.
CLONEGEN_IMAGES = env_flag("CLONEGEN_IMAGES", False)
# Render every completed variant in headless Chromium and score it against the screenshot
# (contract §9). Off only where the renders are not wanted (most tests: each costs a second).
CLONEGEN_RENDERS = env_flag("CLONEGEN_RENDERS", True)
CLONEGEN_IMAGE_MODEL = os.environ.get("CLONEGEN_IMAGE_MODEL", "") or "gpt-image-2.6-sunburst"
CLONEGEN_IMAGES_PER_VARIANT = int(os.environ.get("CLONEGEN_IMAGES_PER_VARIANT", "8"))
# Enforced at request time by clonegen.middleware (pages), the API's permission class and
# generations.access (every socket action and every read goes through it), so one switch
# covers all three.
CLONEGEN_REQUIRE_LOGIN = env_flag("CLONEGEN_REQUIRE_LOGIN", False)
CLONEGEN_MAX_IMAGE_MB = int(os.environ.get("CLONEGEN_MAX_IMAGE_MB", "10"))
# A model answer is cut at this many characters and its stream closed (contract §13): four such
# answers, their HTML and JSON escaping still fit one 16 MiB socket frame.
CLONEGEN_MAX_OUTPUT_CHARS = int(os.environ.get("CLONEGEN_MAX_OUTPUT_CHARS", "1000000"))
CLONEGEN_RATE_LIMIT = os.environ.get("CLONEGEN_RATE_LIMIT", "30/hour")
# Seconds between checkpoints of streamed text, and the pause between live chunk frames.
CLONEGEN_CHECKPOINT_SECONDS = float(os.environ.get("CLONEGEN_CHECKPOINT_SECONDS", "1.0"))
CLONEGEN_CHUNK_INTERVAL_SECONDS = float(os.environ.get("CLONEGEN_CHUNK_INTERVAL_SECONDS", "0.05"))
# A stalled stream must not hang a generation forever.
CLONEGEN_VARIANT_DEADLINE_SECONDS = float(
    os.environ.get("CLONEGEN_VARIANT_DEADLINE_SECONDS", "600")
)
CLONEGEN_STREAM_ATTEMPTS = int(os.environ.get("CLONEGEN_STREAM_ATTEMPTS", "3"))
# Liveness: each process touches its runs' heartbeat this often; three missed beats mark its
# work `interrupted`. Kept well under 10 s so a dead process is noticed within 30 s.
CLONEGEN_HEARTBEAT_SECONDS = float(os.environ.get("CLONEGEN_HEARTBEAT_SECONDS", "5"))
# On SIGTERM, running variants get this long to finish before they are interrupted.
CLONEGEN_SHUTDOWN_GRACE_SECONDS = float(os.environ.get("CLONEGEN_SHUTDOWN_GRACE_SECONDS", "20"))
# Heartbeat, recovery and drain run inside server processes; tests drive them explicitly.
CLONEGEN_BACKGROUND_SERVICES = env_flag("CLONEGEN_BACKGROUND_SERVICES", True)
# Clone from a URL (contract §10). Private, loopback and reserved addresses are refused unless
# this is on (tests, and deployments that clone pages of their own network).
CLONEGEN_URL_ALLOW_PRIVATE = env_flag("CLONEGEN_URL_ALLOW_PRIVATE", False)
# Off: no page is ever fetched by URL (url_forbidden), for deployments that must not reach out.
CLONEGEN_URL_CAPTURE = env_flag("CLONEGEN_URL_CAPTURE", True)
CLONEGEN_URL_TIMEOUT_SECONDS = float(os.environ.get("CLONEGEN_URL_TIMEOUT_SECONDS", "20"))
# Taller pages are cut here: models see a long capture shrunk to 2048 px high, where text of a
# 4096 px page is still readable at half size.
CLONEGEN_URL_MAX_PAGE_HEIGHT = int(os.environ.get("CLONEGEN_URL_MAX_PAGE_HEIGHT", "4096"))
# Captures running at once in one process (each holds a Chromium page), and how many more may
# wait for a turn before new ones are answered "busy" (rate_limited).
CLONEGEN_URL_CAPTURE_CONCURRENCY = int(os.environ.get("CLONEGEN_URL_CAPTURE_CONCURRENCY", "2"))
CLONEGEN_URL_CAPTURE_QUEUE = int(os.environ.get("CLONEGEN_URL_CAPTURE_QUEUE", "8"))
