from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from app import clock
from app.org.models import Role
from tests.factories import PASSWORD, TenantFactory, UserFactory, auth_headers

LOGIN = "/api/v1/auth/login"


def login(client, username, password=PASSWORD, tenant=None, **extra):
    body = {"username": username, "password": password, **extra}
    if tenant:
        body["tenant"] = tenant
    return client.post(LOGIN, json=body)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_login_returns_tokens_and_user(client):
    user = UserFactory(username="aino", role=Role.MANAGER)
    response = login(client, "aino")
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["user"] == {"id": user.id, "username": "aino", "role": "manager", "tenant_id": user.tenant_id}
    me = client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json["id"] == user.id and me.json["tenant"]["id"] == user.tenant_id


@pytest.mark.parametrize(
    ("username", "password"), [("aino", "wrong-password"), ("nobody", PASSWORD), ("AINO", PASSWORD)]
)
def test_bad_credentials_are_one_indistinct_401(client, username, password):
    UserFactory(username="aino")
    response = login(client, username, password)
    assert response.status_code == 401
    assert response.json["error_code"] == "INVALID_CREDENTIALS"


def test_disabled_user_cannot_log_in_and_the_answer_does_not_confirm_the_password(client):
    UserFactory(username="gone", is_active=False)
    right, wrong = login(client, "gone"), login(client, "gone", "wrong-password")
    assert right.status_code == wrong.status_code == 401
    assert right.json == wrong.json and right.json["error_code"] == "INVALID_CREDENTIALS"


def test_user_of_another_tenant_is_not_found_under_this_tenant(client):
    TenantFactory(slug="hotels")
    UserFactory(username="aino", tenant__slug="food")
    response = login(client, "aino", tenant="hotels")
    assert response.status_code == 401
    assert response.json["error_code"] == "INVALID_CREDENTIALS"
    assert login(client, "aino", tenant="food").status_code == 200


def test_same_username_in_two_tenants_needs_the_tenant(client):
    first = UserFactory(username="sam", tenant__slug="food")
    UserFactory(username="sam", tenant__slug="hotels")
    response = login(client, "sam")
    assert response.status_code == 400
    assert response.json["error_code"] == "TENANT_REQUIRED"
    ok = login(client, "sam", tenant="food")
    assert ok.status_code == 200 and ok.json["user"]["id"] == first.id


def test_repeated_failures_lock_the_username_with_retry_after(client, app):
    UserFactory(username="aino")
    with freeze_time(clock.now()):
        for _ in range(app.config["LOGIN_MAX_FAILURES"]):
            assert login(client, "aino", "nope-nope").status_code == 401
        locked = login(client, "aino")  # even the right password is refused while locked
    assert locked.status_code == 429
    assert locked.json["error_code"] == "LOGIN_LOCKED"
    assert 0 < int(locked.headers["Retry-After"]) <= app.config["LOGIN_LOCKOUT_SECONDS"]
    assert locked.json["retry_after"] == int(locked.headers["Retry-After"])


def test_tokens_keep_their_claims(client, app):
    """What the clients may read from a token stays the same: the claim names, types and lifetimes."""
    import jwt

    user = UserFactory(username="aino", role=Role.MANAGER)
    tokens = login(client, "aino").json
    key = app.config["JWT_SECRET_KEY"]
    access = jwt.decode(tokens["access_token"], key, algorithms=["HS256"])
    refresh = jwt.decode(tokens["refresh_token"], key, algorithms=["HS256"])
    common = {"sub", "type", "jti", "iat", "nbf", "exp", "fresh", "tid", "sid"}
    assert set(access) == common | {"role"} and set(refresh) == common
    assert (access["sub"], access["tid"], access["role"]) == (str(user.id), user.tenant_id, "manager")
    assert (access["type"], refresh["type"], access["fresh"], refresh["fresh"]) == ("access", "refresh", False, False)
    assert access["sid"] == refresh["sid"] and access["jti"] != refresh["jti"]
    assert access["nbf"] == access["iat"] and access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600
    assert jwt.get_unverified_header(tokens["access_token"]) == {"alg": "HS256", "typ": "JWT"}


