"""Security headers on every response, and CORS closed unless origins are configured.

The API serves JSON to a mobile app; browsers only meet it through the docs page, so the policy is strict
everywhere except the Swagger UI, which needs its own scripts and styles.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_cors import CORS

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# the console: its own scripts only (no inline script); Leaflet positions its panes with inline styles; map
# tiles from the configured tile server
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: {tiles}; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
}


def _tile_origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}" if parts.scheme and parts.netloc else ""


def _secure(response: Response, hsts: bool, console_csp: str) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    docs = request.path.startswith("/api/v1/docs")
    console = request.path.startswith("/console")
    response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else console_csp if console else API_CSP)
    if not docs:
        # answers carry personal data (phones, visit history): the phone may keep them (ETag revalidation),
        # shared caches and proxies may not
        response.headers.setdefault("Cache-Control", "private, no-cache")
    if hsts:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def init_app(app: Flask) -> None:
    origins = [o.strip() for o in app.config["CORS_ORIGINS"].split(",") if o.strip()]
    if origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": origins}},
            expose_headers=["X-Request-ID", "ETag", "Retry-After"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match", "X-Request-ID"],
            max_age=600,
        )
    hsts = bool(app.config.get("HSTS_ENABLED"))
    console_csp = CONSOLE_CSP.format(tiles=_tile_origin(app.config.get("CONSOLE_TILE_URL", ""))).replace("  ", " ")
    app.after_request(lambda response: _secure(response, hsts, console_csp))
