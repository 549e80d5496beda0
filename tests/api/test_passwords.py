"""New passwords (NIST SP 800-63B): at least 8 characters, not among the most common passwords (the list shipped
in app/org/common_passwords.txt, in any case), not the username. Every place a password is set applies it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import db
from app.auth.models import AuthSession
from app.org import passwords
from app.org.models import Role, User
from app.org.service import add_user
from tests.factories import auth_headers, make_org


@pytest.fixture
def org(session):
    return make_org()


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-1", "Length must be between 8"),  # the schema says it before the service
        ("password", "Too common"),
        ("BaseBall", "Too common"),
        ("Qwerty123", "Too common"),
        ("iloveyou", "Too common"),
        ("new.bd.2", "May not be the username."),
        ("NEW.BD.2", "May not be the username."),
    ],
)
def test_creating_a_user_with_a_refused_password_is_422_on_the_field(client, org, password, problem):
    body = {"username": "new.bd.2", "password": password, "role": "bd", "org_unit_id": org["team"].id}
    response = client.post("/api/v1/users", json=body, headers=auth_headers(org["admin"]))
    assert response.status_code == 422, response.json
    assert response.json["error_code"] == "VALIDATION_ERROR"
    [message] = response.json["errors"]["json"]["password"]
    assert message.startswith(problem)
    assert db.session.scalar(select(User.id).where(User.username == "new.bd.2")) is None


def test_an_uncommon_password_of_8_characters_is_accepted(client, org):
    body = {"username": "new.bd.3", "password": "lumi-talo", "role": "bd", "org_unit_id": org["team"].id}
    response = client.post("/api/v1/users", json=body, headers=auth_headers(org["admin"]))
    assert response.status_code == 201, response.json


def test_a_password_reset_is_refused_the_same_way_and_changes_nothing(client, org):
    bd = org["bd1"]
    session_headers = auth_headers(bd)
    before = bd.password_hash
    for password in ("Sunshine1", "football", "short"):
        response = client.patch(
            f"/api/v1/users/{bd.id}", json={"password": password}, headers=auth_headers(org["admin"])
        )
        assert response.status_code == 422, (password, response.json)
        assert response.json["errors"]["json"]["password"]
    db.session.expire_all()
    assert db.session.get(User, bd.id).password_hash == before
    assert client.get("/api/v1/me", headers=session_headers).status_code == 200  # no session was revoked
    assert db.session.scalar(select(AuthSession.revoked_at).where(AuthSession.user_id == bd.id)) is None
    ok = client.patch(f"/api/v1/users/{bd.id}", json={"password": "lumi-talo-2"}, headers=auth_headers(org["admin"]))
    assert ok.status_code == 200, ok.json


def test_a_password_equal_to_the_username_is_refused_on_reset(client, org):
    user = add_user(org["tenant"].id, "aino.virtanen", "lumi-talo-3", Role.BD, org_unit_id=org["team"].id)
    db.session.commit()
    response = client.patch(
        f"/api/v1/users/{user.id}", json={"password": "Aino.Virtanen"}, headers=auth_headers(org["admin"])
    )
    assert response.status_code == 422
    assert response.json["errors"]["json"]["password"] == ["May not be the username."]


def test_the_cli_refuses_a_common_password(app, connection):
    cli = app.test_cli_runner()
    assert cli.invoke(args=["create-tenant", "pw-food", "--name", "Food"]).exit_code == 0
    result = cli.invoke(
        args=["create-user", "--tenant", "pw-food", "--username", "boss", "--role", "bd"],
        env={"FIELDSALES_PASSWORD": "Password1"},
    )
    assert result.exit_code == 1
    assert "Too common" in result.output and "VALIDATION_ERROR" in result.output


def test_the_service_checks_the_length_too_for_the_cli_and_the_seed(session):
    assert passwords.problems("lumi-ta", "aino") == ["At least 8 characters."]
    assert passwords.problems("lumi-talo", "aino") == []


def test_the_shipped_list_is_large_and_lower_case():
    common = passwords._common_passwords()
    assert len(common) > 5000
    assert all(entry == entry.lower() and len(entry) >= 8 for entry in common)
    assert passwords.is_common("PASSWORD") and passwords.is_common("12345678") and not passwords.is_common("lumi-talo")
