"""Who is calling: token verification, the current user, role checks and their OpenAPI documentation."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import jwt as pyjwt
from flask import current_app, g, request
from sqlalchemy import bindparam, select

from app import db
from app.api import Blueprint, DocumentedError, document_errors
from app.auth.models import AuthSession
from app.errors import (
    AppUpgradeRequired,
    Forbidden,
    TokenExpired,
    TokenInvalid,
    TokenMissing,
    TokenRevoked,
    Unauthorized,
)
from app.idempotency import service as idempotency
from app.org.models import Role, User
from app.tenants import app_version
from app.tenants.models import Tenant

# what every authenticated operation may answer: the token's four 401s, and 426 for an app below the business
# line's minimum version (app.tenants.app_version)
AUTH_ERRORS = (TokenMissing, TokenExpired, TokenInvalid, TokenRevoked, AppUpgradeRequired)


def require_supported_app(tenant: Tenant) -> None:
    """426 ``APP_UPGRADE_REQUIRED`` if the request's ``X-App-Version`` is below the tenant's minimum."""
    app_version.require_supported(tenant.setting("app"), request.headers.get(app_version.HEADER))


def verify_token(*, refresh: bool = False) -> dict[str, Any]:
    """Verify the bearer token and return its claims, translating every failure to a 401 with a code."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token.strip():
        raise TokenMissing()
    config = current_app.config
    try:
        claims = pyjwt.decode(
            token.strip(),
            config["JWT_SECRET_KEY"],
            algorithms=[config["JWT_ALGORITHM"]],
            leeway=config["JWT_DECODE_LEEWAY"],
            options={"require": ["exp", "sub", "type"]},
        )
    except pyjwt.ExpiredSignatureError as exc:
        raise TokenExpired() from exc
    except pyjwt.PyJWTError as exc:
        raise TokenInvalid() from exc
    if claims["type"] != ("refresh" if refresh else "access"):
        kind = "a refresh" if refresh else "an access"
        raise TokenInvalid(f"This endpoint needs {kind} token.")
    return claims


# One round trip: the session's liveness, the user and the tenant's settings. Built once: every request
# runs it, and building the statement anew cost as much as a tenth of a small request.
_CALLER = (
    select(User, Tenant, AuthSession.revoked_at)
    .join(AuthSession, AuthSession.user_id == User.id)
    .join(Tenant, Tenant.id == User.tenant_id)
    .where(AuthSession.id == bindparam("session_id"), User.id == bindparam("user_id"))
)


def _load_caller(claims: dict[str, Any]) -> tuple[User, Tenant]:
    try:
        session_id = uuid.UUID(claims["sid"])
        user_id = int(claims["sub"])
    except (KeyError, ValueError, TypeError) as exc:
        raise TokenInvalid() from exc
    return load_session_caller(session_id, user_id)


def load_session_caller(session_id: uuid.UUID, user_id: int) -> tuple[User, Tenant]:
    """The user and tenant of a live session (``TokenRevoked`` once it was signed out or the user deactivated):
    the API's bearer tokens and the console's cookie check sessions the same way."""
    row = db.session.execute(_CALLER, {"session_id": session_id, "user_id": user_id}).one_or_none()
    if row is None or row.revoked_at is not None or not row.User.is_active:
        raise TokenRevoked()
    return row.User, row.Tenant


def optional_caller() -> User | None:
    """The signed-in caller of an endpoint open to anyone (health), or None: never an error."""
    if not request.headers.get("Authorization"):
        return None
    try:
        user, _tenant = _load_caller(verify_token())
    except Unauthorized:
        return None
    return user


def login_required(*roles: Role) -> Callable:
    """Runtime check: a live session of an active user, an app version the tenant still serves, and one of
    ``roles`` if given."""
    allowed = {Role(role) for role in roles}

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            claims = verify_token()
            user, tenant = _load_caller(claims)
            require_supported_app(tenant)
            if allowed and user.role not in allowed:
                raise Forbidden(f"This needs one of the roles: {', '.join(sorted(r.value for r in allowed))}.")
            g.user = user
            g.tenant = tenant
            g.auth_session_id = uuid.UUID(claims["sid"])
            db.scope_to_tenant(user.tenant_id)
            db.acting_user(user.id)
            # a POST runs once per Idempotency-Key of this caller; a retry gets the stored answer
            return idempotency.guarded(user.tenant_id, user.id, func, *args, **kwargs)

        return wrapper

    return decorator


def authenticated(blp: Blueprint, *roles: Role, errors: Iterable[DocumentedError] = ()) -> Callable:
    """Require a signed-in caller (optionally of given roles) and document it in the OpenAPI spec.

    Place it above ``@blp.arguments`` so that an anonymous caller gets 401 before any input validation.
    """

    def decorator(func: Callable) -> Callable:
        documented = [*AUTH_ERRORS, *([Forbidden] if roles else []), *errors]
        func = login_required(*roles)(func)
        func = blp.doc(security=[{"bearerAuth": []}])(func)
        return document_errors(blp, documented)(func)

    return decorator


def current_user() -> User:
    return g.user


def current_tenant() -> Tenant:
    return g.tenant
