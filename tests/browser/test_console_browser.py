"""The console in a real browser: Debian's Chromium driven by Playwright against the live app in a thread.

Every page loads for its roles with no console error and no failed request, and axe-core finds no serious or
critical accessibility violation; ops merge a duplicate; an import's progress bar reaches 100 %; a territory
drawn with the mouse is saved; a post without the CSRF token is refused. Screenshots go to
``tests/browser/artifacts/`` (the README's picture of the team's day comes from there).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select
from werkzeug.serving import make_server

from app import clock, db
from app.intake.normalize import branch_key, name_key
from app.merchants.models import Merchant
from app.org.models import OrgKind, Role
from app.territories.models import Territory
from tests.factories import PASSWORD, MerchantFactory, OrgUnitFactory, UserFactory, auth_headers

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
AXE = HERE / "vendor" / "axe.min.js"
SHOP = (30.2741, 120.1551)  # near West Lake, Hangzhou

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/test does)")

PAGES = {
    "manager": ["team-today", "team-leads", "tasks", "territories", "dashboard", "users", "settings", "my-day"],
    "ops": [
        "team-today",
        "team-leads",
        "tasks",
        "audit-queue",
        "imports",
        "territories",
        "dashboard",
        "users",
        "settings",
    ],
    "admin": [
        *("team-today", "team-leads", "tasks", "audit-queue", "imports", "territories", "dashboard", "users"),
        *("settings", "audit-log"),
    ],
    "bd": ["my-day"],
}


@pytest.fixture
def world(app, live):
    """One business line with a team, its people, a shop with today's check-ins, and a pending duplicate
    (really committed: the server thread reads them)."""
    client = app.test_client()
    tenant = live.tenant()
    team = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM, name="West Lake")
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id, display_name="Li Manager")
    team.manager_id = manager.id
    bd = UserFactory(tenant=tenant, role=Role.BD, org_unit_id=team.id, manager_id=manager.id, display_name="Zhang")
    ops = UserFactory(tenant=tenant, role=Role.OPS)
    admin = UserFactory(tenant=tenant, role=Role.ADMIN)
    # the duplicate check compares normalised names: set the key as the API does
    name = "外婆家(湖滨店)"
    shop = MerchantFactory(
        tenant=tenant, name=name, name_key=name_key(name), branch_key=branch_key(name), lat=SHOP[0], lng=SHOP[1]
    )
    db.session.commit()
    now = clock.now()
    for minutes, (lat, lng) in enumerate([SHOP, (SHOP[0] + 0.004, SHOP[1])]):
        response = client.post(
            "/api/v1/visits",
            json={
                "merchant_id": shop.id,
                "lat": lat,
                "lng": lng,
                "accuracy_m": 10,
                "client_time": (now - timedelta(minutes=30 - minutes)).isoformat(),
            },
            headers={**auth_headers(bd), "Idempotency-Key": f"browser-check-in-{minutes}"},
        )
        assert response.status_code == 201, response.json
    forced = client.post(
        "/api/v1/merchants",
        json={"name": "外婆家（湖滨店）", "lat": SHOP[0] + 0.0002, "lng": SHOP[1], "force": True},
        headers=auth_headers(bd),
    )
    assert forced.status_code == 201, forced.json
    return {
        "tenant": tenant,
        "team": team,
        "manager": manager,
        "bd": bd,
        "ops": ops,
        "admin": admin,
        "shop": shop,
        "duplicate_id": forced.json["id"],
    }


@pytest.fixture
def server(app) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Watched:
    """A page whose console errors and failed requests are collected."""

    def __init__(self, context, base: str) -> None:
        self.page = context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # a request the browser abandons because the page navigated on (a form sent) is not a failure
        self.page.on(
            "requestfailed",
            lambda r: "ERR_ABORTED" not in (r.failure or "") and self.problems.append(f"failed: {r.url} {r.failure}"),
        )
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def sign_in(self, user) -> None:
        self.page.goto(f"{self.base}/console/login")
        self.page.fill("#username", user.username)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.base}/console/**")
        assert "/login" not in self.page.url


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_loads_cleanly_and_accessibly_for_its_roles(browser, server, world, role):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # axe is injected as an inline script, which the console's CSP (rightly) refuses: a second context for it
    audit_context = browser.new_context(bypass_csp=True)
    try:
        watched = Watched(context, server)
        watched.sign_in(world[role])
        audited = Watched(audit_context, server)
        audited.sign_in(world[role])
        for name in PAGES[role]:
            watched.page.goto(f"{server}/console/{name}")
            watched.page.wait_for_load_state("networkidle")
            assert watched.page.locator("main h1").count() == 1, name
            watched.page.screenshot(path=str(ARTIFACTS / f"{role}-{name}.png"), full_page=True)
            audited.page.goto(f"{server}/console/{name}")
            audited.page.wait_for_load_state("networkidle")
            assert axe_violations(audited.page) == [], f"{role} {name}"
        assert watched.problems == [], watched.problems
    finally:
        context.close()
        audit_context.close()


def test_the_team_map_shows_the_days_check_ins(browser, server, world):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watched = Watched(context, server)
        watched.sign_in(world["manager"])
        watched.page.goto(f"{server}/console/team-today")
        markers = watched.page.locator("#map path.leaflet-interactive")
        markers.first.wait_for()
        assert markers.count() >= 2  # two check-ins (and their track)
        assert watched.page.get_by_role("cell", name="Zhang").count() >= 1
        watched.page.screenshot(path=str(ARTIFACTS / "team-today.png"), full_page=True)
        assert watched.problems == []
    finally:
        context.close()


def test_ops_merge_a_duplicate_from_the_audit_queue(browser, server, world):
    context = browser.new_context()
    try:
        watched = Watched(context, server)
        watched.sign_in(world["ops"])
        watched.page.goto(f"{server}/console/audit-queue")
        card = watched.page.locator(f"#pending-{world['duplicate_id']}")
        card.locator(f"button.merge[data-into='{world['shop'].id}']").click()
        watched.page.wait_for_selector(".flash.ok")
        assert watched.page.locator(f"#pending-{world['duplicate_id']}").count() == 0
        db.session.remove()
        merged = db.session.get(Merchant, world["duplicate_id"])
        assert merged.audit_status.value == "merged"
        assert watched.problems == []
    finally:
        context.close()


def test_an_imports_progress_bar_reaches_100(browser, server, world, redis_client, tmp_path):
    rows = ["name,lat,lng,source_id"] + [f"Shop {i},30.27{i:02d},120.15{i:02d},s{i}" for i in range(30)]
    upload = tmp_path / "shops.csv"
    upload.write_text("\n".join(rows) + "\n", encoding="utf-8")
    context = browser.new_context()
    try:
        watched = Watched(context, server)
        watched.sign_in(world["ops"])
        watched.page.goto(f"{server}/console/imports")
        watched.page.set_input_files("#file", str(upload))
        watched.page.click("form.card button[type=submit]")
        watched.page.wait_for_selector("#import-progress")
        assert watched.page.locator("#import-status").inner_text() in ("queued", "running")
        # the import's jobs run now; the page, polling every second, shows the end
        SimpleWorker([Queue("default", connection=redis_client)], connection=redis_client).work(burst=True)
        playwright_api.expect(watched.page.locator("#import-percent")).to_have_text("100 %", timeout=20_000)
        assert watched.page.locator("#count-inserted").inner_text() == "30"
        assert watched.problems == []
    finally:
        context.close()


def test_a_territory_drawn_with_the_mouse_is_saved(browser, server, world):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watched = Watched(context, server)
        watched.sign_in(world["manager"])
        page = watched.page
        page.goto(f"{server}/console/territories")
        page.click(".leaflet-draw-draw-polygon")
        box = page.locator("#map").bounding_box()
        corners = [(0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7)]
        for fx, fy in corners:
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=4)
            page.mouse.down()
            page.mouse.up()
        page.get_by_role("link", name="Finish").click()  # Leaflet.draw's own button closes the ring
        assert page.input_value("#geometry").startswith('{"type":"MultiPolygon"')
        page.fill("#name", "Drawn by hand")
        page.select_option("#team_id", str(world["team"].id))
        page.click("#territory-form button[type=submit]")
        page.wait_for_selector(".flash.ok")
        assert page.get_by_role("cell", name="Drawn by hand").count() == 1
        db.session.remove()
        saved = db.session.scalar(select(Territory).where(Territory.name == "Drawn by hand"))
        assert saved is not None and saved.team_id == world["team"].id and saved.area_m2 > 0
        assert watched.problems == []
    finally:
        context.close()


def test_a_post_without_the_csrf_token_is_refused(browser, server, world):
    context = browser.new_context()
    try:
        watched = Watched(context, server)
        watched.sign_in(world["ops"])
        response = context.request.post(
            f"{server}/console/audit-queue/{world['duplicate_id']}", form={"action": "approve"}
        )
        assert response.status == 400
        db.session.remove()
        assert db.session.get(Merchant, world["duplicate_id"]).audit_status.value == "pending_audit"
    finally:
        context.close()


def test_a_manager_bulk_reassigns_three_leads(app, browser, server, world):
    client = app.test_client()
    colleague = UserFactory(
        tenant=world["tenant"], org_unit_id=world["team"].id, manager_id=world["manager"].id, display_name="Wang"
    )
    shops = [
        MerchantFactory(tenant=world["tenant"], name=f"Lead {i}", lat=SHOP[0] + 0.001 * i, lng=SHOP[1])
        for i in range(3)
    ]
    db.session.commit()
    for shop in shops:
        assert client.post(f"/api/v1/leads/{shop.id}/claim", headers=auth_headers(world["bd"])).status_code == 200

    def mine(user) -> set[int]:
        items = client.get("/api/v1/leads/mine", headers=auth_headers(user)).json["items"]
        return {item["merchant"]["id"] for item in items}

    assert {s.id for s in shops} <= mine(world["bd"]) and not mine(colleague)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watched = Watched(context, server)
        watched.sign_in(world["manager"])
        page = watched.page
        page.goto(f"{server}/console/team-leads")
        for shop in shops:
            page.check(f"#pick-{shop.id}")
        page.select_option("#b-action", "reassign")
        page.select_option("#b-user", str(colleague.id))
        page.click("#bulk-form button[type=submit]")
        page.wait_for_selector("#bulk-outcome")
        assert page.locator("#bulk-outcome tr.result-done").count() == 3
        page.screenshot(path=str(ARTIFACTS / "team-leads-reassigned.png"), full_page=True)
        assert watched.problems == []
    finally:
        context.close()
    assert {s.id for s in shops} <= mine(colleague)
    assert not ({s.id for s in shops} & mine(world["bd"]))


def test_the_dashboard_draws_heat_cells_and_the_leaderboard(browser, server, world):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watched = Watched(context, server)
        watched.sign_in(world["manager"])
        watched.page.goto(f"{server}/console/dashboard?metric=visits")
        cells = watched.page.locator("#map path.heat-cell")
        cells.first.wait_for()
        assert cells.count() >= 1
        assert watched.page.locator("#leaderboard rect").count() >= 1  # Zhang's check-ins
        with watched.page.expect_download() as download:
            watched.page.click("#kpi-csv")
        assert download.value.suggested_filename.startswith("kpis-bd-")
        watched.page.screenshot(path=str(ARTIFACTS / "dashboard-kpis.png"), full_page=True)
        assert watched.problems == []
    finally:
        context.close()


def test_an_admin_sees_a_refused_pool_rule_at_its_field(browser, server, world):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watched = Watched(context, server)
        watched.sign_in(world["admin"])
        page = watched.page
        page.goto(f"{server}/console/settings")
        page.fill("#pool-claim_cap", "0")
        page.click("#pool-form button[type=submit]")
        page.wait_for_selector("#error-claim_cap")
        assert page.get_attribute("#pool-claim_cap", "aria-invalid") == "true"
        # the refusal itself (the response and Chromium's note of it), nothing else
        assert all("422" in problem for problem in watched.problems), watched.problems
        page.fill("#pool-claim_cap", "120")
        page.click("#pool-form button[type=submit]")
        page.wait_for_selector(".flash.ok")
        assert page.input_value("#pool-claim_cap") == "120"
    finally:
        context.close()


def test_a_manager_previews_a_tasks_assignees_and_sends_it(browser, server, world):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watched = Watched(context, server)
        watched.sign_in(world["manager"])
        page = watched.page
        page.goto(f"{server}/console/tasks")
        page.fill("#t-title", "Photograph the menu")
        page.select_option("#t-kind", "collect_info")
        page.check("#target-team")
        page.select_option("#t-team", str(world["team"].id))
        page.click("#task-form button[value=preview]")
        playwright_api.expect(page.locator("#task-preview")).to_contain_text("1")
        page.click("#task-form button[value=send]")
        page.wait_for_selector(".flash.ok")
        assert page.locator("#created-tasks .task-done").first.inner_text() == "0/1"
        assert watched.problems == []
    finally:
        context.close()
