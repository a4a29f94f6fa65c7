"""Settings for the dispute portal: one module, switched by the environment.

The defaults give the embedded setup of `make run` (SQLite, a filesystem broker, mails written
to files). Production sets DATABASE_URL, CELERY_BROKER_URL, EMAIL_BACKEND and friends; see
`.env.example` and the README's configuration table.
"""

import sys
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The test suite runs with production-like settings (DEBUG off) but plain http and no secrets.
TESTING = "pytest" in sys.modules
# Secrets come only from the environment. Without one, local commands and tests use this
# development key; the web server and the worker refuse to start on it unless DEBUG is on
# (disputes_portal/checks.py), and `check --deploy` reports it as an error.
DEVELOPMENT_SECRET_KEY = "development-only-key-never-used-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
# Earlier keys, still accepted when checking signatures, so rotating SECRET_KEY does not break
# the customer links, cursors and sessions already given out (README: rotating the secret key).
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base for links in emails and webhooks.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # The admin with the support desk's own site (lockout, second factor): disputes/support_desk.
    "disputes.apps.SupportDeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # django-ninja's own Swagger UI files: the API docs load no CDN script and no inline one.
    "ninja",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "disputes",
    "notifications",
    "billing",
    "portal",
    "api",
    "bench",
]

# The Page* classes are Django's own, skipped for API requests (disputes_portal/middleware.py).
MIDDLEWARE = [
    "disputes_portal.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "disputes_portal.middleware.ContentSecurityPolicyMiddleware",
    "disputes_portal.middleware.PageSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the API answers in Accept-Language too
    "disputes_portal.middleware.PageCommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "disputes_portal.middleware.PageAuthenticationMiddleware",
    "disputes_portal.middleware.PageOTPMiddleware",
    "disputes_portal.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # check --deploy looks for it
    "disputes_portal.middleware.DatabaseUnavailableMiddleware",
    "api.middleware.JsonErrorsMiddleware",
    # Last, as django-axes asks: it turns a refused desk sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "disputes_portal.urls"
WSGI_APPLICATION = "disputes_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- HTTPS and security headers -------------------------------------------------------------------
# Off in the embedded run (plain http on 127.0.0.1), on by default everywhere else.
_https = env.bool("HTTPS", default=not DEBUG and not TESTING)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_https)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_https)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_https)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (docker-compose, most PaaS).
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline scripts anywhere; inline style attributes are allowed for the admin's own markup.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file in the embedded run: WAL lets readers and the writer
    # overlap, and IMMEDIATE transactions take the write lock up front instead of failing with
    # "database is locked" when a read transaction later tries to write.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ----------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Merchant sessions end after 8 hours, and when the browser closes.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "portal:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
# Failed logins allowed per client address and email within the window (seconds).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
# Failed logins allowed per client address within the window, whatever the email.
LOGIN_FAILURE_ADDRESS_LIMIT = env.int("LOGIN_FAILURE_ADDRESS_LIMIT", default=20)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)

