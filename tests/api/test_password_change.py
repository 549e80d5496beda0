"""Self-service password change: the old password is required, the new one must pass the rules, every other
session ends and the calling one stays."""

from __future__ import annotations

from app.org.models import Role
from tests.factories import PASSWORD, UserFactory

URL = "/api/v1/me/password"
NEW = "a-new-long-pass-2"


def _login(client, user, password=PASSWORD):
    response = client.post("/api/v1/auth/login", json={"username": user.username, "password": password})
    assert response.status_code == 200, response.json
    return response.json


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_change_keeps_this_session_and_ends_the_others(client, session):
    user = UserFactory(role=Role.BD)
    phone, browser, tablet = _login(client, user), _login(client, user), _login(client, user)
    response = client.post(
        URL, json={"old_password": PASSWORD, "new_password": NEW}, headers=_bearer(phone["access_token"])
    )
    assert response.status_code == 200, response.json
    assert response.json == {"sessions_ended": 2}
    assert client.get("/api/v1/me", headers=_bearer(phone["access_token"])).status_code == 200
    for other in (browser, tablet):
        revoked = client.get("/api/v1/me", headers=_bearer(other["access_token"]))
        assert revoked.status_code == 401 and revoked.json["error_code"] == "TOKEN_REVOKED"
        refreshed = client.post("/api/v1/auth/refresh", headers=_bearer(other["refresh_token"]))
        assert refreshed.status_code == 401
    # this session's refresh token still works; the new password signs in, the old one no longer
    assert client.post("/api/v1/auth/refresh", headers=_bearer(phone["refresh_token"])).status_code == 200
    _login(client, user, NEW)
    old = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert old.status_code == 401


def test_a_wrong_old_password_is_401_and_changes_nothing(client, session):
    user = UserFactory(role=Role.BD)
    phone, other = _login(client, user), _login(client, user)
    response = client.post(
        URL, json={"old_password": "not-the-password", "new_password": NEW}, headers=_bearer(phone["access_token"])
    )
    assert response.status_code == 401 and response.json["error_code"] == "INVALID_CREDENTIALS"
    assert client.get("/api/v1/me", headers=_bearer(phone["access_token"])).status_code == 200
    assert client.get("/api/v1/me", headers=_bearer(other["access_token"])).status_code == 200
    _login(client, user)


def test_wrong_old_passwords_are_throttled_like_logins(client, app, session):
    user = UserFactory(role=Role.BD)
    token = _login(client, user)["access_token"]
    body = {"old_password": "not-the-password", "new_password": NEW}
    codes = [
        client.post(URL, json=body, headers=_bearer(token)).status_code
        for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1)
    ]
    assert codes[-1] == 429 and set(codes[:-1]) == {401}
    # while the wait runs even the right old password waits
    right = client.post(URL, json={"old_password": PASSWORD, "new_password": NEW}, headers=_bearer(token))
    assert right.status_code == 429 and right.json["error_code"] == "LOGIN_LOCKED"


def test_the_new_password_must_pass_the_rules(client, session):
    user = UserFactory(role=Role.BD, username="kalle.k")
    token = _login(client, user)["access_token"]
    for new, message in (("short", "between 8 and 200"), ("password1", "Too common")):
        response = client.post(URL, json={"old_password": PASSWORD, "new_password": new}, headers=_bearer(token))
        assert response.status_code == 422, (new, response.json)
        assert message in response.json["errors"]["json"]["new_password"][0]
    assert client.post(URL, json={"old_password": PASSWORD}, headers=_bearer(token)).status_code == 422


def test_the_username_is_refused_as_new_password(client, session):
    user = UserFactory(role=Role.BD, username="aino.virtanen")
    token = _login(client, user)["access_token"]
    response = client.post(
        URL, json={"old_password": PASSWORD, "new_password": "Aino.Virtanen"}, headers=_bearer(token)
    )
    assert response.status_code == 422
    assert response.json["errors"]["json"]["new_password"] == ["May not be the username."]


def test_anonymous_callers_are_refused(client):
    assert client.post(URL, json={"old_password": PASSWORD, "new_password": NEW}).status_code == 401
