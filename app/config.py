"""Configuration read from the environment, with development defaults that work on a fresh machine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

DEV_SECRET = "dev-only-secret-change-me-in-production-0123456789"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_optional_int(name: str, default: int) -> int | None:
    """An integer, or None for "none" / "off" (e.g. never prepare)."""
    value = os.environ.get(name, str(default)).strip().lower()
    return None if value in ("none", "off", "") else int(value)


class Config:
    """Settings for a running service. Every value can be overridden by an environment variable."""

    ENV = _env("APP_ENV", "development")
    SECRET_KEY = _env("SECRET_KEY", DEV_SECRET)
    DATABASE_URL = _env("DATABASE_URL", "postgresql+psycopg://127.0.0.1:5432/fieldsales")
    DB_POOL_SIZE = _env_int("DB_POOL_SIZE", 10)
    # psycopg prepares a statement server-side once a connection has run it this often (psycopg's 5); "none":
    # never, as PgBouncer in transaction mode needs (docs/scaling.md, "Connection pooling")
    DB_PREPARE_THRESHOLD = _env_optional_int("DB_PREPARE_THRESHOLD", 5)
    # Read replicas (app/replicas.py), comma-separated URLs; none (the default): every query on the primary.
    DATABASE_REPLICA_URLS = tuple(url.strip() for url in _env("DATABASE_REPLICA_URLS", "").split(",") if url.strip())
    # A replica further behind than this is skipped (other users' reads may be this stale; a user's own
    # writes are always seen); how often each process checks its replicas' health and lag.
    REPLICA_MAX_LAG_MS = _env_int("REPLICA_MAX_LAG_MS", 2000)
    REPLICA_CHECK_INTERVAL_MS = _env_int("REPLICA_CHECK_INTERVAL_MS", 500)
    REDIS_URL = _env("REDIS_URL", "redis://127.0.0.1:6379/0")
    RQ_QUEUES = ("default", "push", "sweeps")

    # Push: the local FCM-compatible server shipped in push/ is the development target.
    PUSH_BACKEND = _env("PUSH_BACKEND", "fcm")
    FCM_PROJECT_ID = _env("FCM_PROJECT_ID", "fieldsales-dev")
    FCM_ENDPOINT = _env("FCM_ENDPOINT", "http://127.0.0.1:9099")
    FCM_CREDENTIALS_FILE = _env("FCM_CREDENTIALS_FILE", "")

    JWT_SECRET_KEY = _env("JWT_SECRET_KEY", "") or SECRET_KEY
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=_env_int("JWT_ACCESS_MINUTES", 15))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=_env_int("JWT_REFRESH_DAYS", 30))
    # Tokens are signed and checked with PyJWT (app/auth/service.py, app/auth/security.py).
    JWT_ALGORITHM = "HS256"
    JWT_DECODE_LEEWAY = 0  # seconds of clock skew allowed on exp/nbf/iat

    # argon2id; tests lower the cost because they hash hundreds of passwords.
    PASSWORD_TIME_COST = _env_int("PASSWORD_TIME_COST", 3)
    PASSWORD_MEMORY_COST_KIB = _env_int("PASSWORD_MEMORY_COST_KIB", 65536)

    # Failed logins (app/auth/throttle.py): an account's free failures, then waits of 1 s, 2 s, 4 s ... up to
    # LOGIN_LOCKOUT_SECONDS; forgotten a window after the last failure or at a success. One IP's budget is
    # larger, per fixed window.
    LOGIN_MAX_FAILURES = _env_int("LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCKOUT_SECONDS = _env_int("LOGIN_LOCKOUT_SECONDS", 900)
    LOGIN_FAILURE_WINDOW_SECONDS = _env_int("LOGIN_FAILURE_WINDOW_SECONDS", 86400)
    LOGIN_IP_MAX_FAILURES = _env_int("LOGIN_IP_MAX_FAILURES", 100)
    LOGIN_IP_WINDOW_SECONDS = _env_int("LOGIN_IP_WINDOW_SECONDS", 3600)

    DETAIL_CACHE_ENABLED = _env("DETAIL_CACHE_ENABLED", "1") not in ("0", "false", "no")

    # Browser origins allowed to call the API, comma-separated; empty (the default) means CORS stays closed.
    CORS_ORIGINS = _env("CORS_ORIGINS", "")
    # Reverse proxies in front of gunicorn whose X-Forwarded-For is believed (per-IP login throttle, logs).
    TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)
    # Strict-Transport-Security: only behind TLS, so off unless production says otherwise.
    HSTS_ENABLED = _env("HSTS_ENABLED", "1" if _env("APP_ENV", "development") == "production" else "0") == "1"
    # "json" (one object per line, with the request id) or "text" for reading in a terminal.
    LOG_FORMAT = _env("LOG_FORMAT", "json")
    LOG_LEVEL = _env("LOG_LEVEL", "INFO")

    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 8 * 1024 * 1024)

    # The web console (/console): its cookie holds a session id only; Secure whenever behind TLS (production).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env("APP_ENV", "development") == "production"
    SESSION_COOKIE_PATH = "/console"
    # CSRF tokens (Flask-WTF) are checked by the console itself on every POST, not on the bearer-token API
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None  # valid as long as the console session
    # Map tiles of the console: a URL template ({z}/{x}/{y}); empty draws a blank basemap and fetches nothing
    # (development, tests). CONSOLE_TILE_GCJ02=1 when the tiles are a Chinese provider's (AMap, Tencent).
    CONSOLE_TILE_URL = _env(
        "CONSOLE_TILE_URL",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png" if _env("APP_ENV", "development") == "production" else "",
    )
    CONSOLE_TILE_GCJ02 = _env("CONSOLE_TILE_GCJ02", "0") == "1"
    # merchant import uploads (CSV/GeoJSON); a request is also bounded by MAX_CONTENT_LENGTH
    IMPORT_MAX_BYTES = _env_int("IMPORT_MAX_BYTES", 8 * 1024 * 1024)
    # public self-onboarding: submissions per IP per hour and per phone per day
    ONBOARDING_PER_IP_HOUR = _env_int("ONBOARDING_PER_IP_HOUR", 10)
    ONBOARDING_PER_PHONE_DAY = _env_int("ONBOARDING_PER_PHONE_DAY", 3)
    # possible-duplicate answers a user may get in an hour (each one says whether a name or phone is near)
    DUPLICATE_ANSWERS_PER_HOUR = _env_int("DUPLICATE_ANSWERS_PER_HOUR", 30)
    # Photos (app/uploads): "local" keeps them under UPLOAD_DIR, "s3" in a bucket of an S3-compatible store.
    # Without PHOTO_S3_ACCESS_KEY_ID/SECRET, boto3 finds credentials itself (instance role, AWS_* variables).
    UPLOAD_DIR = _env("UPLOAD_DIR", str(ROOT / "var" / "uploads"))
    PHOTO_STORAGE = _env("PHOTO_STORAGE", "local")
    PHOTO_S3_BUCKET = _env("PHOTO_S3_BUCKET", "")
    PHOTO_S3_ENDPOINT_URL = _env("PHOTO_S3_ENDPOINT_URL", "")  # empty: AWS itself
    PHOTO_S3_REGION = _env("PHOTO_S3_REGION", "")
    PHOTO_S3_ACCESS_KEY_ID = _env("PHOTO_S3_ACCESS_KEY_ID", "")
    PHOTO_S3_SECRET_ACCESS_KEY = _env("PHOTO_S3_SECRET_ACCESS_KEY", "")
    # how long a signed photo URL (GET /api/v1/photos/...) works after the answer that carried it
    PHOTO_URL_TTL_SECONDS = _env_int("PHOTO_URL_TTL_SECONDS", 3600)
    # the origin photo URLs start with (https://api.example.com); empty: the request's own scheme and host
    PHOTO_URL_BASE = _env("PHOTO_URL_BASE", "")
    # exports: up to this many rows the GET answers the file at once; above, POST /exports runs a job
    EXPORT_INLINE_ROWS = _env_int("EXPORT_INLINE_ROWS", 5000)
    EXPORT_URL_TTL_SECONDS = _env_int("EXPORT_URL_TTL_SECONDS", 3600)
    # Retry-safe writes (app/idempotency): how long a POST's answer is kept for a retry with its Idempotency-Key,
    # and how long a retry waits for the first request with its key to finish before 409 IDEMPOTENCY_IN_PROGRESS
    IDEMPOTENCY_KEY_TTL_HOURS = _env_int("IDEMPOTENCY_KEY_TTL_HOURS", 72)
    IDEMPOTENCY_WAIT_SECONDS = _env_int("IDEMPOTENCY_WAIT_SECONDS", 5)

    # /metrics (Prometheus text) answers only requests with "Authorization: Bearer <METRICS_TOKEN>"; empty = off
    METRICS_TOKEN = _env("METRICS_TOKEN", "")
    # Sentry error reporting (API, worker, cron) when set; SENTRY_ENVIRONMENT defaults to APP_ENV
    SENTRY_DSN = _env("SENTRY_DSN", "")
    SENTRY_ENVIRONMENT = _env("SENTRY_ENVIRONMENT", "")
    SENTRY_TRACES_SAMPLE_RATE = float(_env("SENTRY_TRACES_SAMPLE_RATE", "0"))

    API_TITLE = "Field Sales API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    # Served by this app from the swagger-ui-bundle package: the docs work offline.
    OPENAPI_SWAGGER_UI_URL = "/api/v1/docs/assets/"
    API_SPEC_OPTIONS = {
        "info": {
            "description": (
                "Backend of the field-sales mobile app. Authenticate with `POST /auth/login` and send "
                "`Authorization: Bearer <access_token>`. Every error has the shape "
                "`{code, status, message, error_code, errors?}`; branch on `error_code`. "
                "See mobile_api_docs/guide.md."
            )
        },
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        # paths carry /api/v1; a generated client's base URL is the deployment's origin
        "servers": [
            {
                "url": "https://{host}",
                "description": "A deployment behind TLS",
                "variables": {"host": {"default": "api.example.com", "description": "The deployment's host name"}},
            },
            {"url": "http://127.0.0.1:8000", "description": "Local development (`bash scripts/run`)"},
        ],
    }

    def __init__(self, **overrides: object) -> None:
        for key, value in overrides.items():
            setattr(self, key, value)
        if "SECRET_KEY" in overrides and "JWT_SECRET_KEY" not in overrides and not os.environ.get("JWT_SECRET_KEY"):
            self.JWT_SECRET_KEY = self.SECRET_KEY

    @property
    def is_production(self) -> bool:
        return self.ENV == "production"


class UnsafeProductionSettings(RuntimeError):
    """``APP_ENV=production`` with settings that are only safe in development; each problem names its setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("refusing to start in production: " + "; ".join(problems))


