"""Exports: CSV/XLSX at once, the size limit, jobs with progress and a signed URL, scopes and masked phones."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from rq import Queue, SimpleWorker

from app import clock
from app.merchants.models import Lead, LeadState
from app.visits.models import Visit
from tests.factories import MerchantFactory, auth_headers, make_org, point

PHONE = "13812345678"


@pytest.fixture
def world(session):
    org = make_org()
    tenant = org["tenant"]
    mine = MerchantFactory(tenant=tenant, name="bd1 的店", phone=PHONE, city="杭州市", tags=["price_disadvantage"])
    theirs = MerchantFactory(tenant=tenant, name="outsider's", phone=PHONE, city="杭州市")
    public = MerchantFactory(tenant=tenant, name="public", phone=PHONE, city="宁波市")
    session.add(
        Lead(
            merchant_id=mine.id,
            tenant_id=tenant.id,
            state=LeadState.PRIVATE,
            owner_id=org["bd1"].id,
            claimed_at=clock.now(),
            drops_at=clock.now() + timedelta(days=5),
            drop_reason="no_visit",
        )
    )
    session.add(
        Lead(
            merchant_id=theirs.id,
            tenant_id=tenant.id,
            state=LeadState.PRIVATE,
            owner_id=org["outsider"].id,
            claimed_at=clock.now(),
            drops_at=clock.now() + timedelta(days=9),
            drop_reason="no_visit",
        )
    )
    MerchantFactory(phone=PHONE)  # another business line's
    session.commit()
    return {**org, "mine": mine, "theirs": theirs, "public": public}


def csv_rows(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def export(client, user, kind, **query):
    return client.get(f"/api/v1/exports/{kind}", query_string=query, headers=auth_headers(user))


def test_merchant_csv_masks_phones_like_the_api(client, world):
    by_bd = {row["name"]: row for row in csv_rows(export(client, world["bd1"], "merchants"))}
    assert set(by_bd) == {"bd1 的店", "outsider's", "public"}  # the business line's merchants, not another's
    assert by_bd["bd1 的店"]["phone"] == PHONE  # the owner sees the full number
    assert by_bd["outsider's"]["phone"] == by_bd["public"]["phone"] == "138****5678"
    # the owner's manager sees their BD's lead in full, not the other team's
    by_manager = {row["name"]: row for row in csv_rows(export(client, world["manager"], "merchants"))}
    assert (by_manager["bd1 的店"]["phone"], by_manager["outsider's"]["phone"]) == (PHONE, "138****5678")
    by_ops = csv_rows(export(client, world["ops"], "merchants", city="杭州市", tags="price_disadvantage"))
    assert [(row["name"], row["phone"], row["tags"]) for row in by_ops] == [("bd1 的店", PHONE, "price_disadvantage")]


def test_xlsx_of_team_leads_in_the_managers_subtree(client, world):
    response = export(client, world["manager"], "team_leads", format="xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    header, *rows = list(sheet.values)
    names = [
        dict(zip(header, row, strict=True)).get("merchant.name") or dict(zip(header, row, strict=True)).get("name")
        for row in rows
    ]
    assert names == ["bd1 的店"]  # the outsider's lead is another subtree's
    # BDs export no team data; another tenant's campaign is not found
    assert export(client, world["bd1"], "kpis").status_code == 403
    assert export(client, world["stranger"], "campaign_results", campaign_id=1).status_code in (404, 422)


def test_campaign_results_and_kpis_export(client, world):
    ops = world["ops"]
    campaign = client.post(
        "/api/v1/campaigns",
        json={"name": "c", "filter": {"pool_state": "private"}, "template": {"kind": "visit", "title": "Go"}},
        headers=auth_headers(ops),
    ).json
    client.post(f"/api/v1/campaigns/{campaign['id']}/launch", headers=auth_headers(ops))
    rows = csv_rows(export(client, ops, "campaign_results", campaign_id=campaign["id"], group_by="city"))
    assert [(row["key"], row["assigned"]) for row in rows] == [("杭州市", "2")]
    refused = export(client, world["other_manager"], "campaign_results", campaign_id=campaign["id"])
    assert refused.status_code == 404 and refused.json["error_code"] == "CAMPAIGN_NOT_FOUND"
    assert export(client, ops, "kpis", format="xlsx", period="month").status_code == 200


def test_visits_with_form_answers_in_the_viewers_scope(client, world, session):
    visit = Visit(
        tenant_id=world["tenant"].id,
        merchant_id=world["mine"].id,
        user_id=world["bd1"].id,
        idempotency_key="export-visit-1",
        request_hash="x",
        client_time=clock.now(),
        location=point(30.26, 120.16),
        verified=True,
        notes="talked to the owner",
        form_answers=[{"form": "competitor", "version": 1, "stage": "check_out", "answers": {"price": 88}}],
    )
    session.add(visit)
    session.commit()
    rows = csv_rows(export(client, world["manager"], "visits"))
    assert [(row["merchant_name"], row["form.competitor.price"], row["verified"]) for row in rows] == [
        ("bd1 的店", "88", "True")
    ]
    assert csv_rows(export(client, world["other_manager"], "visits")) == []  # not their people
    assert len(csv_rows(export(client, world["bd1"], "visits"))) == 1  # a BD: their own


def test_too_large_at_once_runs_as_a_job_with_a_signed_url(client, app, world, redis_client):
    app.config["EXPORT_INLINE_ROWS"] = 2
    try:
        too_large = export(client, world["ops"], "merchants")
        assert too_large.status_code == 413
        assert (too_large.json["error_code"], too_large.json["max_rows"]) == ("EXPORT_TOO_LARGE", 2)
        started = client.post(
            "/api/v1/exports", json={"kind": "merchants", "format": "csv"}, headers=auth_headers(world["bd1"])
        )
        assert started.status_code == 202 and started.json["status"] == "queued", started.json
        SimpleWorker([Queue("default", connection=redis_client)], connection=redis_client).work(burst=True)
        status = client.get(f"/api/v1/exports/{started.json['id']}", headers=auth_headers(world["bd1"])).json
        assert (status["status"], status["rows_total"], status["progress"]) == ("done", 3, 1.0)
        # the signed URL needs no bearer token, and the phones are masked as for its requester
        rows = csv_rows(client.get(status["download_url"]))
        assert {row["name"]: row["phone"] for row in rows}["outsider's"] == "138****5678"
        tampered = client.get(status["download_url"].replace("signature=", "signature=x"))
        assert tampered.status_code == 404 and tampered.json["error_code"] == "EXPORT_URL_INVALID"
        garbled = client.get(status["download_url"].split("signature=")[0] + "signature=%F4%83%BF%AF")
        assert garbled.status_code == 422
        # a job is its requester's
        other = client.get(f"/api/v1/exports/{started.json['id']}", headers=auth_headers(world["manager"]))
        assert other.status_code == 404 and other.json["error_code"] == "EXPORT_NOT_FOUND"
    finally:
        app.config["EXPORT_INLINE_ROWS"] = 5000
