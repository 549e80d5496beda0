"""Clients generated from the committed spec (mobile_api_docs/openapi.json) work against the real app.

* Python: openapi-python-client (pinned in requirements-dev.txt) generates a package once per session; a BD's
  day is driven through it (login, refresh, nearby in GCJ-02, detail with its ETag, claim, an idempotent
  check-in, to-dos) together with a manager creating the BD's task, and the typed models are checked. The
  generated client's httpx client sends its requests to the WSGI app in-process (``httpx.WSGITransport``), so
  the test stays inside its rolled-back transaction like every other API test.
* TypeScript: openapi-typescript generates ``api.d.ts`` and ``tsc --strict`` type-checks clients/ts/usage.ts
  against it (packages pinned in clients/ts/package-lock.json; ``scripts/setup`` runs ``npm ci``).
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from app import clock
from app.org.models import OrgKind, Role
from geo.coords import wgs84_to_gcj02
from tests.factories import PASSWORD, MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "mobile_api_docs" / "openapi.json"
TS_DIR = ROOT / "clients" / "ts"
PACKAGE = "fieldsales_api_client"
SHOP = (30.2585, 120.1700)  # WGS84, West Lake, Hangzhou: inside China, so GCJ-02 differs by a few hundred metres


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The Python client generated from the committed spec, imported as a package."""
    out = tmp_path_factory.mktemp("python-client")
    config = out / "config.yaml"
    # no ruff formatting of throwaway code (faster, and no PATH needs); photos (signed URLs) come back as bytes
    config.write_text(
        "post_hooks: []\n"
        "content_type_overrides:\n  image/jpeg: application/octet-stream\n  image/png: application/octet-stream\n"
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(SPEC),
            "--output-path",
            str(out / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"openapi-python-client failed:\n{result.stdout}\n{result.stderr}"
    sys.path.insert(0, str(out))
    try:
        names = {
            "client": "client",
            "login": "api.auth.login",
            "refresh": "api.auth.refresh_tokens",
            "nearby": "api.merchants.list_nearby_merchants",
            "detail": "api.merchants.get_merchant_detail",
            "claim": "api.leads.claim_lead",
            "check_in": "api.visits.check_in",
            "todos": "api.tasks.list_todos",
            "accept": "api.tasks.accept_todo",
            "create_task": "api.tasks.create_task",
            "models": "models",
        }
        yield SimpleNamespace(**{key: importlib.import_module(f"{PACKAGE}.{name}") for key, name in names.items()})
    finally:
        sys.path.remove(str(out))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def day(session):
    tenant = TenantFactory(settings={"custom_fields": [{"key": "cuisine", "label": "Cuisine", "type": "string"}]})
    team = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM, name="West Lake")
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id)
    team.manager_id = manager.id
    bd = UserFactory(tenant=tenant, role=Role.BD, org_unit_id=team.id, manager_id=manager.id, display_name="Zhang")
    shop = MerchantFactory(tenant=tenant, name="外婆家", lat=SHOP[0], lng=SHOP[1], attributes={"cuisine": "zhejiang"})
    session.commit()
    return SimpleNamespace(tenant=tenant, team=team, manager=manager, bd=bd, shop=shop)


