"""Sign-in, token rotation and sign-out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from blinker import Namespace
from flask import current_app
from sqlalchemy import select

from app import clock, db
from app.auth import throttle
from app.auth.models import AuthSession
from app.errors import InvalidCredentials, RefreshTokenReused, TenantRequired, TokenRevoked
from app.org import passwords
from app.org.models import User
from app.tenants import app_version as versions
from app.tenants.models import Tenant

REFRESH_GRACE = timedelta(seconds=60)

# Sent when a user signs out of one session (sender: the user's id; ``device_token``: the phone that session
# registered for pushes, or None). Packages above auth act on it inside the same unit of work: the devices
# package forgets that phone.
session_ended = Namespace().signal("session-ended")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    user: User
    session_id: uuid.UUID | None = None


def login(
    username: str,
    password: str,
    tenant_slug: str | None = None,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    app_version: str | None = None,
) -> TokenPair:
    """Sign in. Every way of not getting in (no such user or tenant, a wrong password, a deactivated account
    even with the right password) answers the same ``InvalidCredentials`` and counts as a failed attempt.

    Once the user (and so the business line) is known, an ``app_version`` (the ``X-App-Version`` header) below
    the business line's minimum is refused with 426 before any session is opened."""
    throttle.attempt(username, ip)
    session = db.session()
    query = select(User, Tenant).join(Tenant, Tenant.id == User.tenant_id).where(User.username == username)
    if tenant_slug:
        query = query.where(Tenant.slug == tenant_slug)
    candidates = session.execute(query).all()
    if not candidates:
        passwords.burn_time(password)
    # every candidate's password is checked, active or not: the time taken tells nothing either
    verified = [row for row in candidates if passwords.verify_password(row.User.password_hash, password)]
    matched = [row for row in verified if row.User.is_active]
    if not matched:
        raise InvalidCredentials()
    throttle.succeeded(username, ip)
    if len(matched) > 1:
        raise TenantRequired()
    user, tenant = matched[0].User, matched[0].Tenant
    versions.require_supported(tenant.setting("app"), app_version)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    auth_session = AuthSession(
        id=uuid.uuid4(), user_id=user.id, tenant_id=user.tenant_id, refresh_jti="", user_agent=(user_agent or "")[:300]
    )
    pair = _issue(user, auth_session)
    session.add(auth_session)
    session.flush()
    return pair


def _issue(user: User, auth_session: AuthSession) -> TokenPair:
    claims = {"sub": str(user.id), "tid": user.tenant_id, "sid": str(auth_session.id)}
    access, _ = _encode("access", {**claims, "role": user.role.value})
    refresh, refresh_jti = _encode("refresh", claims)
    auth_session.previous_refresh_jti = auth_session.refresh_jti or None
    auth_session.refresh_jti = refresh_jti
    return TokenPair(access, refresh, user, auth_session.id)


def _encode(token_type: str, claims: dict) -> tuple[str, str]:
    """Sign a token; returns it and its ``jti`` (security.verify_token checks it).

    Its claims, as the clients have always had them: ``sub`` (the user id, as a string), ``type`` (access or
    refresh), ``jti``, ``iat``, ``nbf``, ``exp``, ``fresh`` (always false), ``tid``, ``sid`` and, in access
    tokens, ``role``.
    """
    config = current_app.config
    now = clock.now()
    lifetime = config["JWT_ACCESS_TOKEN_EXPIRES"] if token_type == "access" else config["JWT_REFRESH_TOKEN_EXPIRES"]
    jti = str(uuid.uuid4())
    payload = {"fresh": False, "iat": now, "jti": jti, "type": token_type, "nbf": now, "exp": now + lifetime, **claims}
    return jwt.encode(payload, config["JWT_SECRET_KEY"], algorithm=config["JWT_ALGORITHM"]), jti


def refresh(claims: dict, *, app_version: str | None = None) -> TokenPair:
    """Rotate: a refresh token works once (plus a short grace period for lost responses). An ``app_version``
    below the business line's minimum is refused (426) before the token is used up."""
    session = db.session()
    row = session.execute(
        select(AuthSession, User, Tenant)
        .join(User, User.id == AuthSession.user_id)
        .join(Tenant, Tenant.id == User.tenant_id)
        .where(AuthSession.id == uuid.UUID(claims["sid"]), User.id == int(claims["sub"]))
        .with_for_update(of=AuthSession)
    ).one_or_none()
    if row is None or row.AuthSession.revoked_at is not None or not row.User.is_active:
        raise TokenRevoked()
    auth_session, user = row.AuthSession, row.User
    versions.require_supported(row.Tenant.setting("app"), app_version)
    jti = claims["jti"]
    now = clock.now()
    in_grace = (
        jti == auth_session.previous_refresh_jti
        and auth_session.last_refreshed_at is not None
        and now - auth_session.last_refreshed_at <= REFRESH_GRACE
    )
    if jti != auth_session.refresh_jti and not in_grace:
        _revoke(auth_session, "refresh_reuse")
        raise RefreshTokenReused()
    pair = _issue(user, auth_session)
    auth_session.last_refreshed_at = now
    session.flush()
    return pair


def logout(session_id: uuid.UUID) -> None:
    session = db.session()
    auth_session = session.get(AuthSession, session_id)
    if auth_session is not None and auth_session.revoked_at is None:
        _revoke(auth_session, "logout")
        session_ended.send(auth_session.user_id, device_token=auth_session.device_token)
    session.flush()


def change_password(
    user: User, current_session_id: uuid.UUID, old_password: str, new_password: str, *, ip: str | None = None
) -> int:
    """The signed-in user's own password change; returns how many other sessions it ended.

    The old password is checked like a login (the same throttle, keyed on the username and the IP: a stolen
    phone cannot guess it faster than a login could), a wrong one answers ``InvalidCredentials``. The new one
    must pass ``passwords.check_new``. Every other session of the user ends (reason ``password_change``); the
    session making the change keeps working, so the app stays signed in without a new token pair."""
    throttle.attempt(user.username, ip)
    if not passwords.verify_password(user.password_hash, old_password):
        raise InvalidCredentials("The current password is wrong.")
    throttle.succeeded(user.username, ip)
    passwords.check_new(new_password, user.username, field="new_password")
    user.password_hash = passwords.hash_password(new_password)
    session = db.session()
    others = session.scalars(
        select(AuthSession).where(
            AuthSession.user_id == user.id, AuthSession.id != current_session_id, AuthSession.revoked_at.is_(None)
        )
    ).all()
    for auth_session in others:
        _revoke(auth_session, "password_change")
    session.flush()
    return len(others)


def revoke_all_sessions(user_id: int, reason: str) -> int:
    """Sign a user out everywhere (deactivation, password reset)."""
    session = db.session()
    sessions = session.scalars(
        select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    ).all()
    for auth_session in sessions:
        _revoke(auth_session, reason)
    return len(sessions)


def _revoke(auth_session: AuthSession, reason: str) -> None:
    auth_session.revoked_at = clock.now()
    auth_session.revoke_reason = reason
