"""The web console over the Flask test client: sign-in over the API's sessions, CSRF on every form, the pages
each role may open (and the ones it may not), the user's language, and sessions that end with the account."""

from __future__ import annotations

import re

import pytest
from flask import g

from app import clock
from app.console.routes import blp as console_blp
from app.org.models import Role
from tests.factories import PASSWORD as FACTORY_PASSWORD
from tests.factories import MerchantFactory, auth_headers, make_org

PASSWORD = FACTORY_PASSWORD
# every page of the console, and who may open it (everyone else gets 403)
PAGES = {
    "/console/team-today": {Role.MANAGER, Role.OPS, Role.ADMIN},
    "/console/my-day": {Role.BD, Role.MANAGER, Role.OPS, Role.ADMIN},
    "/console/audit-queue": {Role.OPS, Role.ADMIN},
    "/console/imports": {Role.OPS, Role.ADMIN},
    "/console/territories": {Role.MANAGER, Role.OPS, Role.ADMIN},
    "/console/dashboard": {Role.MANAGER, Role.OPS, Role.ADMIN},
    "/console/users": {Role.MANAGER, Role.OPS, Role.ADMIN},
    "/console/team-leads": {Role.MANAGER, Role.OPS, Role.ADMIN},
    "/console/tasks": {Role.MANAGER, Role.OPS, Role.ADMIN},
    "/console/settings": {Role.MANAGER, Role.OPS, Role.ADMIN},
    "/console/audit-log": {Role.ADMIN},
}


@pytest.fixture
def client(client):
    """The test client, with each request in a fresh ``g`` as in production: the suite's app context spans the
    test, and Flask-WTF caches a CSRF token in ``g`` (a stale one after sign-in rotates the session)."""

    def fresh_g(*args, **kwargs):
        g.pop("csrf_token", None)
        return open_request(*args, **kwargs)

    open_request = client.open
    client.open = fresh_g
    return client


@pytest.fixture
def org(session):
    org = make_org()
    org["shop"] = MerchantFactory(tenant=org["tenant"], name="外婆家")
    session.commit()
    return org


def csrf(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def sign_in(client, user, password=PASSWORD):
    token = csrf(client.get("/console/login").data)
    return client.post("/console/login", data={"username": user.username, "password": password, "csrf_token": token})


def test_every_console_route_is_classified(app):
    rules = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.") and "static" not in rule.endpoint
    }
    known = set(PAGES) | {
        "/console/",
        "/console/login",
        "/console/logout",
        "/console/merchants/<int:merchant_id>",
        "/console/audit-queue/<int:merchant_id>",
        "/console/imports/<int:import_id>",
        "/console/dashboard/kpis.csv",
        "/console/territories/<int:territory_id>/members",  # a download of the dashboard's KPI table (same roles)
    }
    assert rules == known, "a new console page must be added to PAGES (who may open it) or to this list"
    assert console_blp.name == "console"


@pytest.mark.parametrize("role", [Role.BD, Role.MANAGER, Role.OPS, Role.ADMIN])
def test_each_role_opens_its_pages_and_only_those(client, org, role):
    user = {Role.BD: org["bd1"], Role.MANAGER: org["manager"], Role.OPS: org["ops"], Role.ADMIN: org["admin"]}[role]
    assert sign_in(client, user).status_code == 302
    for path, allowed in PAGES.items():
        response = client.get(path)
        assert response.status_code == (200 if role in allowed else 403), (path, role)
        if role in allowed:
            assert b"<main>" in response.data and b"Content-Security-Policy" not in response.data
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    home = client.get("/console/")
    assert home.status_code == 302 and home.location.endswith("/my-day" if role == Role.BD else "/team-today")


