"""aerie settings. Every production knob is an environment variable; the defaults are the
embedded ones that `make run` uses on a fresh machine (see README, "Configuration").

Importing this module only reads configuration: it starts no process and writes no file, and it is
the only module that reads the environment. What the embedded defaults need on disk (var/, the
secret key, the embedded PostgreSQL) is prepared by config.embedded before Django starts."""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AERIE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


_EMBEDDED = "or start aerie with its embedded defaults: make run, or python -m config.embedded run -- CMD"


def _secret_key() -> str:
    if os.environ.get("AERIE_SECRET_KEY"):
        return os.environ["AERIE_SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    if not path.exists():
        raise ImproperlyConfigured(f"no secret key: set AERIE_SECRET_KEY, {_EMBEDDED} (it writes {path})")
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("AERIE_DEBUG", False)
ALLOWED_HOSTS = env_list("AERIE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("AERIE_CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "ontology",
    "labeling",
    "frontend",
]

# config.hot.X is middleware X, skipped by the labeling page's hot requests made with an API token
# and no session cookie (nothing to do for them there: config/hot.py)
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.headers.SecurityHeadersMiddleware",
    "config.hot.WhiteNoiseMiddleware",
    "config.middleware.RetryOnLostConnection",
    "config.hot.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.hot.CsrfViewMiddleware",
    "config.hot.AuthenticationMiddleware",
    "config.hot.LazyMessageMiddleware",  # Django's, made on first use (config/messages.py)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.hot.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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


# Behind a pooler in transaction mode (PgBouncer's pool_mode=transaction): nothing may rely on
# session state. Server-side cursors are off, and so are prepared statements unless
# AERIE_PREPARED_STATEMENTS says the pooler carries them (PgBouncer 1.21+ max_prepared_statements).
AERIE_TRANSACTION_POOLER = env_bool("AERIE_TRANSACTION_POOLER", False)


def _database() -> dict:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise ImproperlyConfigured(f"no database: set DATABASE_URL=postgres://…, {_EMBEDDED}")
    db = dj_database_url.parse(url, conn_max_age=int(os.environ.get("AERIE_DB_CONN_MAX_AGE", "60")))
    if not db["ENGINE"].endswith("postgresql"):
        raise RuntimeError("aerie runs on PostgreSQL only; DATABASE_URL must be postgres://…")
    # Only the hot labeling statements are prepared (labeling/work/prepared.py): plan them once, not
    # once per request. Nothing else is affected (Django binds its parameters client-side).
    # psycopg never prepares on its own (threshold out of reach); hotsql asks with prepare=True.
    options = db.setdefault("OPTIONS", {})
    if not AERIE_TRANSACTION_POOLER:  # a pooler takes no startup options (and this is session state)
        options["options"] = (options.get("options", "") + " -c plan_cache_mode=force_generic_plan").strip()
    options.setdefault("prepare_threshold", 1 << 30)
    db["CONN_HEALTH_CHECKS"] = True  # a persistent connection the server dropped is replaced before use
    if AERIE_TRANSACTION_POOLER:
        # consecutive transactions may run on different server connections: no cursor may outlive
        # its transaction (Django's server-side cursors for .iterator() do, WITH HOLD)
        db["DISABLE_SERVER_SIDE_CURSORS"] = True
    db["ENGINE"] = "config.postgres"  # Django's backend, its health check without a round trip
    return db


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = ["labeling.access.backends.CachedModelBackend"]  # refuses locked-out sign-ins (signin_guard)
AERIE_PERMISSION_CACHE_SECONDS = float(os.environ.get("AERIE_PERMISSION_CACHE_SECONDS", "10"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("AERIE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("AERIE_STATIC_ROOT", VAR_DIR / "static"))  # made by collectstatic (make run)
MEDIA_ROOT = Path(os.environ.get("AERIE_MEDIA_ROOT", VAR_DIR / "media"))
# Media is never served as a public URL: frames go through permission-checked views.
MEDIA_URL = "/media-not-public/"

if os.environ.get("AERIE_S3_BUCKET"):
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["AERIE_S3_BUCKET"],
            "endpoint_url": os.environ.get("AERIE_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AERIE_S3_REGION") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Uploads stream to disk (never held whole in memory) and are capped.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None
# where uploads wait for their ingest (labeling.footage.staging): with AERIE_S3_BUCKET only a scratch
# copy for the ingest under way; on local storage shared by several machines, put it on that filesystem
AERIE_UPLOAD_DIR = Path(os.environ.get("AERIE_UPLOAD_DIR", VAR_DIR / "uploads"))
# With a data key, an upload larger than FILE_UPLOAD_MAX_MEMORY_SIZE streams to AERIE_UPLOAD_DIR
# encrypted (never to a plaintext temp file); without one, Django's handlers as usual.
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "labeling.footage.uploads.EncryptingUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
AERIE_MAX_UPLOAD_BYTES = int(os.environ.get("AERIE_MAX_UPLOAD_BYTES", str(20 * 1024**3)))

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labeling.access.backends.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "labeling.api.filters.IdFilterBackend",  # ids as numbers: no existence leak (see there)
        "rest_framework.filters.OrderingFilter",
    ],
    # JSON bodies are objects under DATA_UPLOAD_MAX_MEMORY_SIZE (labeling/api/parsers.py)
    "DEFAULT_PARSER_CLASSES": [
        "labeling.api.parsers.ObjectJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "labeling.api.errors.handle",
}

AERIE_VERSION = "0.1.0"  # written into export manifests and the API schema

SPECTACULAR_SETTINGS = {
    "TITLE": "aerie API",
    "DESCRIPTION": "Active-learning annotation server for aerial and surveillance video.",
    "VERSION": AERIE_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    # the schema and the docs are for people signed in (the docs page fetches the schema with
    # the session); they tell nobody else what aerie holds
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"ExportFormatEnum": "labeling.models.exports.Export.FORMATS",
                            "ModelKindEnum": "labeling.models.sampling.ModelVersion.KINDS",
                            "TrainingStatusEnum": "labeling.models.sampling.TrainingRun.STATUS_CHOICES",
                            "ScoringStatusEnum": "labeling.models.sampling.ScoringRun.STATUS_CHOICES"},
}

# Celery: Redis/RabbitMQ in production; Celery's filesystem transport under var/ by default.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "celery"  # its folders are made by config.embedded
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),  # the fanout tables, not in the working directory
        "store_processed": False,
    }