DEFAULT_UPLOAD_DIR = str(ROOT / "var" / "uploads")
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::", ""})


def _secrets(config: Config) -> Iterator[str]:
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        value = getattr(config, name)
        if value == DEV_SECRET or len(value) < 32:
            yield f"{name} must be set to a random value of at least 32 characters in production"


def _push_target(config: Config) -> Iterator[str]:
    if config.PUSH_BACKEND != "fcm":
        yield f"PUSH_BACKEND must be fcm in production ({config.PUSH_BACKEND!r} delivers nothing to phones)"
        return
    if config.FCM_ENDPOINT:
        host = (urlsplit(config.FCM_ENDPOINT).hostname or "").lower()
        if host in LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost"):
            yield f"FCM_ENDPOINT must not be a local server in production (it is {config.FCM_ENDPOINT}); leave it empty"


def _push_credentials(config: Config) -> Iterator[str]:
    if config.PUSH_BACKEND != "fcm" or config.FCM_ENDPOINT:
        return
    if config.FCM_CREDENTIALS_FILE:
        if not Path(config.FCM_CREDENTIALS_FILE).is_file():
            yield f"FCM_CREDENTIALS_FILE names no readable file ({config.FCM_CREDENTIALS_FILE})"
        return
    adc = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")
    if not adc:
        yield (
            "FCM_CREDENTIALS_FILE (a service-account JSON) or GOOGLE_APPLICATION_CREDENTIALS "
            "(application-default credentials) must be set in production"
        )
    elif not Path(adc).is_file():
        yield f"GOOGLE_APPLICATION_CREDENTIALS names no readable file ({adc})"


