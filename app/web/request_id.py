"""A request id on every response and every log line.

An incoming ``X-Request-ID`` (from a load balancer or the app) is kept when it is well-formed, so one id
follows a request across systems; otherwise a fresh one is made. Anything else in the header is replaced,
never echoed, so it cannot inject text into logs or responses. Jobs log the id of the request that
enqueued them when they set it with ``bind``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, request

HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current() -> str | None:
    return _current.get()


def new_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bind(request_id: str | None) -> Iterator[None]:
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)


class RequestIdFilter(logging.Filter):
    """Stamps ``request_id`` on every record, whichever logger emits it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True


def _start() -> None:
    incoming = request.headers.get(HEADER, "")
    _current.set(incoming if WELL_FORMED.match(incoming) else new_id())


def _stamp(response: Response) -> Response:
    response.headers[HEADER] = _current.get() or new_id()
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_stamp)
    # teardown runs after the response is built; the id stays readable for the access log until then
    app.teardown_request(lambda _exc: _current.set(None))