# Two queues: "celery" for what people wait on within seconds (agreement, gold checks,
# housekeeping) and "bulk" for long jobs (ingest, training, scoring, exports), so that a
# scoring run never delays a QA lead's new disagreement. A worker consumes both unless started
# with -Q (e.g. dedicated scoring machines: `-Q bulk`).
CELERY_TASK_QUEUES = (Queue("celery"), Queue("bulk"))
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {f"labeling.tasks.{name}": {"queue": "bulk"} for name in (
    "ingest_job", "train_model", "start_scoring", "score_chunk", "finalize_scoring", "export_job", "propagate",
    "start_redaction", "redaction_chunk", "finalize_redaction", "redact_frames", "retention_run")}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery beat: resume scoring chunks and exports that dead workers left, and re-score projects on schedule
# (AERIE_RESCORE_EVERY_S, default 6 h, decides when a project is due).
CELERY_BEAT_SCHEDULE = {
    "housekeeping": {"task": "labeling.tasks.housekeeping",
                             "schedule": float(os.environ.get("AERIE_SCORING_SWEEP_S", "60"))},
    # chain the audit events committed since the last run (off the requests' path)
    "audit-link": {"task": "labeling.tasks.link_audit",
                   "schedule": float(os.environ.get("AERIE_AUDIT_LINK_EVERY_S", "5"))},
    # sign the audit chain's head (nothing new is signed when nothing happened since the last seal)
    "audit-seal": {"task": "labeling.tasks.seal_audit",
                   "schedule": float(os.environ.get("AERIE_AUDIT_SEAL_EVERY_S", "300"))},
    # retention (labeling.custody.retention): start a run when the last is AERIE_RETENTION_EVERY_S
    # old, or resume one whose worker died
    "retention": {"task": "labeling.tasks.retention_sweep",
                  "schedule": float(os.environ.get("AERIE_RETENTION_SWEEP_S", "600"))},
}

# Quality checks leave each web process in batches, this often (labeling.jobs.outbox)
AERIE_OUTBOX_FLUSH_S = float(os.environ.get("AERIE_OUTBOX_FLUSH_S", "0.25"))

