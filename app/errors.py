"""One error hierarchy, one JSON shape: ``{code, status, message, error_code, errors?}``.

Clients branch on ``error_code`` (stable, SCREAMING_SNAKE); ``message`` is for humans and may change.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    status: int = 400
    error_code: str = "BAD_REQUEST"
    message: str = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        error_code: str | None = None,
        status: int | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.message
        self.error_code = error_code or self.error_code
        self.status = status or self.status
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}
        reserved = {"code", "status", "message", "error_code", "errors"} & set(self.extra)
        if reserved:
            raise ValueError(f"error extras may not replace the error shape's own fields: {sorted(reserved)}")
        super().__init__(self.message)


class BadRequest(AppError):
    status, error_code, message = 400, "BAD_REQUEST", "The request is malformed."


class Unauthorized(AppError):
    status, error_code, message = 401, "UNAUTHORIZED", "Authentication is required."


class Forbidden(AppError):
    status, error_code, message = 403, "FORBIDDEN", "You are not allowed to do this."


class NotFound(AppError):
    status, error_code, message = 404, "NOT_FOUND", "Not found."


class Conflict(AppError):
    status, error_code, message = 409, "CONFLICT", "The request conflicts with the current state."


class ValidationFailed(AppError):
    status, error_code, message = 422, "VALIDATION_ERROR", "Some fields are invalid."


class RateLimited(AppError):
    status, error_code, message = 429, "RATE_LIMITED", "Too many requests; retry later."

    def __init__(self, retry_after: int, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))}, **kwargs)
        self.extra.setdefault("retry_after", max(1, int(retry_after)))


class ServiceUnavailable(AppError):
    status, error_code, message = 503, "SERVICE_UNAVAILABLE", "A dependency is unavailable; retry shortly."


# Codes for errors raised by Flask/werkzeug/webargs rather than by our code.
HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
}


def error_body(status: int, error_code: str, message: str, errors: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
        "error_code": error_code,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def _respond(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def handle_app_error(error: AppError) -> Response:
    body = error_body(error.status, error.error_code, error.message, error.errors, **error.extra)
    return _respond(body, error.status, error.headers)


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    if status >= 500:
        return handle_unexpected(error)
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    message = data.get("message") or error.description or HTTPStatus(status).phrase
    response = _respond(
        error_body(status, HTTP_ERROR_CODES.get(status, "HTTP_ERROR"), message, errors), status, data.get("headers")
    )
    if status == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_database_unavailable(error: DBAPIError) -> Response:
    log.error("database unavailable: %s", error.__class__.__name__)
    body = error_body(503, "SERVICE_UNAVAILABLE", "The database is unavailable; retry shortly.")
    return _respond(body, 503, {"Retry-After": "5"})


def handle_unexpected(error: BaseException) -> Response:
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, OperationalError) and original.connection_invalidated is not None:
        return handle_database_unavailable(original)
    log.exception("unhandled error", exc_info=original)
    return _respond(error_body(500, "INTERNAL_ERROR", "Something went wrong on our side."), 500)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