def test_refresh_rotates_and_old_refresh_token_is_rejected_later(client):
    UserFactory(username="aino")
    first = login(client, "aino").json
    second = client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"]))
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(second.json["access_token"])).status_code == 200

    with freeze_time(clock.now() + timedelta(minutes=5)):
        reused = client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"]))
        assert reused.status_code == 401
        assert reused.json["error_code"] == "REFRESH_TOKEN_REUSED"
        # reuse means the token leaked: the whole session is closed, including the newest tokens
        after = client.post("/api/v1/auth/refresh", headers=bearer(second.json["refresh_token"]))
        assert after.status_code == 401 and after.json["error_code"] == "TOKEN_REVOKED"


def test_refresh_retried_after_a_lost_response_is_accepted_within_grace(client):
    UserFactory(username="aino")
    first = login(client, "aino").json
    assert client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"])).status_code == 200
    retry = client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"]))
    assert retry.status_code == 200


def test_access_token_is_not_a_refresh_token_and_vice_versa(client):
    UserFactory(username="aino")
    tokens = login(client, "aino").json
    wrong = client.post("/api/v1/auth/refresh", headers=bearer(tokens["access_token"]))
    assert wrong.status_code == 401 and wrong.json["error_code"] == "TOKEN_INVALID"
    wrong = client.get("/api/v1/me", headers=bearer(tokens["refresh_token"]))
    assert wrong.status_code == 401 and wrong.json["error_code"] == "TOKEN_INVALID"


def test_logout_revokes_access_and_refresh_at_once(client):
    UserFactory(username="aino")
    tokens = login(client, "aino").json
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    me = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401 and me.json["error_code"] == "TOKEN_REVOKED"
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 401 and refreshed.json["error_code"] == "TOKEN_REVOKED"


def test_deactivating_a_user_invalidates_live_tokens(client, session):
    user = UserFactory()
    headers = auth_headers(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    user.is_active = False
    session.merge(user)
    session.commit()
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401 and response.json["error_code"] == "TOKEN_REVOKED"


def test_expired_access_token(client):
    UserFactory(username="aino")
    tokens = login(client, "aino").json
    with freeze_time(clock.now() + timedelta(minutes=16)):
        response = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401 and response.json["error_code"] == "TOKEN_EXPIRED"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({}, "TOKEN_MISSING"),
        ({"Authorization": "Bearer"}, "TOKEN_MISSING"),
        ({"Authorization": "Bearer   "}, "TOKEN_MISSING"),
        ({"Authorization": "Bearer not.a.jwt"}, "TOKEN_INVALID"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "TOKEN_MISSING"),
    ],
)
def test_missing_or_garbage_tokens(client, header, code):
    response = client.get("/api/v1/me", headers=header)
    assert response.status_code == 401
    assert response.json["error_code"] == code
    assert set(response.json) >= {"code", "status", "message", "error_code"}


@pytest.mark.parametrize("drop", ["sub", "type", "exp", "sid"])
def test_tokens_missing_a_claim_are_invalid(client, app, drop):
    import jwt

    user = UserFactory()
    claims = {
        "sub": str(user.id),
        "type": "access",
        "sid": "00000000-0000-0000-0000-000000000000",
        "exp": 4102444800,
        "jti": "x",
    }
    del claims[drop]
    token = jwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401 and response.json["error_code"] in {"TOKEN_INVALID", "TOKEN_REVOKED"}


def test_unsigned_tokens_are_invalid(client):
    import jwt

    user = UserFactory()
    token = jwt.encode({"sub": str(user.id), "type": "access", "exp": 4102444800}, None, algorithm="none")
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401 and response.json["error_code"] == "TOKEN_INVALID"


def test_token_signed_with_another_key_is_rejected(client):
    import jwt

    user = UserFactory()
    forged = jwt.encode(
        {
            "sub": str(user.id),
            "type": "access",
            "tid": user.tenant_id,
            "sid": "00000000-0000-0000-0000-000000000000",
            "role": "admin",
            "exp": 4102444800,
            "iat": 1700000000,
            "nbf": 1700000000,
            "jti": "x",
            "fresh": False,
        },
        "some-other-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
    )
    response = client.get("/api/v1/me", headers=bearer(forged))
    assert response.status_code == 401 and response.json["error_code"] == "TOKEN_INVALID"
