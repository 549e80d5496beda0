"""Signing in to the console: a session cookie over the API's own sessions.

Login goes through ``app.auth.service.login`` (the same passwords, the same throttle, one session row); the
signed cookie holds only that session's id and the user's id, and every page checks the session as the API
checks a bearer token, so signing out, a password change or a deactivation ends the console session at once.
CSRF: every POST carries the form's token (Flask-WTF), checked before the view runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from app import db
from app.auth import service as auth_service
from app.auth.security import load_session_caller
from app.errors import TokenRevoked
from app.org.locales import user_locale
from app.org.models import Role

csrf = CSRFProtect()
# the console's pages need a user; these do not
PUBLIC_ENDPOINTS = {"console.login", "console.static"}


def sign_in(username: str, password: str, tenant: str | None) -> None:
    pair = auth_service.login(
        username,
        password,
        tenant or None,
        ip=request.remote_addr,
        user_agent="console: " + request.headers.get("User-Agent", ""),
    )
    session.clear()
    session["sid"] = str(pair.session_id)
    session["uid"] = pair.user.id


def sign_out() -> None:
    session_id = session.get("sid")
    if session_id:
        auth_service.logout(uuid.UUID(session_id))
    session.clear()


def load_user() -> Any:
    """Before every console request: the signed-in user in ``g`` (a page without one goes to the login)."""
    if request.method == "POST":
        csrf.protect()
    g.locale = "en"
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    try:
        user, tenant = load_session_caller(uuid.UUID(session["sid"]), int(session["uid"]))
    except (KeyError, ValueError, TypeError, TokenRevoked):
        session.clear()
        return redirect(url_for("console.login", next=request.path))
    g.user, g.tenant, g.locale = user, tenant, user_locale(user)
    db.scope_to_tenant(user.tenant_id)
    return None


def roles(*allowed: Role) -> Callable:
    """A page for these roles only (others get 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if g.user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