# The sampler (labeling/sampling/): frames per scoring chunk and per forward pass, when a claimed
# chunk counts as abandoned, how often a project is re-scored, and PyTorch's threads and device.
AERIE_SCORING_CHUNK = int(os.environ.get("AERIE_SCORING_CHUNK", "256"))
AERIE_SCORING_BATCH = int(os.environ.get("AERIE_SCORING_BATCH", "8"))
AERIE_SCORING_STALE_S = float(os.environ.get("AERIE_SCORING_STALE_S", "120"))
# redaction (labeling.redaction.runs): frames per chunk (the unit workers share; each frame is a
# face search and a render) and how long a chunk's worker may go without beating
AERIE_REDACTION_CHUNK = int(os.environ.get("AERIE_REDACTION_CHUNK", "32"))
AERIE_REDACTION_STALE_S = float(os.environ.get("AERIE_REDACTION_STALE_S", "120"))
# model evaluation (labeling.governance.evaluation): frames per chunk of an evaluation run
AERIE_EVALUATION_CHUNK = int(os.environ.get("AERIE_EVALUATION_CHUNK", "128"))
# agreement re-scoring (labeling.quality.rescoring): frames per chunk, each scored in one batch
# and one transaction (a fixed number of statements per chunk), and when a claim counts as abandoned
AERIE_AGREEMENT_CHUNK = int(os.environ.get("AERIE_AGREEMENT_CHUNK", "500"))
AERIE_AGREEMENT_STALE_S = float(os.environ.get("AERIE_AGREEMENT_STALE_S", "120"))
# flight telemetry (labeling.footage.telemetry): a frame takes a KLV record or SRT cue at most
# this many seconds away (telemetry holds until the next sample)
AERIE_TELEMETRY_MAX_GAP_S = float(os.environ.get("AERIE_TELEMETRY_MAX_GAP_S", "1.0"))
AERIE_RESCORE_EVERY_S = float(os.environ.get("AERIE_RESCORE_EVERY_S", str(6 * 3600)))
AERIE_TORCH_THREADS = int(os.environ.get("AERIE_TORCH_THREADS", "0") or 0)  # 0: every core
AERIE_TORCH_DEVICE = os.environ.get("AERIE_TORCH_DEVICE", "")  # "cpu" forces the CPU; else CUDA where present

# Retention (labeling.custody.retention): how often a run starts (daily), frames per step (one
# transaction of tombstones, then the deletes), and when a run's worker counts as dead
AERIE_RETENTION_EVERY_S = float(os.environ.get("AERIE_RETENTION_EVERY_S", str(24 * 3600)))
AERIE_RETENTION_CHUNK = int(os.environ.get("AERIE_RETENTION_CHUNK", "500"))
AERIE_RETENTION_STALE_S = float(os.environ.get("AERIE_RETENTION_STALE_S", "600"))

# Exports: a running export whose heartbeat is older than this was left by a dead worker
AERIE_EXPORT_STALE_S = float(os.environ.get("AERIE_EXPORT_STALE_S", "120"))

# Web processes (config/wsgi.py): how soon a waiting request thread gets the GIL
AERIE_GIL_SWITCH_S = float(os.environ.get("AERIE_GIL_SWITCH_S", "0.001"))
# The hot labeling statements as server-side prepared statements (labeling.work.prepared). Off by
# default behind a transaction pooler (AERIE_TRANSACTION_POOLER); set it true there when the pooler
# carries prepared statements (PgBouncer 1.21+ with max_prepared_statements).
AERIE_PREPARED_STATEMENTS = env_bool("AERIE_PREPARED_STATEMENTS", not AERIE_TRANSACTION_POOLER)

# The labeling queue
AERIE_LEASE_MINUTES = float(os.environ.get("AERIE_LEASE_MINUTES", "15"))

# Annotator protection
AERIE_PROTECTION_POLICY_VERSION = os.environ.get("AERIE_PROTECTION_POLICY_VERSION", "1")  # a new notice asks again
AERIE_REVEAL_URL_SECONDS = int(os.environ.get("AERIE_REVEAL_URL_SECONDS", "60"))  # a reveal's signed URL lives this long
AERIE_REVEAL_MAX_SECONDS = int(os.environ.get("AERIE_REVEAL_MAX_SECONDS", "600"))  # one reveal counts at most this long

# Ingest limits: each is a clear error on the job, never a crash.
AERIE_MAX_IMAGE_PIXELS = int(os.environ.get("AERIE_MAX_IMAGE_PIXELS", str(64_000_000)))
AERIE_MAX_FRAMES_PER_SEQUENCE = int(os.environ.get("AERIE_MAX_FRAMES_PER_SEQUENCE", "500000"))
AERIE_MAX_ZIP_MEMBERS = int(os.environ.get("AERIE_MAX_ZIP_MEMBERS", "200000"))
AERIE_FRAME_JPEG_QUALITY = int(os.environ.get("AERIE_FRAME_JPEG_QUALITY", "90"))
AERIE_THUMBNAIL_SIZE = int(os.environ.get("AERIE_THUMBNAIL_SIZE", "320"))
AERIE_PREVIEW_SIZE = int(os.environ.get("AERIE_PREVIEW_SIZE", "320"))
AERIE_PREVIEW_BLUR_RADIUS = float(os.environ.get("AERIE_PREVIEW_BLUR_RADIUS", "8"))  # pixels of the preview