def test_a_bd_day_through_the_generated_python_client(app, day, generated):
    g, m = generated, generated.models
    transport = httpx.WSGITransport(app=app)
    base = "http://fieldsales.test"

    def authed(token: str):
        return g.client.AuthenticatedClient(base_url=base, token=token, httpx_args={"transport": transport})

    anonymous = g.client.Client(base_url=base, httpx_args={"transport": transport})

    # Login, then refresh: each answers a typed token pair.
    pair = g.login.sync(
        client=anonymous, body=m.Login(username=day.bd.username, password=PASSWORD, tenant=day.tenant.slug)
    )
    assert isinstance(pair, m.TokenPair)
    assert (pair.user.id, pair.user.role, pair.user.tenant_id) == (day.bd.id, m.Role.BD, day.tenant.id)
    refreshed = g.refresh.sync(client=authed(pair.refresh_token))
    assert isinstance(refreshed, m.TokenPair)
    assert refreshed.refresh_token != pair.refresh_token and refreshed.user.id == day.bd.id
    wrong = g.login.sync(
        client=anonymous, body=m.Login(username=day.bd.username, password="not-it", tenant=day.tenant.slug)
    )
    assert isinstance(wrong, m.Error) and wrong.error_code is m.ErrorCode.INVALID_CREDENTIALS
    bd = authed(refreshed.access_token)

    # Nearby, in GCJ-02 as an Amap phone sends it: the answer's positions are GCJ-02 too.
    here = wgs84_to_gcj02(SHOP[0] + 0.0005, SHOP[1])  # the BD stands ~55 m north of the shop
    shop_gcj = wgs84_to_gcj02(*SHOP)
    page = g.nearby.sync(client=bd, lat=here[0], lng=here[1], coord_sys=m.CoordSys.GCJ02, radius_m=500)
    assert isinstance(page, m.NearbyPage)
    assert page.query.coord_sys == "gcj02" and page.next_cursor is None
    [item] = page.items
    assert isinstance(item, m.NearbyItem)
    assert (item.id, item.name) == (day.shop.id, "外婆家")
    assert item.lat == pytest.approx(shop_gcj[0], abs=1e-6) and item.lng == pytest.approx(shop_gcj[1], abs=1e-6)
    assert 50 < item.distance_m < 60 and (item.bearing_deg > 170 and item.bearing_deg < 190)
    assert item.sea.state is m.LeadState.PUBLIC and item.sea.owner is None and item.claimable is True

    # A custom-field filter as generated clients send it (`attr=key:value`, repeatable).
    def filtered(cuisine: str) -> list[int]:
        return [i.id for i in g.nearby.sync(client=bd, lat=here[0], lng=here[1], attr=[f"cuisine:{cuisine}"]).items]

    assert filtered("zhejiang") == [day.shop.id] and filtered("sichuan") == []

    # Detail with its ETag: the same ETag answers 304 (no body, nothing to parse).
    first = g.detail.sync_detailed(day.shop.id, client=bd, coord_sys=m.CoordSys.GCJ02)
    assert first.status_code == 200 and isinstance(first.parsed, m.MerchantDetail)
    assert first.parsed.merchant.name == "外婆家" and first.parsed.sea.claimable is True
    assert first.parsed.merchant.lat == pytest.approx(shop_gcj[0], abs=1e-6)
    etag = first.headers["ETag"]
    cached = g.detail.sync_detailed(day.shop.id, client=bd, coord_sys=m.CoordSys.GCJ02, if_none_match=etag)
    assert cached.status_code == 304 and cached.content == b"" and cached.parsed is None

    # Claim: a typed lead; claiming again is a typed 409.
    lead = g.claim.sync(day.shop.id, client=bd)
    assert isinstance(lead, m.Lead)
    assert lead.merchant_id == day.shop.id and lead.state is m.LeadState.PRIVATE and lead.drops_at is not None
    assert lead.owner.to_dict() == {"id": day.bd.id, "name": "Zhang"}
    again = g.claim.sync(day.shop.id, client=bd)
    assert isinstance(again, m.Error) and again.error_code is m.ErrorCode.ALREADY_YOURS
    changed = g.detail.sync_detailed(day.shop.id, client=bd, if_none_match=etag)
    assert changed.status_code == 200 and changed.parsed.sea.mine is True  # the claim changed the ETag

    # Check-in with an Idempotency-Key; a retry with the same key replays the first answer.
    key = str(uuid.uuid4())
    body = m.CheckIn(
        merchant_id=day.shop.id,
        lat=shop_gcj[0],
        lng=shop_gcj[1],
        coord_sys=m.CoordSys.GCJ02,
        accuracy_m=10,
        client_time=clock.now(),
        mock_location=False,
    )
    visit = g.check_in.sync_detailed(client=bd, body=body, idempotency_key=key)
    assert visit.status_code == 201 and isinstance(visit.parsed, m.CheckInResult)
    assert visit.parsed.verified is True and visit.parsed.flags == [] and visit.parsed.distance_m < 1
    assert isinstance(visit.parsed.lead, m.LeadClock) and visit.parsed.lead.mine is True
    retry = g.check_in.sync_detailed(client=bd, body=body, idempotency_key=key)
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.parsed.id == visit.parsed.id

    # The manager creates a task for the BD; it lands in the BD's to-do center.
    manager_pair = g.login.sync(
        client=anonymous, body=m.Login(username=day.manager.username, password=PASSWORD, tenant=day.tenant.slug)
    )
    manager = authed(manager_pair.access_token)
    task = g.create_task.sync(
        client=manager,
        body=m.TaskCreate(
            title="Ask about the lunch deal", kind=m.TaskKind.VISIT, merchant_id=day.shop.id, user_ids=[day.bd.id]
        ),
    )
    assert isinstance(task, m.TaskSummary)
    assert (task.title, task.kind, task.creator_id, task.merchant_id) == (
        "Ask about the lunch deal",
        "visit",
        day.manager.id,
        day.shop.id,
    )
    assert task.progress.total == 1 and task.progress.assigned == 1
    todos = g.todos.sync(client=bd)
    assert isinstance(todos, m.TodoPage)
    [todo] = [todo for todo in todos.items if todo.type_ is m.TodoType.TASK]
    assert (todo.task_id, todo.title, todo.status) == (task.id, "Ask about the lunch deal", "assigned")
    assert "accept" in todo.actions and todo.merchant.to_dict()["id"] == day.shop.id
    accepted = g.accept.sync(todo.id, client=bd)
    assert isinstance(accepted, m.TodoActionResult) and accepted.status == "accepted"


