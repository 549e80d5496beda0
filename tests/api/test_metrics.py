"""GET /metrics: bearer-token protected Prometheus text, and the counters move with the work done.

In-process (one registry); the multiprocess mode across gunicorn workers and RQ work horses is
tests/integration/test_metrics_multiprocess.py.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, SimpleWorker
from sqlalchemy import update

from app import clock
from app.devices import push
from app.leads.jobs import sweep_due_leads
from app.org.models import Role
from app.outbox import service as outbox
from app.outbox.models import OutboxMessage
from app.worker import MeasuredSimpleWorker
from tests.factories import MerchantFactory, TenantFactory, UserFactory, auth_headers

TOKEN = "metrics-token-for-the-tests-0123456789"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def metrics_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before, after, name, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_metrics_are_off_without_a_token_and_refused_with_a_wrong_one(client, app, monkeypatch):
    assert client.get("/metrics").status_code == 404
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert refused.status_code == 401 and refused.json["error_code"] == "UNAUTHORIZED"
    assert client.get("/metrics", headers=SCRAPE).status_code == 200


def test_requests_statements_and_detail_cache_move_their_counters(client, session, metrics_on):
    tenant = TenantFactory()
    ops = auth_headers(UserFactory(tenant=tenant, role=Role.OPS))
    shop = MerchantFactory(tenant=tenant)
    session.commit()
    detail = "/api/v1/merchants/<id:merchant_id>"
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/v1/readyz").status_code == 200
    assert client.get("/api/v1/nowhere").status_code == 404
    assert client.get(f"/api/v1/merchants/{shop.id}", headers=ops).status_code == 200
    assert client.get(f"/api/v1/merchants/{shop.id}", headers=ops).status_code == 200
    after = scrape(client)

    def moved(name, **labels):
        return delta(before, after, name, **labels)

    assert moved("fieldsales_http_requests_total", method="GET", route="/api/v1/readyz", status="200") == 3
    assert moved("fieldsales_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert moved("fieldsales_http_request_duration_seconds_count", method="GET", route="/api/v1/readyz") == 3
    assert moved("fieldsales_http_request_duration_seconds_bucket", method="GET", route=detail, le="+Inf") == 2
    # readyz runs one query (plus the test transaction's savepoint), detail several
    per_readyz = moved("fieldsales_db_statements_per_request_sum", route="/api/v1/readyz") / 3
    assert per_readyz >= 1
    assert moved("fieldsales_db_statements_per_request_count", route=detail) == 2
    assert moved("fieldsales_db_statements_per_request_sum", route=detail) / 2 > per_readyz
    assert moved("fieldsales_cache_lookups_total", cache="merchant_detail", result="miss") == 1
    assert moved("fieldsales_cache_lookups_total", cache="merchant_detail", result="hit") == 1
    assert ("fieldsales_db_pool_checkout_wait_seconds_count", ()) in after
    assert ("fieldsales_db_pool_checked_out", ()) in after


def test_queue_depth_outbox_lag_and_jobs_by_function(client, session, redis_client, metrics_on):
    message = outbox.enqueue_after_commit("tests.jobs.remember", value="measured")
    outbox.enqueue_after_commit("tests.jobs.explode", value="measured")
    session.commit()
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(created_at=clock.now() - timedelta(minutes=10))
    )
    session.commit()
    before = scrape(client)
    assert value(before, "fieldsales_rq_queue_depth", queue="default") == 2
    assert value(before, "fieldsales_outbox_pending") == 2
    assert value(before, "fieldsales_outbox_lag_seconds") >= 600

    MeasuredSimpleWorker([Queue("default", connection=redis_client)], connection=redis_client).work(burst=True)
    after = scrape(client)
    assert value(after, "fieldsales_rq_queue_depth", queue="default") == 0
    assert value(after, "fieldsales_rq_failed_jobs", queue="default") == 1
    assert value(after, "fieldsales_outbox_pending") == 1  # the exploding job's row stays pending
    for function, failed in (("tests.jobs.remember", 0), ("tests.jobs.explode", 1)):
        labels = {"function": function, "queue": "default"}
        assert delta(before, after, "fieldsales_jobs_started_total", **labels) == 1
        assert delta(before, after, "fieldsales_jobs_failed_total", **labels) == failed
        assert delta(before, after, "fieldsales_job_duration_seconds_count", **labels) == 1


def test_lead_sweep_records_its_run(client, session, metrics_on):
    before = scrape(client)
    sweep_due_leads()
    after = scrape(client)
    assert value(after, "fieldsales_lead_sweep_duration_seconds_count") == (
        value(before, "fieldsales_lead_sweep_duration_seconds_count") + 1
    )
    assert value(after, "fieldsales_lead_sweep_last_success_timestamp_seconds") >= clock.now().timestamp() - 60


def test_push_outcomes_are_counted_by_status_and_error_code(client, app, session, metrics_on, monkeypatch):
    monkeypatch.setitem(app.config, "PUSH_BACKEND", "recording")
    user = UserFactory(role=Role.BD)
    token = "metrics-phone-token:APA91b" + "m" * 40
    response = client.post("/api/v1/devices", json={"token": token, "platform": "android"}, headers=auth_headers(user))
    assert response.status_code == 200
    before = scrape(client)
    message = {
        "title": "Visit",
        "body": "Visit the shop",
        "data": {"type": "task", "id": "1", "deep_link": "fieldsales://tasks/1"},
        "collapse_key": "m",
    }
    outcome = push.deliver(
        tenant_id=user.tenant_id,
        users=[user.id],
        message=message,
        attempt=1,
        device_ids=None,
        log_fields=lambda _device: {},
        retry=lambda _delay, _ids: None,
    )
    assert outcome == {"sent": 1}
    after = scrape(client)
    assert delta(before, after, "fieldsales_push_outcomes_total", status="sent", error_code="none") == 1


def test_import_rows_are_counted(client, session, redis_client, metrics_on):
    ops = UserFactory(role=Role.OPS)
    csv = "name,lat,lon\nNoodles,30.2459,120.1811\nCoffee,30.2570,120.1640\n,30.25,120.17\n"
    before = scrape(client)
    response = client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(csv.encode()), "shops.csv")},
        content_type="multipart/form-data",
        headers=auth_headers(ops),
    )
    assert response.status_code == 202, response.json
    SimpleWorker([Queue("default", connection=redis_client)], connection=redis_client).work(burst=True)
    after = scrape(client)
    assert delta(before, after, "fieldsales_import_rows_total") == 3  # the rejected row was processed too
    assert value(after, "fieldsales_import_last_rows_per_second") > 0