# Encryption at rest (labeling.footage.crypto). The key-encryption key: a file holding 32 random
# bytes (raw or base64; `manage.py rotate_data_key --generate PATH` makes one), or its base64 in
# AERIE_DATA_KEY. Unset: raw footage is stored in the clear (a start-up warning says so).
AERIE_DATA_KEY_FILE = Path(os.environ["AERIE_DATA_KEY_FILE"]) if os.environ.get("AERIE_DATA_KEY_FILE") else None
AERIE_DATA_KEY = os.environ.get("AERIE_DATA_KEY", "")
# Earlier keys still needed to read blobs while `manage.py rotate_data_key` moves them to the new one.
AERIE_DATA_OLD_KEY_FILES = [Path(p) for p in env_list("AERIE_DATA_OLD_KEY_FILES", "")]
# Thumbnails, blurred previews and redacted renditions are stored in the clear unless this is on.
AERIE_ENCRYPT_DERIVED = env_bool("AERIE_ENCRYPT_DERIVED", False)

# Ed25519 signing keys (manifests, exports, model versions, audit seals, SBOMs): a keyring in the
# database (labeling.access.keyring) names the active key; the private keys are PEM files
# `<key id>.pem` (mode 0600) in AERIE_SIGNING_KEY_DIR, which every web server and worker reads
# (shared storage, or copied to each machine). AERIE_SIGNING_KEY_FILE is the keyring's first key
# (the key of installations from before the keyring; made under var/ if absent).
AERIE_SIGNING_KEY_FILE = Path(os.environ.get("AERIE_SIGNING_KEY_FILE", VAR_DIR / "keys" / "aerie-ed25519.pem"))
AERIE_SIGNING_KEY_DIR = Path(os.environ.get("AERIE_SIGNING_KEY_DIR", VAR_DIR / "keys"))
# Public keys (base64 of the raw 32-byte Ed25519 key, comma-separated) whose signatures on model
# weights are trusted besides this installation's own signing key. Imported into the keyring
# (state trusted-external) when first seen; retire or revoke them there.
AERIE_TRUSTED_MODEL_KEYS = [k for k in os.environ.get("AERIE_TRUSTED_MODEL_KEYS", "").split(",") if k.strip()]

# Sessions, CSRF and security headers. Behind HTTPS set AERIE_SECURE_COOKIES=true: cookies are
# then sent over HTTPS only and browsers are told to use HTTPS (HSTS).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("AERIE_SECURE_COOKIES", False)
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(float(os.environ.get("AERIE_SESSION_HOURS", "12")) * 3600)  # one working day
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # the labeling page's scripts read it (Django: no benefit in hiding it)
SECURE_HSTS_SECONDS = int(os.environ.get("AERIE_HSTS_SECONDS", "31536000" if SESSION_COOKIE_SECURE else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
if env_bool("AERIE_BEHIND_HTTPS_PROXY", False):  # the proxy sets X-Forwarded-Proto
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (config/headers.py): scripts and styles from aerie itself only; inline
# style attributes (progress bars, colour chips) allowed, inline scripts never; no framing.
AERIE_CSP = os.environ.get("AERIE_CSP", "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data: blob:",
    "font-src 'self'", "connect-src 'self'", "media-src 'self'", "object-src 'none'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'",
]))
AERIE_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# Sign-in throttling (labeling/access/signin_guard.py): failures are counted per username and per client
# address over AERIE_LOGIN_WINDOW_S; at the limit that key is locked for AERIE_LOGIN_LOCKOUT_S.
AERIE_LOGIN_MAX_FAILURES = int(os.environ.get("AERIE_LOGIN_MAX_FAILURES", "5"))
AERIE_LOGIN_MAX_FAILURES_PER_IP = int(os.environ.get("AERIE_LOGIN_MAX_FAILURES_PER_IP", "30"))
AERIE_LOGIN_WINDOW_S = int(os.environ.get("AERIE_LOGIN_WINDOW_S", "900"))
AERIE_LOGIN_LOCKOUT_S = int(os.environ.get("AERIE_LOGIN_LOCKOUT_S", "900"))
# Proxies in front of aerie that append the client address to X-Forwarded-For (0: use the
# connection's address; never trust the header when nothing in front sets it).
AERIE_PROXY_HOPS = int(os.environ.get("AERIE_PROXY_HOPS", "0"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("AERIE_LOG_LEVEL", "INFO")},
}
