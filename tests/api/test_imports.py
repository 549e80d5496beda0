"""Bulk imports over the API: upload, the RQ job (burst worker), progress, rejects, matches, re-imports."""

from __future__ import annotations

import io
import json

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from app import db
from app.intake.importer import import_csv
from app.intake.normalize import name_key, phone_keys
from app.intake.schemas import ImportStatusSchema
from app.merchants.models import Merchant, MerchantSourceId
from app.org.models import Role
from app.tabular import ImportReport
from tests.factories import MerchantFactory, TenantFactory, UserFactory, auth_headers

CSV = """店名,纬度,经度,电话,分类,source_id,营业时间
老王面馆,30.2459,120.1811,0571-87806201,餐饮服务;中餐厅,a1,9-21
星巴克(湖滨店),30.2570,120.1640,,餐饮服务;咖啡厅,a2,
,30.2500,120.1700,,,a3,
坏坐标,91,120.17,,,a4,
麦当劳,30.2600,120.1700,13812345678,餐饮服务;快餐厅,a5,
"""
MAPPING = {"name": "店名", "lat": "纬度", "lng": "经度", "phone": "电话", "category": "分类"}


@pytest.fixture
def ops(session):
    tenant = TenantFactory()
    return UserFactory(tenant=tenant, role=Role.OPS)


def upload(client, user, content, *, filename="shops.csv", **form):
    data = {"file": (io.BytesIO(content.encode() if isinstance(content, str) else content), filename), **form}
    return client.post("/api/v1/imports", data=data, content_type="multipart/form-data", headers=auth_headers(user))


def run_jobs(redis_client):
    SimpleWorker([Queue("default", connection=redis_client)], connection=redis_client).work(burst=True)


def merchants_of(tenant_id):
    db.session.expire_all()
    return {m.source_id: m for m in db.session.scalars(select(Merchant).where(Merchant.tenant_id == tenant_id))}


def test_import_runs_in_the_background_with_progress_rejects_and_matches(client, ops, session, redis_client):
    existing = MerchantFactory(
        tenant_id=ops.tenant_id,
        name="麦当劳(庆春店)",
        name_key=name_key("麦当劳(庆春店)"),
        lat=30.26005,
        lng=120.17005,
        source="manual",
        phone=None,
    )
    response = upload(client, ops, CSV, source="amap", mapping=json.dumps(MAPPING))
    assert response.status_code == 202, response.json
    body = ImportStatusSchema().load(response.json)
    assert body["status"] == "queued" and body["rows_total"] == 5 and body["rows_done"] == 0
    assert response.headers["Location"].endswith(f"/api/v1/imports/{body['id']}")

    run_jobs(redis_client)
    status = client.get(f"/api/v1/imports/{body['id']}", headers=auth_headers(ops)).json
    ImportStatusSchema().load(status)
    assert status["status"] == "done" and status["rows_done"] == 5
    assert status["counts"] == {"inserted": 2, "updated": 1, "unchanged": 0, "matched": 1, "rejected": 2, "kept": 0}
    assert status["rejects"] == [
        {"line": 4, "reason": "name is empty"},
        {"line": 5, "reason": "lat/lon is out of range"},
    ]
    assert [(m["line"], m["merchant_id"]) for m in status["matches"]] == [(6, existing.id)]

    rows = merchants_of(ops.tenant_id)
    assert set(rows) == {"a1", "a2", None}
    assert rows["a1"].phone_keys == ["+8657187806201"] and rows["a1"].attributes == {"营业时间": "9-21"}
    assert rows["a1"].category == "餐饮服务;中餐厅"
    matched = rows[None]
    assert matched.id == existing.id and matched.phone == "13812345678"  # the match's gap filled, no new row
    assert "multi_store" not in matched.tags  # tags were computed after the import

    # the same file again changes nothing, and the matched row still lands on the same merchant
    versions = {m.id: m.detail_version for m in rows.values()}
    again = upload(client, ops, CSV, source="amap", mapping=json.dumps(MAPPING)).json
    run_jobs(redis_client)
    again = client.get(f"/api/v1/imports/{again['id']}", headers=auth_headers(ops)).json
    assert again["counts"] == {"inserted": 0, "updated": 0, "unchanged": 3, "matched": 0, "rejected": 2, "kept": 0}
    assert {m.id: m.detail_version for m in merchants_of(ops.tenant_id).values()} == versions
    assert session.scalar(select(func.count()).select_from(MerchantSourceId)) == 1


def test_geojson_import(client, ops, redis_client):
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [24.94, 60.17]},
            "properties": {"name": "Kahvila Oy", "id": "n1", "phone": "+358 40 1234567"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
            "properties": {"name": "Road"},
        },
    ]
    content = json.dumps({"type": "FeatureCollection", "features": features})
    response = upload(
        client, ops, content, filename="shops.geojson", source="osm", mapping=json.dumps({"source_id": "id"})
    )
    assert response.status_code == 202, response.json
    run_jobs(redis_client)
    status = client.get(f"/api/v1/imports/{response.json['id']}", headers=auth_headers(ops)).json
    assert status["counts"]["inserted"] == 1
    assert status["rejects"] == [{"line": 2, "reason": "the feature's geometry is not a Point"}]
    assert merchants_of(ops.tenant_id)["n1"].name == "Kahvila Oy"


