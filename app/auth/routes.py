"""Sign-in, token refresh, sign-out and the caller's profile."""

from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView

from app import db
from app.api import VALIDATION_ERRORS, Blueprint, document_errors
from app.auth import service
from app.auth.schemas import (
    LoginSchema,
    MeSchema,
    MeUpdateSchema,
    PasswordChangedSchema,
    PasswordChangeSchema,
    TokenPairSchema,
)
from app.auth.security import AUTH_ERRORS, authenticated, current_user, verify_token
from app.errors import AppUpgradeRequired, InvalidCredentials, LoginLocked, RefreshTokenReused, TenantRequired
from app.org.locales import user_locale
from app.org.models import OrgUnit, User
from app.tenants import app_version as versions
from app.tenants.models import Tenant

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Sign-in and tokens")

LOGIN_ERRORS = (
    *VALIDATION_ERRORS,
    TenantRequired,
    InvalidCredentials,
    LoginLocked,
    AppUpgradeRequired,
)


def _token_body(pair: service.TokenPair) -> dict:
    # the new session is a write: with read replicas, the user's next requests must find it
    db.acting_user(pair.user.id)
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires_in": int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()),
        "user": pair.user,
    }


@blp.route("/auth/login")
class Login(MethodView):
    @document_errors(blp, LOGIN_ERRORS)
    @blp.arguments(LoginSchema, example={"username": "bd1", "password": "demo-pass-1", "tenant": "demo"})
    @blp.response(200, TokenPairSchema)
    def post(self, body):
        """Sign in with username and password; returns an access and a refresh token."""
        pair = service.login(
            body["username"],
            body["password"],
            body.get("tenant"),
            ip=request.remote_addr,
            user_agent=request.user_agent.string,
            app_version=request.headers.get(versions.HEADER),
        )
        return _token_body(pair)


@blp.route("/auth/refresh")
class Refresh(MethodView):
    @blp.doc(security=[{"bearerAuth": []}])
    @document_errors(blp, (*AUTH_ERRORS, RefreshTokenReused))
    @blp.response(200, TokenPairSchema)
    def post(self):
        """Exchange the refresh token (as the bearer token) for a new token pair."""
        claims = verify_token(refresh=True)
        return _token_body(service.refresh(claims, app_version=request.headers.get(versions.HEADER)))


@blp.route("/auth/logout")
class Logout(MethodView):
    @authenticated(blp)
    @blp.response(204)
    def post(self):
        """Sign out: the session's access and refresh tokens stop working at once."""
        service.logout(g.auth_session_id)


@blp.route("/me")
class Me(MethodView):
    @authenticated(blp)
    @blp.response(200, MeSchema)
    def get(self):
        """The signed-in user with tenant and org unit."""
        return _me(current_user())

    @authenticated(blp, errors=VALIDATION_ERRORS)
    @blp.arguments(MeUpdateSchema, example={"preferred_locale": "zh-CN"})
    @blp.response(200, MeSchema)
    def patch(self, fields):
        """Change your own preferences: the language of your pushes and to-dos."""
        user = current_user()
        if "preferred_locale" in fields:
            user.locale = fields["preferred_locale"]
            db.session.flush()
        return _me(user)


def _me(user: User) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "tenant_id": user.tenant_id,
        "manager_id": user.manager_id,
        "locale": user_locale(user),
        "preferred_locale": user.locale,
        "tenant": db.get(Tenant, user.tenant_id),
        "org_unit": db.get(OrgUnit, user.org_unit_id) if user.org_unit_id else None,
    }


@blp.route("/me/password")
class MyPassword(MethodView):
    @authenticated(
        blp,
        errors=[
            *VALIDATION_ERRORS,
            (InvalidCredentials, "`old_password` is wrong (the session stays valid: do not sign out)"),
            LoginLocked,
        ],
    )
    @blp.arguments(PasswordChangeSchema, example={"old_password": "demo-pass-1", "new_password": "a-new-long-pass-2"})
    @blp.response(200, PasswordChangedSchema)
    def post(self, body):
        """Change your own password; every other session of yours is signed out, this one stays valid."""
        ended = service.change_password(
            current_user(), g.auth_session_id, body["old_password"], body["new_password"], ip=request.remote_addr
        )
        return {"sessions_ended": ended}
