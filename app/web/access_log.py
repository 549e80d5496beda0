"""gunicorn's access log in the app's JSON log format: one object per request with the request id and latency.

``gunicorn.conf.py`` selects this logger and sets ``access_log_format`` to ``JSON_ACCESS_FORMAT``. Any other
format (``--access-logformat`` on the command line, as the benchmarks pass to parse the log) is written as
gunicorn always did, so a tool that asks for its own format still gets it.
"""

from __future__ import annotations

import traceback
from typing import Any

from gunicorn.glogging import Logger

from app.web.logs import json_formatter

JSON_ACCESS_FORMAT = "json"


def _number(value: str) -> int | None:
    return int(value) if value.isdigit() else None


class JsonAccessLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if cfg.access_log_format == JSON_ACCESS_FORMAT:
            for handler in self.access_log.handlers:
                handler.setFormatter(json_formatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if self.cfg.access_log_format != JSON_ACCESS_FORMAT:
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        request_id = atoms.get("{x-request-id}o", "-")
        fields = {
            "request_id": None if request_id == "-" else request_id,
            "remote_addr": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "status": _number(str(atoms["s"])),
            "bytes": _number(str(atoms["B"])),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "user_agent": atoms["a"],
        }
        try:
            # no query string: it may carry what the logs must not (phone searches)
            self.access_log.info("%s %s %s", atoms["m"], atoms["U"], atoms["s"], extra=fields)
        except Exception:
            self.error(traceback.format_exc())