def _upload_store(config: Config) -> Iterator[str]:
    if config.PHOTO_STORAGE == "s3":
        if not config.PHOTO_S3_BUCKET:
            yield "PHOTO_S3_BUCKET must name the bucket when PHOTO_STORAGE=s3"
        return  # photos live in the bucket: UPLOAD_DIR holds none
    if config.PHOTO_STORAGE != "local":
        yield f"PHOTO_STORAGE must be local or s3, not {config.PHOTO_STORAGE!r}"
    # the default lives in the checkout (or the container's writable layer): gone with the next deploy
    elif Path(config.UPLOAD_DIR).resolve() == Path(DEFAULT_UPLOAD_DIR).resolve():
        yield f"UPLOAD_DIR must be a persistent volume in production, not the default {DEFAULT_UPLOAD_DIR}"


def _cors(config: Config) -> Iterator[str]:
    origins = [origin.strip() for origin in config.CORS_ORIGINS.split(",") if origin.strip()]
    if any("*" in origin for origin in origins):
        yield "CORS_ORIGINS must list origins explicitly in production (no '*')"
    for origin in origins:
        if "*" not in origin and not urlsplit(origin).scheme.startswith("http"):
            yield f"CORS_ORIGINS entries must be origins like https://admin.example.com ({origin!r} is not)"


def _metrics_token(config: Config) -> Iterator[str]:
    if config.METRICS_TOKEN and len(config.METRICS_TOKEN) < 32:
        yield "METRICS_TOKEN must be at least 32 characters in production (or empty: /metrics off)"


# One function per rule, each yielding what is wrong with the setting it names: a new setting adds its rule here.
PRODUCTION_CHECKS: list[Callable[[Config], Iterable[str]]] = [
    _secrets,
    _push_target,
    _push_credentials,
    _upload_store,
    _cors,
    _metrics_token,
]


def production_problems(config: Config) -> list[str]:
    """What makes ``config`` unsafe for production, one sentence per problem, each naming its setting."""
    return [problem for check in PRODUCTION_CHECKS for problem in check(config)]


def check_production_safety(config: Config) -> None:
    """Refuse to start a production service with development settings (all problems at once)."""
    if not config.is_production:
        return
    problems = production_problems(config)
    if problems:
        raise UnsafeProductionSettings(problems)
