"""Configuration read from the environment, with development defaults that work on a fresh machine."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

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
    # merchant import uploads (CSV/GeoJSON); a request is also bounded by MAX_CONTENT_LENGTH
    IMPORT_MAX_BYTES = _env_int("IMPORT_MAX_BYTES", 8 * 1024 * 1024)
    # public self-onboarding: submissions per IP per hour and per phone per day
    ONBOARDING_PER_IP_HOUR = _env_int("ONBOARDING_PER_IP_HOUR", 10)
    ONBOARDING_PER_PHONE_DAY = _env_int("ONBOARDING_PER_PHONE_DAY", 3)
    # possible-duplicate answers a user may get in an hour (each one says whether a name or phone is near)
    DUPLICATE_ANSWERS_PER_HOUR = _env_int("DUPLICATE_ANSWERS_PER_HOUR", 30)
    UPLOAD_DIR = _env("UPLOAD_DIR", str(ROOT / "var" / "uploads"))

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


def check_production_safety(config: Config) -> None:
    """Refuse to start a production service with a guessable secret."""
    if not config.is_production:
        return
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        value = getattr(config, name)
        if value == DEV_SECRET or len(value) < 32:
            raise RuntimeError(f"{name} must be set to a random value of at least 32 characters in production")
