"""Structured logs: one JSON object per line with time, level, logger, message and request id.

``LOG_FORMAT=text`` gives the classic one-line format for reading in a terminal. Set once per process;
calling it again (tests create several apps) replaces our handler instead of adding another.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from app.web.request_id import RequestIdFilter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message", "request_id")


class _Handler(logging.StreamHandler):
    """Our root handler, recognisable so that reconfiguring replaces it.

    Writes to whatever ``sys.stderr`` is when a record is emitted, not when the handler was made: gunicorn,
    RQ and test capture swap it, and a handler holding the old, closed stream would lose every line.
    """

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def json_formatter() -> JsonFormatter:
    """The JSON line format of every log of the service (the app's and gunicorn's access log)."""
    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def configure_logging(fmt: str = "json", level: int | str = logging.INFO) -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
    handler = _Handler()
    handler.addFilter(RequestIdFilter())
    if fmt == "text":
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    else:
        handler.setFormatter(json_formatter())
    root.addHandler(handler)
    root.setLevel(level)
