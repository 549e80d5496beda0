"""The client's real address behind a load balancer, for the per-IP login throttle and the logs.

``TRUSTED_PROXIES`` is how many reverse proxies stand in front of gunicorn. Only that many
``X-Forwarded-For`` hops are believed: with 0 (the default) the header is ignored, since any client could
otherwise pick the address it is throttled under.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
