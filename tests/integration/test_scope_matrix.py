"""The scope matrix: every endpoint of the URL map, called by each role, by people of another org subtree and by
every role of another tenant, on ids (in the path and in the body) of one BD's world. Nothing may leak:

- callers who may not see an object get a 4xx for its id, in the path or in the body;
- their answers never contain text only that world's viewers may read (sentinels planted in names);
- their requests never change that tenant's rows (a fingerprint of every tenant-scoped table);
- nobody gets a 5xx.

The endpoints come from the app's URL map at collection time, so a new endpoint is in the matrix the moment it
is registered, and it fails until it is classified in ``POLICY`` below (which callers must be refused).
Request bodies are the OpenAPI examples (each endpoint documents one) with their id fields pointed at the
world's objects.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from app import clock, db
from app.activities.models import Activity
from app.campaigns.models import Campaign
from app.db import Base
from app.devices.models import Device
from app.exports.models import Export
from app.factory import create_app
from app.intake.models import ImportStatus, MerchantImport
from app.merchants.models import Contact, Lead, LeadState
from app.org.models import OrgKind, Role
from app.sales.models import Contract
from app.tasks.models import Task, TaskAssignment, TaskKind
from app.territories.models import Territory, TerritoryMember
from app.uploads.models import Upload
from app.visits.models import Visit
from tests.conftest import test_config as make_config
from tests.factories import MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory, auth_headers, point

TENANT_MARK = "zqA"  # in every name of the world's tenant: another tenant must never see it
PRIVATE_MARK = "zqP"  # in what only the BD, their managers, ops and admins may see

# Who must be refused, per endpoint:
#   public:  no auth (nothing to refuse; only "no 5xx")
#   own:     the caller's own things (lists, /me, to-dos): only the leak and fingerprint checks apply
#   tenant:  tenant-wide data (merchants' basic data, map): another tenant is refused
#   subtree: the BD's own things: another tenant and the other subtree are refused
#   admin:   tenant settings: another tenant's admin changes only their own tenant
POLICY = {
    ("POST", "/api/v1/auth/login"): "public",
    ("POST", "/api/v1/auth/refresh"): "public",
    ("GET", "/api/v1/health"): "public",
    ("GET", "/api/v1/livez"): "public",
    ("GET", "/metrics"): "public",
    ("GET", "/api/v1/readyz"): "public",
    ("GET", "/api/v1/docs"): "public",
    ("GET", "/api/v1/openapi.json"): "public",
    ("POST", "/api/v1/auth/logout"): "own",
    ("GET", "/api/v1/me"): "own",
    ("PATCH", "/api/v1/me"): "own",
    ("POST", "/api/v1/me/password"): "own",
    ("POST", "/api/v1/devices"): "own",
    ("DELETE", "/api/v1/devices/<path:token>"): "subtree",
    ("POST", "/api/v1/uploads"): "own",
    # signed URLs: no bearer token, the signature is the authorisation (tests/api/test_photos.py)
    ("GET", "/api/v1/photos/<uuid:photo_id>"): "public",
    ("GET", "/api/v1/photos/<uuid:photo_id>/thumbnail"): "public",
    ("GET", "/api/v1/merchants/nearby"): "tenant",
    ("GET", "/api/v1/merchants/map"): "tenant",
    ("GET", "/api/v1/merchants/<id:merchant_id>"): "tenant",
    ("POST", "/api/v1/merchants/<id:merchant_id>/contacts"): "subtree",
    ("PATCH", "/api/v1/merchants/<id:merchant_id>/attributes"): "subtree",
    ("PATCH", "/api/v1/merchants/<id:merchant_id>/contacts/<id:contact_id>"): "subtree",
    ("DELETE", "/api/v1/merchants/<id:merchant_id>/contacts/<id:contact_id>"): "subtree",
    ("POST", "/api/v1/merchants/<id:merchant_id>/contacts/<id:contact_id>/verify"): "subtree",
    ("POST", "/api/v1/merchants/<id:merchant_id>/deals"): "subtree",
    ("POST", "/api/v1/merchants/<id:merchant_id>/contracts"): "subtree",
    ("PATCH", "/api/v1/merchants/<id:merchant_id>/contracts/<id:contract_id>"): "subtree",
    ("POST", "/api/v1/merchants/<id:merchant_id>/handover"): "subtree",
    ("POST", "/api/v1/merchants/<id:merchant_id>/sales"): "subtree",
    ("POST", "/api/v1/merchants/<id:merchant_id>/competitors"): "tenant",
    ("GET", "/api/v1/leads/mine"): "own",
    ("GET", "/api/v1/leads/public"): "tenant",
    ("POST", "/api/v1/leads/<id:merchant_id>/claim"): "subtree",
    ("POST", "/api/v1/leads/<id:merchant_id>/release"): "subtree",
    ("POST", "/api/v1/leads/<id:merchant_id>/extend"): "subtree",
    ("POST", "/api/v1/leads/<id:merchant_id>/assign"): "subtree",
    ("POST", "/api/v1/leads/<id:merchant_id>/sign"): "subtree",
    ("GET", "/api/v1/leads/<id:merchant_id>/history"): "tenant",
    ("POST", "/api/v1/visits"): "tenant",
    ("GET", "/api/v1/visits"): "own",
    ("POST", "/api/v1/visits/<id:visit_id>/checkout"): "subtree",
    ("POST", "/api/v1/visit-plans"): "tenant",
    ("GET", "/api/v1/visit-forms"): "own",
    ("POST", "/api/v1/activities"): "tenant",
    ("GET", "/api/v1/activities"): "own",
    ("GET", "/api/v1/visit-plans/<day>"): "own",
    ("GET", "/api/v1/team/visits"): "own",
    ("GET", "/api/v1/team/leads"): "own",  # managers: their subtree; ops and admins: the business line
    ("POST", "/api/v1/team/leads/bulk"): "subtree",
    ("POST", "/api/v1/tasks"): "subtree",
    ("GET", "/api/v1/tasks"): "own",
    ("POST", "/api/v1/tasks/bulk"): "subtree",
    ("GET", "/api/v1/tasks/<id:task_id>"): "subtree",
    ("GET", "/api/v1/sync"): "own",
    ("GET", "/api/v1/todos"): "own",
    ("GET", "/api/v1/todos/count"): "own",
    ("GET", "/api/v1/todos/<todo_id>"): "own",
    ("POST", "/api/v1/todos/<todo_id>/accept"): "subtree",
    ("POST", "/api/v1/todos/<todo_id>/done"): "subtree",
    ("POST", "/api/v1/todos/<todo_id>/reject"): "subtree",
    ("GET", "/api/v1/tenant/settings"): "own",
    ("PATCH", "/api/v1/tenant/settings"): "admin",
    ("GET", "/api/v1/territories"): "own",
    ("POST", "/api/v1/territories"): "subtree",
    ("GET", "/api/v1/territories/<id:territory_id>"): "subtree",
    ("PATCH", "/api/v1/territories/<id:territory_id>"): "subtree",
    ("DELETE", "/api/v1/territories/<id:territory_id>"): "subtree",
    ("PUT", "/api/v1/territories/<id:territory_id>/members"): "subtree",
    ("GET", "/api/v1/territories/<id:territory_id>/stats"): "subtree",
    ("GET", "/api/v1/org/units"): "own",
    ("POST", "/api/v1/org/units"): "subtree",
    ("PATCH", "/api/v1/org/units/<id:unit_id>"): "subtree",
    ("GET", "/api/v1/users"): "own",
    ("POST", "/api/v1/users"): "subtree",
    ("GET", "/api/v1/users/<id:user_id>"): "subtree",
    ("PATCH", "/api/v1/users/<id:user_id>"): "subtree",
    ("POST", "/api/v1/users/<id:user_id>/deactivate"): "subtree",
    ("GET", "/api/v1/dashboard/team"): "own",
    ("GET", "/api/v1/dashboard/funnel"): "own",
    ("GET", "/api/v1/dashboard/heatmap"): "own",
    ("GET", "/api/v1/kpis"): "own",  # managers: their people; ops, admins: the business line
    ("GET", "/api/v1/kpis/leaderboard"): "own",
    ("GET", "/api/v1/targets"): "own",
    ("PUT", "/api/v1/targets"): "subtree",
    # managers: their own campaigns and their subtree's; ops, admins: the business line's
    ("GET", "/api/v1/campaigns"): "own",
    # exports read through the kinds' own scoped reads; a job and its file are its requester's
    ("GET", "/api/v1/exports/<any(merchants, team_leads, kpis, campaign_results, visits):kind>"): "own",
    ("POST", "/api/v1/exports"): "own",
    ("GET", "/api/v1/exports/<id:export_id>"): "own",
    # signed URL: no bearer token, the signature is the authorisation (tests/api/test_exports.py)
    ("GET", "/api/v1/exports/<id:export_id>/file"): "public",
    ("POST", "/api/v1/campaigns"): "subtree",
    ("POST", "/api/v1/campaigns/<id:campaign_id>/preview"): "subtree",
    ("POST", "/api/v1/campaigns/<id:campaign_id>/launch"): "subtree",
    ("GET", "/api/v1/campaigns/<id:campaign_id>/results"): "subtree",
    ("GET", "/api/v1/audit"): "own",  # admins only, their own business line
    ("POST", "/api/v1/public/onboarding"): "public",
    ("POST", "/api/v1/merchants"): "own",
    ("GET", "/api/v1/merchants/audit-queue"): "own",
    ("POST", "/api/v1/merchants/<id:merchant_id>/audit"): "tenant",
    ("POST", "/api/v1/merchants/<id:merchant_id>/corrections"): "subtree",
    ("GET", "/api/v1/merchants/<id:merchant_id>/changes"): "subtree",
    ("POST", "/api/v1/imports"): "own",
    ("GET", "/api/v1/imports/<id:import_id>"): "tenant",
    ("GET", "/api/v1/brands/top300"): "own",
    ("PUT", "/api/v1/brands/top300"): "admin",
}
# What colleagues of another subtree do see of a BD's private lead, by design: the detail page shows the
# merchant's key persons (phones masked) and its visit history, so that two BDs do not pitch the same owner twice.
SHARED_WITH_COLLEAGUES = {
    ("GET", "/api/v1/merchants/<id:merchant_id>"): {
        "contacts[].name",
        "visits.last_visit.notes",
        "visits.last_visit.purpose",
        "visits.recent[].notes",
        "visits.recent[].purpose",
        # calls and messages, for the same reason
        "activities.recent[].notes",
        "activities.recent[].contact.name",
    },
}
# the console's pages have their own matrix (tests/integration/test_console.py)
SKIPPED_RULES = ("/static/", "/api/v1/docs/assets/", "/api/v1/_test/", "/console/")
# query strings for endpoints with required query parameters (around the world's merchants)
QUERIES = {
    "/api/v1/merchants/nearby": {"lat": 30.26, "lng": 120.16, "radius_m": 3000},
    "/api/v1/leads/public": {"lat": 30.26, "lng": 120.16, "radius_m": 3000},
    "/api/v1/merchants/map": {"bbox": "120.15,30.25,120.17,30.27", "zoom": 16},
    "/api/v1/dashboard/funnel": {"from": "2026-01-01", "to": "2026-12-31"},
    "/api/v1/dashboard/heatmap": {"bbox": "120.15,30.25,120.17,30.27", "cell_m": 500},
    "/api/v1/team/visits": {},
    "/api/v1/kpis/leaderboard": {"month": "2026-11"},
    "/api/v1/targets": {"month": "2026-11"},
}


def _endpoints() -> list[tuple[str, str]]:
    app = create_app(make_config())
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(SKIPPED_RULES):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule))
    return sorted(found, key=lambda e: (e[1], e[0]))


ENDPOINTS = _endpoints()


def test_every_endpoint_is_classified():
    missing = [f"{m} {r}" for m, r in ENDPOINTS if (m, r) not in POLICY]
    assert not missing, f"new endpoints: say who must be refused in POLICY: {missing}"
    stale = [f"{m} {r}" for m, r in POLICY if (m, r) not in ENDPOINTS]
    assert not stale, f"POLICY lists endpoints that no longer exist: {stale}"


@pytest.fixture
def world(client, session):
    """Tenant A: city > team1 (manager m1, bd1) and team2 (m2, bd2), ops, admin; tenant B: one user per role."""
    a = TenantFactory(name=f"{TENANT_MARK} line")
    city = OrgUnitFactory(tenant=a, kind=OrgKind.CITY, name=f"{TENANT_MARK} city")
    team1 = OrgUnitFactory(tenant=a, name=f"{TENANT_MARK}{PRIVATE_MARK} team1", parent_id=city.id)
    team2 = OrgUnitFactory(tenant=a, name=f"{TENANT_MARK} team2", parent_id=city.id)
    m1 = UserFactory(
        tenant=a,
        role=Role.MANAGER,
        org_unit_id=team1.id,
        username=f"{TENANT_MARK}{PRIVATE_MARK}m1",
        display_name=f"{TENANT_MARK} M1",
    )
    bd1 = UserFactory(
        tenant=a,
        org_unit_id=team1.id,
        manager_id=m1.id,
        username=f"{TENANT_MARK}{PRIVATE_MARK}bd1",
        display_name=f"{TENANT_MARK} BD1",
    )
    m2 = UserFactory(tenant=a, role=Role.MANAGER, org_unit_id=team2.id, username=f"{TENANT_MARK}m2")
    bd2 = UserFactory(tenant=a, org_unit_id=team2.id, manager_id=m2.id, username=f"{TENANT_MARK}bd2")
    ops = UserFactory(tenant=a, role=Role.OPS, username=f"{TENANT_MARK}ops")
    admin = UserFactory(tenant=a, role=Role.ADMIN, username=f"{TENANT_MARK}admin")
    shop = MerchantFactory(tenant=a, name=f"{TENANT_MARK} shop", lat=30.26, lng=120.16)
    public_shop = MerchantFactory(tenant=a, name=f"{TENANT_MARK} public shop", lat=30.261, lng=120.161)
    now = clock.now()
    session.add(
        Lead(
            merchant_id=shop.id,
            tenant_id=a.id,
            state=LeadState.PRIVATE,
            owner_id=bd1.id,
            claimed_at=now,
            drops_at=now + timedelta(days=10),
            drop_reason="no_visit",
        )
    )
    contact = Contact(tenant_id=a.id, merchant_id=shop.id, name=f"{TENANT_MARK}{PRIVATE_MARK} contact", phones=[])
    photo = Upload(tenant_id=a.id, user_id=bd1.id, sha256="0" * 64, content_type="image/jpeg", size=1)
    session.add(photo)
    session.flush()
    visit = Visit(
        tenant_id=a.id,
        merchant_id=shop.id,
        user_id=bd1.id,
        photo_ids=[str(photo.id)],
        idempotency_key="world-visit-1",
        request_hash="x",
        client_time=now,
        location=point(30.26, 120.16),
        verified=True,
        notes=f"{TENANT_MARK}{PRIVATE_MARK} visit notes",
        purpose=f"{TENANT_MARK}{PRIVATE_MARK} purpose",
    )
    task = Task(
        tenant_id=a.id,
        creator_id=m1.id,
        title=f"{TENANT_MARK}{PRIVATE_MARK} task",
        kind=TaskKind.VISIT,
        body="",
        priority=0,
        target={"user_ids": [bd1.id]},
    )
    territory = Territory(
        tenant_id=a.id,
        team_id=team1.id,
        name=f"{TENANT_MARK}{PRIVATE_MARK} territory",
        area_m2=1.0,
        vertices=4,
        created_by_id=m1.id,
        boundary="SRID=4326;MULTIPOLYGON(((120.15 30.25,120.17 30.25,120.17 30.27,120.15 30.27,120.15 30.25)))",
    )
    device = Device(tenant_id=a.id, user_id=bd1.id, token=f"{TENANT_MARK}-device-token", platform="android")
    merchant_import = MerchantImport(
        tenant_id=a.id,
        created_by_id=ops.id,
        filename=f"{TENANT_MARK}{PRIVATE_MARK}.csv",
        file_format="csv",
        source=f"{TENANT_MARK}src",
        status=ImportStatus.DONE,
        rejects=[{"line": 2, "reason": f"{TENANT_MARK}{PRIVATE_MARK} bad row"}],
    )
    campaign = Campaign(
        tenant_id=a.id,
        creator_id=m1.id,
        name=f"{TENANT_MARK}{PRIVATE_MARK} campaign",
        filter={"pool_state": "private"},
        template={"kind": "visit", "title": f"{TENANT_MARK}{PRIVATE_MARK} campaign task"},
    )
    contract = Contract(tenant_id=a.id, merchant_id=shop.id, number="C-1", type="group_buy", starts_on=now.date())
    export = Export(tenant_id=a.id, user_id=bd1.id, kind="merchants", format="csv", status="done", content=b"x")
    session.add_all([contact, visit, task, territory, device, merchant_import, contract, campaign, export])
    session.flush()
    session.add(TerritoryMember(tenant_id=a.id, territory_id=territory.id, user_id=bd1.id))
    session.add(
        Activity(
            tenant_id=a.id,
            merchant_id=shop.id,
            user_id=bd1.id,
            contact_id=contact.id,
            kind="call",
            occurred_at=now,
            duration_s=60,
            result="connected",
            notes=f"{TENANT_MARK}{PRIVATE_MARK} call notes",
        )
    )
    assignment = TaskAssignment(tenant_id=a.id, task_id=task.id, assignee_id=bd1.id, merchant_id=shop.id, payload={})
    session.add(assignment)
    session.commit()
    plan = client.post(
        "/api/v1/visit-plans",
        headers=auth_headers(bd1),
        json={"date": "2026-11-23", "start": {"lat": 30.26, "lng": 120.16}, "merchant_ids": [shop.id, public_shop.id]},
    )
    assert plan.status_code == 201, plan.json
    b = TenantFactory(name="B line")
    b_team = OrgUnitFactory(tenant=b, name="B team")
    b_users = {role: UserFactory(tenant=b, role=role, org_unit_id=b_team.id) for role in Role}
    ids = {
        "merchant_id": shop.id,
        "contact_id": contact.id,
        "visit_id": visit.id,
        "task_id": task.id,
        "territory_id": territory.id,
        "user_id": bd1.id,
        "unit_id": team1.id,
        "todo_id": f"a{assignment.id}",
        "token": device.token,
        "day": "2026-11-23",
        "team_id": team1.id,
        "manager_id": m1.id,
        "import_id": merchant_import.id,
        "photo_id": photo.id,
        "contract_id": contract.id,
        "campaign_id": campaign.id,
        "kind": "merchants",
        "export_id": export.id,
    }
    callers = {
        "bd1": bd1,
        "m1": m1,
        "ops": ops,
        "admin": admin,
        "bd2": bd2,
        "m2": m2,
        **{f"other_tenant_{role.value}": user for role, user in b_users.items()},
    }
    return {"tenant": a, "ids": ids, "headers": {name: auth_headers(user) for name, user in callers.items()}}


def fingerprint(tenant_id: int) -> dict[str, str]:
    """A digest of every row of the tenant, table by table (and of the tenant's own row)."""
    digests = {}
    for table in Base.metadata.sorted_tables:
        if "tenant_id" not in table.c or table.name == "auth_sessions":
            continue
        digests[table.name] = db.session.execute(
            text(
                f"SELECT md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) "
                f"FROM {table.name} t WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        ).scalar()
    digests["tenants"] = db.session.execute(
        text("SELECT md5(t::text) FROM tenants t WHERE id = :t"), {"t": tenant_id}
    ).scalar()
    return digests


def _example(spec: dict, method: str, rule: str) -> dict | None:
    path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule)
    operation = spec["paths"].get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    return copy.deepcopy(content.get("example"))


def _point_ids_at(body, ids: dict):
    """Replace every id field of an example body with the world's ids."""
    singular = {
        "merchant_id": ids["merchant_id"],
        "user_id": ids["user_id"],
        "team_id": ids["team_id"],
        "territory_id": ids["territory_id"],
        "org_unit_id": ids["unit_id"],
        "parent_id": ids["unit_id"],
        "manager_id": ids["manager_id"],
    }
    plural = {"merchant_ids": ids["merchant_id"], "user_ids": ids["user_id"], "contact_ids": ids["contact_id"]}
    if isinstance(body, list):
        return [_point_ids_at(item, ids) for item in body]
    if not isinstance(body, dict):
        return body
    result = {}
    for key, value in body.items():
        if key in singular:
            result[key] = singular[key]
        elif key in plural and isinstance(value, list):
            result[key] = [plural[key]]
        else:
            result[key] = _point_ids_at(value, ids)
    return result


def _marked_paths(value, mark: str, path: str = "") -> set[str]:
    """JSON paths (list indexes as ``[]``) of the strings containing ``mark``."""
    if isinstance(value, dict):
        return {p for key, item in value.items() for p in _marked_paths(item, mark, f"{path}.{key}" if path else key)}
    if isinstance(value, list):
        return {p for item in value for p in _marked_paths(item, mark, f"{path}[]")}
    return {path} if isinstance(value, str) and mark in value else set()


def _references_world(body) -> bool:
    return body is not None and bool(
        re.search(
            r'"(merchant_id|user_id|team_id|territory_id|org_unit_id|parent_id|manager_id|merchant_ids|user_ids)"',
            json.dumps(body),
        )
    )


REFUSED = {
    "public": (),
    "own": ("other_tenant_bd", "other_tenant_manager", "other_tenant_ops", "other_tenant_admin"),
    "admin": ("other_tenant_bd", "other_tenant_manager", "other_tenant_ops", "other_tenant_admin"),
    "tenant": ("other_tenant_bd", "other_tenant_manager", "other_tenant_ops", "other_tenant_admin"),
    "subtree": ("bd2", "m2", "other_tenant_bd", "other_tenant_manager", "other_tenant_ops", "other_tenant_admin"),
}
ALLOWED = ("bd1", "m1", "ops", "admin")


@pytest.mark.parametrize("method, rule", ENDPOINTS, ids=[f"{m} {r}" for m, r in ENDPOINTS])
def test_nothing_leaks(client, app, world, method, rule):
    policy = POLICY.get((method, rule))
    if policy is None:
        pytest.fail(f"{method} {rule} is not classified in POLICY")
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    ids = world["ids"]
    path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", lambda m: str(ids[m.group(1)]), rule)
    has_path_ids = "<" in rule
    body = _point_ids_at(_example(spec, method, rule), ids)
    query = QUERIES.get(rule, {})
    refused = REFUSED[policy]
    for caller in (*refused, *(c for c in ALLOWED + REFUSED["subtree"] if c not in refused)):
        headers = {**world["headers"][caller], "Idempotency-Key": f"matrix-{caller}-0001"}
        before = fingerprint(world["tenant"].id) if caller in refused and method != "GET" else None
        response = client.open(
            path,
            method=method,
            headers=headers,
            query_string=query,
            json=body if method in ("POST", "PUT", "PATCH") and body is not None else None,
        )
        where = f"{method} {path} as {caller}: {response.status_code} {response.get_data(as_text=True)[:300]}"
        assert response.status_code < 500, where
        answer = response.get_data(as_text=True)
        if caller.startswith("other_tenant"):
            assert TENANT_MARK not in answer, f"leak: {where}"
        elif caller in ("bd2", "m2") and policy != "public" and PRIVATE_MARK in answer:
            shown = _marked_paths(response.get_json(silent=True), PRIVATE_MARK)
            assert shown and shown <= SHARED_WITH_COLLEAGUES.get((method, rule), set()), f"leak {shown}: {where}"
        if caller not in refused:
            continue
        if (has_path_ids or _references_world(body)) and policy != "own":
            assert 400 <= response.status_code < 500, f"not refused: {where}"
        if before is not None:
            assert fingerprint(world["tenant"].id) == before, f"changed the other world: {where}"