# The support desk's sign-in (django-axes): stricter than the portal's. After
# SUPPORT_LOGIN_FAILURE_LIMIT failures from one address, or for one account from anywhere, that
# address or account is refused for SUPPORT_LOGIN_LOCKOUT_SECONDS; a success clears the count.
# `manage.py axes_reset_username NAME` unlocks an account early. Attempts are kept in the
# database, where the desk's "Access attempts" list shows them.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ONLY_ADMIN_SITE = True  # the portal's sign-in keeps its own per-address limits
AXES_FAILURE_LIMIT = env.int("SUPPORT_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("SUPPORT_LOGIN_LOCKOUT_SECONDS", default=1800))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "disputes_portal.ratelimit.client_ip"  # honours TRUSTED_PROXY_COUNT
AXES_LOCKOUT_CALLABLE = "disputes.support_desk.site.locked_out"
AXES_HANDLER = "disputes.support_desk.site.DeskAttemptsHandler"
AXES_VERBOSE = False
# Staff with an authenticator app give its code at sign-in (django-otp, TOTP). With this on,
# staff without one must set one up before any desk page opens: turn it on in production.
SUPPORT_DESK_REQUIRE_OTP = env.bool("SUPPORT_DESK_REQUIRE_OTP", default=False)
OTP_TOTP_ISSUER = "Dispute portal support desk"

# --- Languages and time --------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("nl", "Nederlands"),
    ("fi", "Suomi"),
    ("sv", "Svenska"),
    ("de", "Deutsch"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["disputes_portal.formats"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static and private files --------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
# Dispute documents are never served by URL: views check the party and stream them.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=VAR_DIR / "private-media")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
# Above the 5 documents a form accepts, so a sixth gets the form's clear message, not a 400.
DATA_UPLOAD_MAX_NUMBER_FILES = 20

# --- Email ---------------------------------------------------------------------------------------
# The embedded run writes one file per message under var/mail; production uses SMTP
# (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend), docker-compose points at Mailpit.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=VAR_DIR / "mail")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Dispute portal <disputes@localhost>")
# Where customers and merchants write to support (named on pages that send them there).
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="support@localhost")
# The name the parties read for the desk that handles their case ("Anna, Disputes team").
SUPPORT_TEAM_NAME = env.str("SUPPORT_TEAM_NAME", default="Support team")

# --- Celery --------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
else:
    # Fail fast when the broker is down: the outbox keeps the work and the periodic
    # delivery job picks it up, so a web request never hangs on a dead broker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
    CELERY_TASK_PUBLISH_RETRY_POLICY = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

_sweep_every = timedelta(seconds=env.int("DEADLINE_SWEEP_SECONDS", default=60))
_slow_every = timedelta(seconds=env.int("SLOW_JOB_SECONDS", default=300))
# Deadlines live in the database (`due_at`, `reminder_due_at`); beat only wakes the sweeps,
# each of which is idempotent, so a missed or doubled tick changes nothing.
CELERY_BEAT_SCHEDULE = {
    "escalate-overdue-merchant-windows": {
        "task": "disputes.escalate_overdue_merchant_windows",
        "schedule": _sweep_every,
    },
    "close-overdue-customer-windows": {
        "task": "disputes.close_overdue_customer_windows",
        "schedule": _sweep_every,
    },
    "expire-information-requests": {
        "task": "disputes.expire_information_requests",
        "schedule": _sweep_every,
    },
    "queue-due-reminders": {"task": "disputes.queue_due_reminders", "schedule": _sweep_every},
    "expire-returns": {"task": "disputes.expire_returns", "schedule": _sweep_every},
    "send-protection-checkins": {
        "task": "disputes.send_protection_checkins",
        "schedule": _slow_every,
    },
    "send-protection-ending-notices": {
        "task": "disputes.send_protection_ending_notices",
        "schedule": _slow_every,
    },
    "expire-protection": {"task": "disputes.expire_protection", "schedule": _slow_every},
    "deliver-outbox": {"task": "notifications.deliver_outbox", "schedule": _sweep_every},
    # Expired idempotency records and uploads never attached to a case.
    "api-cleanup": {"task": "api.cleanup", "schedule": _slow_every},
    "delete-stale-import-reports": {
        "task": "disputes.delete_stale_import_reports",
        "schedule": _slow_every,
    },
    # The retention policy (disputes.privacy): documents deleted, personal data pseudonymised.
    # Daily; idempotent, so a missed day is caught up by the next run.
    "apply-retention": {"task": "disputes.apply_retention", "schedule": crontab(minute=30, hour=3)},
    # Every ended month's fee statements not issued yet. Daily, not only on the 1st: a missed
    # run is caught up the next day; the job is idempotent, so a repeated run changes nothing.
    "issue-monthly-statements": {
        "task": "billing.issue_monthly_statements",
        "schedule": crontab(minute=0, hour=2),
    },
}

# --- Cache (rate limits) -------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# Reverse proxies in front of the app whose X-Forwarded-For entries are trusted.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
PUBLIC_FORM_RATE_LIMIT = env.int("PUBLIC_FORM_RATE_LIMIT", default=20)  # posts per window
PUBLIC_FORM_RATE_WINDOW = env.int("PUBLIC_FORM_RATE_WINDOW", default=600)  # seconds
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=120)  # requests per key and window
API_RATE_WINDOW = env.int("API_RATE_WINDOW", default=60)  # seconds
# How long a worker keeps an API key it has looked up: a revoked key stops within this time.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=5)
# Webhook endpoints on private or loopback addresses (tests, closed networks); refused otherwise.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)

# --- Domain settings -----------------------------------------------------------------------------
# Personal data (disputes.privacy.policies holds the defaults and what each kind means): the
# months each kind is kept, overridable per kind. Unset variables keep the defaults.
RETENTION_POLICY = {
    kind: {"months": months}
    for kind, months in {
        "documents": env.int("RETENTION_DOCUMENTS_MONTHS", default=0),
        "personal_text": env.int("RETENTION_PERSONAL_TEXT_MONTHS", default=0),
        "orders_without_case": env.int("RETENTION_ORDERS_WITHOUT_CASE_MONTHS", default=0),
        "fee_records": env.int("RETENTION_FEE_RECORDS_MONTHS", default=0),
    }.items()
    if months
}
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=500)
# The key of customers' pseudonyms (HMAC-SHA256 of the email); SECRET_KEY when empty. Keep it
# stable: a new key gives the same customer a new pseudonym.
PSEUDONYM_KEY = env.str("PSEUDONYM_KEY", default="")
# Cases per locked batch: `make bench` measured a merchant waiting at most ~0.5 s at 250.
SWEEP_BATCH_SIZE = env.int("SWEEP_BATCH_SIZE", default=250)
CUSTOMER_LINK_MAX_AGE = timedelta(days=env.int("CUSTOMER_LINK_MAX_AGE_DAYS", default=90))

# --- Logging -------------------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")  # "json" in production: one object a line
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "disputes_portal.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "disputes_portal.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
