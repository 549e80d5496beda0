"""The business line's minimum app version: `X-App-Version` below it answers 426 APP_UPGRADE_REQUIRED with the
store link, on every authenticated call, at login and at refresh."""

from __future__ import annotations

import pytest

from app.org.models import Role
from app.tenants import app_version
from tests.factories import PASSWORD, TenantFactory, UserFactory, auth_headers

STORE = "https://apps.example.com/fieldsales"
SETTINGS = "/api/v1/tenant/settings"


@pytest.fixture
def bd(session):
    tenant = TenantFactory(settings={"app": {"min_version": "2.4.0", "store_url": STORE}})
    return UserFactory(tenant=tenant, role=Role.BD)


def _get_me(client, user, version=None):
    headers = auth_headers(user)
    if version is not None:
        headers["X-App-Version"] = version
    return client.get("/api/v1/me", headers=headers)


def _assert_upgrade(response):
    assert response.status_code == 426, response.json
    assert response.json["error_code"] == "APP_UPGRADE_REQUIRED"
    assert response.json["store_url"] == STORE and response.json["status"] == "Upgrade Required"


@pytest.mark.parametrize("version", ["2.3.9", "2", "1.99.99", "2.3.99-beta", "not-a-version", ""])
def test_below_the_minimum_every_call_answers_426_with_the_store_link(client, bd, version):
    _assert_upgrade(_get_me(client, bd, version))
    _assert_upgrade(client.get("/api/v1/leads/mine", headers={**auth_headers(bd), "X-App-Version": version}))


@pytest.mark.parametrize("version", ["2.4", "2.4.0", "2.4.0+341", "2.4.1", "2.10.0", "10.0", " 3.0.0 "])
def test_at_or_above_the_minimum_calls_are_served(client, bd, version):
    assert _get_me(client, bd, version).status_code == 200


def test_without_the_header_nothing_is_checked(client, bd):
    assert _get_me(client, bd).status_code == 200


def test_a_business_line_without_a_minimum_serves_every_version(client, session):
    user = UserFactory(role=Role.BD)
    assert _get_me(client, user, "0.0.1").status_code == 200
    assert _get_me(client, user, "garbage").status_code == 200


def test_login_and_refresh_are_refused_below_the_minimum(client, bd):
    body = {"username": bd.username, "password": PASSWORD}
    _assert_upgrade(client.post("/api/v1/auth/login", json=body, headers={"X-App-Version": "2.3.0"}))
    response = client.post("/api/v1/auth/login", json=body, headers={"X-App-Version": "2.4.0"})
    assert response.status_code == 200
    refresh = {"Authorization": f"Bearer {response.json['refresh_token']}"}
    _assert_upgrade(client.post("/api/v1/auth/refresh", headers={**refresh, "X-App-Version": "2.0"}))
    # the refused refresh did not use the token up
    assert client.post("/api/v1/auth/refresh", headers={**refresh, "X-App-Version": "2.4.0"}).status_code == 200


def test_a_wrong_password_is_still_a_401_for_an_old_app(client, bd):
    body = {"username": bd.username, "password": "wrong-password"}
    response = client.post("/api/v1/auth/login", json=body, headers={"X-App-Version": "1.0"})
    assert response.status_code == 401


def test_admins_set_and_clear_the_minimum(client, session):
    tenant = TenantFactory()
    admin, user = UserFactory(tenant=tenant, role=Role.ADMIN), UserFactory(tenant=tenant, role=Role.BD)
    assert client.get(SETTINGS, headers=auth_headers(user)).json["app"] == {"min_version": None, "store_url": ""}
    body = {"app": {"min_version": "3.1", "store_url": STORE}}
    response = client.patch(SETTINGS, json=body, headers=auth_headers(admin))
    assert response.status_code == 200, response.json
    assert response.json["app"] == {"min_version": "3.1", "store_url": STORE}
    _assert_upgrade(_get_me(client, user, "3.0.9"))
    assert client.patch(SETTINGS, json={"app": {"min_version": None}}, headers=auth_headers(admin)).status_code == 200
    assert _get_me(client, user, "3.0.9").status_code == 200


@pytest.mark.parametrize(
    "rules", [{"min_version": "v2"}, {"min_version": "2.4.0.1.5"}, {"store_url": "javascript:alert(1)"}]
)
def test_invalid_app_settings_are_refused(client, session, rules):
    admin = UserFactory(role=Role.ADMIN)
    response = client.patch(SETTINGS, json={"app": rules}, headers=auth_headers(admin))
    assert response.status_code == 422, response.json


def test_every_authenticated_operation_documents_426(app):
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    secured = [
        (method, path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and operation.get("security")
    ]
    assert secured
    for method, path in secured:
        assert "426" in spec["paths"][path][method]["responses"], (method, path)


def test_versions_compare_as_numbers():
    assert app_version.parse("2.10") > app_version.parse("2.9.9")
    assert app_version.parse("2.4") == app_version.parse("2.4.0.0") == app_version.parse("2.4.0-rc1")
    assert app_version.parse("2.4.x") is None and app_version.parse(None) is None