def test_pages_need_a_session_and_posts_need_the_csrf_token(client, org):
    response = client.get("/console/team-today")
    assert response.status_code == 302 and "/console/login" in response.location
    no_token = client.post("/console/login", data={"username": org["manager"].username, "password": PASSWORD})
    assert no_token.status_code == 400
    assert sign_in(client, org["ops"]).status_code == 302
    forged = client.post(f"/console/audit-queue/{org['shop'].id}", data={"action": "approve", "csrf_token": "x"})
    assert forged.status_code == 400
    bare = client.post(f"/console/audit-queue/{org['shop'].id}", data={"action": "approve"})
    assert bare.status_code == 400


def test_wrong_password_is_refused_like_the_api_and_counted(client, org):
    response = sign_in(client, org["manager"], password="wrong-password")
    assert response.status_code == 401 and b"INVALID_CREDENTIALS" in response.data
    assert client.get("/console/team-today").status_code == 302


def test_the_next_target_is_a_console_path_only(client, org):
    for target, expected in [
        ("/console/users", "/console/users"),
        ("https://evil.example/", "/console/"),
        ("//evil.example/console/", "/console/"),
    ]:
        token = csrf(client.get("/console/login").data)
        response = client.post(
            f"/console/login?next={target}",
            data={"username": org["admin"].username, "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302 and response.location.endswith(expected), target


def test_signing_out_and_deactivation_end_the_console_session(client, org, session):
    assert sign_in(client, org["manager"]).status_code == 302
    token = csrf(client.get("/console/team-today").data)
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/team-today").status_code == 302
    assert sign_in(client, org["bd1"]).status_code == 302
    admin = client.application.test_client()
    sign_in(admin, org["admin"])
    deactivated = admin.post(f"/api/v1/users/{org['bd1'].id}/deactivate", json={}, headers=auth_headers(org["admin"]))
    assert deactivated.status_code == 200
    assert client.get("/console/my-day").status_code == 302  # the cookie's session is revoked


def test_the_console_speaks_the_users_language(client, org):
    client.patch("/api/v1/me", json={"preferred_locale": "zh-CN"}, headers=auth_headers(org["manager"]))
    sign_in(client, org["manager"])
    page = client.get("/console/team-today").data.decode()
    assert "团队今日" in page and '<html lang="zh-CN">' in page and "退出登录" in page


def test_ops_decide_a_queued_correction_in_the_console(client, org, session):
    shop = org["shop"]
    queued = client.post(
        f"/api/v1/merchants/{shop.id}/corrections",
        json={"address": "湖滨路 8 号", "note": "moved next door"},
        headers=auth_headers(org["manager"]),  # a manager's correction always waits for ops
    )
    assert queued.status_code in (200, 201, 202), queued.json
    correction_id = queued.json["correction_id"] if "correction_id" in queued.json else queued.json["id"]
    sign_in(client, org["ops"])
    page = client.get("/console/audit-queue").data.decode()
    assert f'id="correction-{correction_id}"' in page and "湖滨路 8 号" in page and "moved next door" in page
    token = csrf(page.encode())
    decided = client.post(
        f"/console/audit-queue/{shop.id}",
        data={"action": "approve", "correction_id": str(correction_id), "csrf_token": token},
    )
    assert decided.status_code == 302
    detail = client.get(f"/api/v1/merchants/{shop.id}", headers=auth_headers(org["ops"])).json
    assert detail["merchant"]["address"] == "湖滨路 8 号"
    assert f'id="correction-{correction_id}"' not in client.get("/console/audit-queue").data.decode()


def test_a_manager_bulk_reassigns_the_teams_leads_with_each_leads_result(client, org, session):
    shops = [MerchantFactory(tenant=org["tenant"], name=f"Shop {i}") for i in range(3)]
    outside = MerchantFactory(tenant=org["tenant"], name="Not a lead")
    session.commit()
    for shop in shops:
        claimed = client.post(f"/api/v1/leads/{shop.id}/claim", headers=auth_headers(org["bd1"]))
        assert claimed.status_code == 200, claimed.json
    sign_in(client, org["manager"])
    page = client.get(f"/console/team-leads?owner_id={org['bd1'].id}&sort=claimed_at").data.decode()
    assert all(f'id="lead-{shop.id}"' in page for shop in shops) and "3 leads" in page
    ids = [str(shop.id) for shop in shops[:2]] + [str(outside.id)]
    done = client.post(
        "/console/team-leads",
        data={
            "action": "reassign",
            "merchant_ids": ids,
            "user_id": str(org["bd2"].id),
            "csrf_token": csrf(page.encode()),
        },
    )
    assert done.status_code == 200
    outcome = done.data.decode()
    assert "2 done, 1 failed" in outcome and outcome.count('class="result-done"') == 2
    assert "NOT_PRIVATE_LEAD" in outcome or "error" in outcome
    mine = client.get("/api/v1/leads/mine", headers=auth_headers(org["bd2"])).json
    assert {item["merchant"]["id"] for item in mine["items"]} >= {shops[0].id, shops[1].id}
    # the API's schema speaks for the form: a lock without a reason is a 422 naming the field
    refused = client.post(
        "/console/team-leads",
        data={
            "action": "lock",
            "merchant_ids": [str(shops[2].id)],
            "until": "2030-01-01",
            "csrf_token": csrf(page.encode()),
        },
    )
    assert refused.status_code == 422 and "reason: Required for `lock`." in refused.data.decode().replace("&#96;", "`")
    other_team = client.get(f"/console/team-leads?team_id={org['other_team'].id}").data.decode()
    assert not any(f'id="lead-{shop.id}"' in other_team for shop in shops)
    bad_filter = client.get("/console/team-leads?drops_within_days=-4")
    assert bad_filter.status_code == 200 and "drops_within_days" in bad_filter.data.decode()


def test_a_manager_previews_the_assignees_then_sends_a_task(client, org, session):
    sign_in(client, org["manager"])
    page = client.get("/console/tasks").data
    compose = {"title": "Check the menu prices", "kind": "collect_info", "csrf_token": csrf(page)}
    team = {**compose, "target": "team_id", "team_id": str(org["team"].id)}
    preview = client.post("/console/tasks", data={**team, "intent": "preview"})
    assert preview.status_code == 200 and "This task would reach 2 BDs." in preview.data.decode()
    assert client.get("/api/v1/tasks", headers=auth_headers(org["manager"])).json["items"] == []
    sent = client.post("/console/tasks", data={**team, "intent": "send"})
    assert sent.status_code == 302
    listed = client.get("/console/tasks").data.decode()
    assert "Check the menu prices" in listed and "0/2" in listed
    todo = client.get("/api/v1/todos", headers=auth_headers(org["bd2"]))
    assert todo.status_code == 200 and "Check the menu prices" in todo.data.decode()
    # the service's scope rule, not the page's: a BD outside the manager's subtree is refused
    outside = {**compose, "target": "user_ids", "user_ids": [str(org["outsider"].id)], "intent": "preview"}
    refused = client.post("/console/tasks", data=outside)
    assert refused.status_code == 403 and "NOT_IN_SCOPE" in refused.data.decode()
    untitled = client.post("/console/tasks", data={**team, "title": "", "intent": "send"})
    assert untitled.status_code == 422 and "title:" in untitled.data.decode()


def test_the_dashboard_shows_kpis_against_targets_the_leaderboard_and_heat_cells_and_downloads_the_csv(
    client, org, session
):
    month = clock.now().astimezone(org["tenant"].zone).date().isoformat()[:7]
    set_targets = client.put(
        "/api/v1/targets",
        json={"month": month, "targets": [{"user_id": org["bd1"].id, "metric": "visits", "value": 4}]},
        headers=auth_headers(org["manager"]),
    )
    assert set_targets.status_code == 200, set_targets.json
    visited = client.post(
        "/api/v1/visits",
        json={
            "merchant_id": org["shop"].id,
            "lat": 60.17,
            "lng": 24.94,
            "accuracy_m": 10,
            "client_time": clock.now().isoformat(),
        },
        headers={**auth_headers(org["bd1"]), "Idempotency-Key": "console-kpi-visit"},
    )
    assert visited.status_code == 201, visited.json
    sign_in(client, org["manager"])
    page = client.get(f"/console/dashboard?month={month}&metric=visits").data.decode()
    assert "25 % of the target" in page and 'id="leaderboard"' in page
    assert '"cells": [{"bounds"' in page and "1 merchants (1 public), 1 visits" in page
    download = client.get(f"/console/dashboard/kpis.csv?month={month}")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    lines = download.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("subject_id,subject,visits,")
    row = next(line for line in lines if line.startswith(f"{org['bd1'].id},"))
    assert row.split(",")[2] == "1" and ",4.0," in row and ",0.25" in row
    assert client.get("/console/dashboard?month=13-2026").status_code == 400
    sign_in(client, org["bd1"])
    assert client.get(f"/console/dashboard/kpis.csv?month={month}").status_code == 403


def test_an_admin_edits_the_pool_rules_with_the_apis_schema_and_finds_it_in_the_audit_log(client, org):
    sign_in(client, org["admin"])
    page = client.get("/console/settings").data.decode()
    assert 'id="org-units"' in page and "West Lake" in page and "Competitor observation" in page
    refused = client.post(
        "/console/settings", data={"claim_cap": "0", "term_days": "45", "csrf_token": csrf(page.encode())}
    )
    body = refused.data.decode()
    assert refused.status_code == 422 and 'id="error-claim_cap"' in body and 'id="error-term_days"' not in body
    saved = client.post(
        "/console/settings",
        data={"claim_cap": "77", "on_deactivate": "manager", "csrf_token": csrf(page.encode())},
    )
    assert saved.status_code == 302
    pool = client.get("/api/v1/tenant/settings", headers=auth_headers(org["bd1"])).json["pool"]
    assert pool["claim_cap"] == 77 and pool["on_deactivate"] == "manager"
    log = client.get("/console/audit-log?action=tenant.settings_change").data.decode()
    assert "tenant.settings_change" in log and "77" in log
    sign_in(client, org["manager"])
    token = csrf(client.get("/console/settings").data)
    assert client.post("/console/settings", data={"claim_cap": "5", "csrf_token": token}).status_code == 403


def test_a_manager_assigns_bds_to_a_territory(client, org):
    square = [[[120.15, 30.26], [120.16, 30.26], [120.16, 30.27], [120.15, 30.27], [120.15, 30.26]]]
    made = client.post(
        "/api/v1/territories",
        json={"name": "Hubin", "team_id": org["team"].id, "geometry": {"type": "Polygon", "coordinates": square}},
        headers=auth_headers(org["manager"]),
    )
    assert made.status_code == 201, made.json
    territory_id = made.json["id"]
    sign_in(client, org["manager"])
    token = csrf(client.get("/console/territories").data)
    members = {"user_ids": [str(org["bd1"].id), str(org["bd2"].id)], "csrf_token": token}
    assert client.post(f"/console/territories/{territory_id}/members", data=members).status_code == 302
    shown = client.get(f"/api/v1/territories/{territory_id}", headers=auth_headers(org["manager"])).json
    assert sorted(shown["member_ids"]) == sorted([org["bd1"].id, org["bd2"].id])
    # the service's scope: a BD of another team is refused and nothing changes
    outside = {"user_ids": [str(org["outsider"].id)], "csrf_token": token}
    client.post(f"/console/territories/{territory_id}/members", data=outside)
    assert "UNKNOWN_USERS" in client.get("/console/territories").data.decode()
    shown = client.get(f"/api/v1/territories/{territory_id}", headers=auth_headers(org["manager"])).json
    assert len(shown["member_ids"]) == 2


def test_every_page_renders_in_chinese(client, org):
    client.patch("/api/v1/me", json={"preferred_locale": "zh-CN"}, headers=auth_headers(org["admin"]))
    sign_in(client, org["admin"])
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200 and '<html lang="zh-CN">' in response.data.decode(), path
    assert "团队私海" in client.get("/console/team-leads").data.decode()
    assert "公海规则" in client.get("/console/settings").data.decode()
