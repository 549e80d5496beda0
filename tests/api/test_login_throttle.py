"""The login throttle: failures counted per account (whatever tenant is named) and per IP, a wait that doubles
with each failure past the budget instead of a hard lock, and deactivated accounts answered like wrong
passwords."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from freezegun import freeze_time

from app import clock
from tests.factories import PASSWORD, TenantFactory, UserFactory

LOGIN = "/api/v1/auth/login"
WRONG = "wrong-password"


def login(client, username, password=PASSWORD, tenant=None, ip="198.51.100.7"):
    body = {"username": username, "password": password}
    if tenant is not None:
        body["tenant"] = tenant
    return client.post(LOGIN, json=body, environ_base={"REMOTE_ADDR": ip})


def wait_of(response) -> int:
    assert response.status_code == 429, response.json
    assert response.json["error_code"] == "LOGIN_LOCKED"
    assert response.json["retry_after"] == int(response.headers["Retry-After"])
    return int(response.headers["Retry-After"])


@pytest.fixture
def frozen():
    with freeze_time(clock.now()) as frozen:
        yield frozen


def test_naming_a_tenant_or_not_neither_splits_nor_resets_the_count(client, app, frozen):
    TenantFactory(slug="hotels")
    UserFactory(username="aino", tenant__slug="food")
    tenants = [None, "food", "hotels", "food", None]
    assert app.config["LOGIN_MAX_FAILURES"] == len(tenants)
    for tenant in tenants:
        assert login(client, "aino", WRONG, tenant=tenant).status_code == 401
    for tenant in (None, "food", "hotels"):
        assert wait_of(login(client, "aino", tenant=tenant)) == 1
    # the username's case does not open a second count either
    assert wait_of(login(client, "AINO", tenant="food")) == 1


def test_the_wait_doubles_with_each_failure_and_a_success_forgets_them(client, app, frozen):
    UserFactory(username="aino")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, "aino", WRONG).status_code == 401
    waits = []
    for _ in range(4):
        wait = wait_of(login(client, "aino"))  # the right password waits too
        waits.append(wait)
        frozen.tick(timedelta(seconds=wait - 0.5))
        assert wait_of(login(client, "aino")) == 1  # half a second left
        frozen.tick(timedelta(seconds=0.5))
        assert login(client, "aino", WRONG).status_code == 401
    assert waits == [1, 2, 4, 8]
    frozen.tick(timedelta(seconds=16))
    assert login(client, "aino").status_code == 200
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, "aino", WRONG).status_code == 401


def test_the_wait_is_capped_at_the_lockout(client, app, frozen, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_SECONDS", 3)
    UserFactory(username="aino")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, "aino", WRONG).status_code == 401
    waits = []
    for _ in range(4):
        waits.append(wait_of(login(client, "aino")))
        frozen.tick(timedelta(seconds=waits[-1]))
        assert login(client, "aino", WRONG).status_code == 401
    assert waits == [1, 2, 3, 3]


def test_a_deactivated_accounts_right_password_is_a_failure_too(client, app, frozen):
    UserFactory(username="gone", is_active=False)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        response = login(client, "gone")
        assert response.status_code == 401 and response.json["error_code"] == "INVALID_CREDENTIALS"
    wait_of(login(client, "gone"))


def test_a_deactivated_account_beside_an_active_one_of_the_same_name_is_not_a_candidate(client):
    active = UserFactory(username="sam", tenant__slug="food")
    UserFactory(username="sam", tenant__slug="hotels", is_active=False)
    response = login(client, "sam")
    assert response.status_code == 200 and response.json["user"]["id"] == active.id


def test_one_ip_has_a_budget_across_usernames(client, app, frozen, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_IP_MAX_FAILURES", 6)
    UserFactory(username="aino")
    for name in ("u1", "u2", "u3", "u4", "u5", "u6"):
        assert login(client, name, WRONG).status_code == 401
    assert wait_of(login(client, "aino")) == 1
    # another address is not held up, and the account itself has no failures
    assert login(client, "aino", ip="203.0.113.9").status_code == 200
    frozen.tick(timedelta(seconds=1))
    assert login(client, "u7", WRONG).status_code == 401
    assert wait_of(login(client, "aino")) == 2


def test_a_success_does_not_reset_the_ips_budget_but_does_not_use_it_either(client, app, frozen, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_IP_MAX_FAILURES", 3)
    UserFactory(username="aino")
    assert login(client, "u1", WRONG).status_code == 401
    assert login(client, "u2", WRONG).status_code == 401
    for _ in range(5):
        assert login(client, "aino").status_code == 200
    assert login(client, "u3", WRONG).status_code == 401
    assert wait_of(login(client, "aino")) == 1


def test_an_accounts_failures_are_forgotten_a_window_after_the_last_one(client, app, frozen, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_WINDOW_SECONDS", 1)
    UserFactory(username="aino")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        assert login(client, "aino", WRONG).status_code == 401
    time.sleep(1.2)  # Redis forgets in real time; the frozen clock only times the waits
    assert login(client, "aino", WRONG).status_code == 401
    assert login(client, "aino").status_code == 200


def test_the_ips_window_is_fixed_from_its_first_failure(client, app, frozen, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_IP_MAX_FAILURES", 2)
    monkeypatch.setitem(app.config, "LOGIN_IP_WINDOW_SECONDS", 1)
    assert login(client, "u1", WRONG).status_code == 401
    time.sleep(0.7)
    assert login(client, "u2", WRONG).status_code == 401
    wait_of(login(client, "u3"))
    # 1.3 s after the first failure the window is over, although the last failure was only 0.6 s ago
    time.sleep(0.6)
    assert login(client, "u3", WRONG).status_code == 401


def test_without_redis_logins_still_work(client, app, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from app import redis_conn

    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise RedisConnectionError("down")

            return fail

    monkeypatch.setattr(redis_conn, "client", lambda url=None: Down())
    UserFactory(username="aino")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 2):
        assert login(client, "aino", WRONG).status_code == 401
    assert login(client, "aino").status_code == 200