def test_nullable_nested_objects_parse_into_their_models(generated):
    m = generated.models
    lead = m.Lead.from_dict(
        {
            "merchant_id": 1,
            "state": "private",
            "owner": {"id": 4, "name": "Zhang"},
            "claimed_at": None,
            "last_visit_at": None,
            "drops_at": None,
            "drop_reason": None,
            "extensions_used": 0,
            "extensions_left": 2,
            "signed_at": None,
            "contract_no": None,
            "sign_pending": False,
            "lock": {"until": "2027-01-15T00:00:00+00:00", "reason": "Key account"},
        }
    )
    assert isinstance(lead.owner, m.PersonRef)
    assert isinstance(lead.lock, m.Lock) and lead.lock.reason == "Key account"


def _npx(*args: str) -> list[str]:
    return ["npx", "--no-install", *args]


def test_typescript_types_type_check(tmp_path):
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed: the TypeScript type check needs Node.js 20")
    # scripts/setup installs the packages; a bare pytest run after a fresh clone may not have them yet
    if not (TS_DIR / "node_modules" / ".bin" / "tsc").exists():
        ci = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=TS_DIR, capture_output=True, text=True, timeout=600
        )
        assert ci.returncode == 0, f"npm ci in clients/ts failed:\n{ci.stdout}\n{ci.stderr}"

    def run(*args: str) -> None:
        result = subprocess.run(_npx(*args), cwd=TS_DIR, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"

    # --default-non-nullable false: a property with a default is optional in a request body (the same schema is
    # used for requests and answers)
    run("openapi-typescript", str(SPEC), "--default-non-nullable", "false", "-o", str(tmp_path / "api.d.ts"))
    shutil.copy(TS_DIR / "usage.ts", tmp_path / "usage.ts")
    run(
        "tsc",
        "--noEmit",
        "--strict",
        "--target",
        "es2022",
        "--module",
        "esnext",
        "--moduleResolution",
        "bundler",
        str(tmp_path / "usage.ts"),
    )