@pytest.mark.parametrize(
    ("content", "form", "status", "code"),
    [
        ("", {}, 422, "EMPTY_FILE"),
        ("name,lat\nx,1\n", {}, 422, "BAD_FILE"),
        ("店名,lat,lng\nx,1,2\n", {"mapping": json.dumps({"name": "名称"})}, 422, "BAD_FILE"),
        ("name,lat,lng\nx,1,2\n", {"mapping": "[1]"}, 422, "VALIDATION_ERROR"),
        ("name,lat,lng\nx,1,2\n", {"mapping": json.dumps({"owner": "x"})}, 422, "VALIDATION_ERROR"),
        ("name,lat,lng\nx,1,2\n", {"source": "Bad Source!"}, 422, "VALIDATION_ERROR"),
        ("name,lat,lng\n老王,1,2\n".encode("gbk"), {}, 422, "BAD_ENCODING"),
        ('{"type": "Feature"}', {}, 422, "BAD_FILE"),
    ],
)
def test_bad_uploads_are_refused_at_once(client, ops, content, form, status, code):
    response = upload(client, ops, content, **form)
    assert (response.status_code, response.json["error_code"]) == (status, code), response.json


def test_size_limit_and_roles(client, ops, app, session):
    app.config["IMPORT_MAX_BYTES"] = 100
    try:
        response = upload(client, ops, "name,lat,lng\n" + "x,30.1,120.1\n" * 20)
        assert (response.status_code, response.json["error_code"]) == (413, "PAYLOAD_TOO_LARGE")
    finally:
        app.config["IMPORT_MAX_BYTES"] = 8 * 1024 * 1024
    bd = UserFactory(tenant_id=ops.tenant_id, role=Role.BD)
    assert upload(client, bd, "name,lat,lng\nx,30.1,120.1\n").status_code == 403
    stranger = UserFactory(tenant=TenantFactory(), role=Role.OPS)
    created = upload(client, ops, "name,lat,lng\nx,30.1,120.1\n").json["id"]
    response = client.get(f"/api/v1/imports/{created}", headers=auth_headers(stranger))
    assert (response.status_code, response.json["error_code"]) == (404, "IMPORT_NOT_FOUND")


def test_progress_is_reported_per_chunk(session):
    tenant = TenantFactory()
    db.scope_to_tenant(tenant.id)
    seen = []
    lines = "name,lat,lng\n" + "".join(f"shop {i},30.{i:04d},120.1\n" for i in range(1, 6))
    report = import_csv(
        io.StringIO(lines), tenant.id, chunk_rows=2, on_chunk=lambda r: seen.append((r.rows, r.inserted))
    )
    assert seen == [(2, 2), (4, 4), (5, 5)] and isinstance(report, ImportReport)


def test_cli_uses_the_same_importer(app, session, tmp_path):
    tenant = TenantFactory(slug="cli-import")
    MerchantFactory(tenant=tenant, name="老王面馆", name_key=name_key("老王面馆"), lat=30.2459, lng=120.1811)
    path = tmp_path / "shops.csv"
    path.write_text("name,lat,lng,phone\n老王麵館(清泰街店),30.24592,120.18111,0571 8780 6201\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-merchants", str(path), "--tenant", "cli-import"])
    assert result.exit_code == 0, result.output
    assert "matched 1" in result.output
    db.session.expire_all()
    shops = session.scalars(select(Merchant).where(Merchant.tenant_id == tenant.id)).all()
    assert len(shops) == 1 and shops[0].phone_keys == phone_keys("0571-87806201")


def test_a_failing_job_marks_the_import_failed(client, ops, redis_client, monkeypatch):
    import app.intake.jobs as jobs

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    created = upload(client, ops, "name,lat,lng\nx,30.1,120.1\n").json["id"]
    monkeypatch.setattr(jobs, "import_merchants", boom)
    run_jobs(redis_client)
    status = client.get(f"/api/v1/imports/{created}", headers=auth_headers(ops)).json
    assert status["status"] == "failed" and status["error"] == "internal error; upload the file again"
    assert jobs.run_import(created) == "skipped"  # a retried job leaves a finished import alone


def test_reimport_keeps_computed_tags_and_changes_nothing(session):
    from app.intake import tags

    tenant = TenantFactory()
    db.scope_to_tenant(tenant.id)
    lines = "name,lat,lng,tags,source_id\n" + "".join(
        f"沙县小吃({road}),30.2{i},120.1,夜宵;小吃,s{i}\n" for i, road in enumerate(("文三路", "解放路", "延安路"))
    )
    assert import_csv(io.StringIO(lines), tenant.id).inserted == 3
    assert tags.compute(tenant.id) == 3
    session.commit()
    again = import_csv(io.StringIO(lines), tenant.id)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    db.session.expire_all()
    assert {tuple(m.tags) for m in session.scalars(select(Merchant).where(Merchant.tenant_id == tenant.id))} == {
        ("multi_store", "夜宵", "小吃")
    }
