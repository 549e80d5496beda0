"""Sentry error reports (SENTRY_DSN) from the API and from RQ jobs reach a local fake Sentry endpoint, tagged
with the request id, and carry no phone numbers, tokens or passwords."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from rq import Queue

from app import error_reporting
from app.outbox import service as outbox
from app.web import request_id
from app.worker import MeasuredSimpleWorker

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMiLCJ0aWQiOjF9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
FCM_TOKEN = "bd1_phone-token:APA91b" + "x" * 40
SECRETS = ("13812345678", "138-1234-5678", "1234 5678", JWT, FCM_TOKEN, "hunter2")


class FakeSentry(BaseHTTPRequestHandler):
    """Sentry's envelope endpoint: keeps every event it is sent."""

    events: list[dict] = []
    raw: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.raw.append(body)
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2]):
            if json.loads(header).get("type") == "event":
                self.events.append(json.loads(payload))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args):
        pass


@pytest.fixture
def reported(app, monkeypatch):
    FakeSentry.events = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSentry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "SENTRY_DSN", f"http://publickey@127.0.0.1:{server.server_port}/42")
    assert error_reporting.init(app.config)
    try:
        yield FakeSentry.events
    finally:
        sentry_sdk.init()  # reporting off again for the tests that follow
        server.shutdown()
        server.server_close()


def sent(events) -> str:
    sentry_sdk.flush(timeout=10)
    assert events, f"nothing reached the fake Sentry {FakeSentry.raw[:1]}"
    return json.dumps(events)


def test_without_a_dsn_nothing_is_reported(app):
    assert error_reporting.init({"SENTRY_DSN": ""}) is False


def test_an_api_error_is_reported_with_its_request_id_and_without_personal_data(client, reported):
    response = client.get(
        "/api/v1/_test/boom?phone=13812345678",
        headers={"X-Request-ID": "sentry-request-0001", "Authorization": f"Bearer {JWT}"},
    )
    assert response.status_code == 500
    text = sent(reported)
    event = next(e for e in reported if e.get("tags", {}).get("request_id") == "sentry-request-0001")
    assert "secret internals" in json.dumps(event)  # the error itself is there
    for secret in SECRETS:
        assert secret not in text, secret
    assert error_reporting.FILTERED in text


def test_a_failing_job_is_reported_with_the_request_id_that_caused_it(session, redis_client, reported):
    with request_id.bind("sentry-job-000001"):
        outbox.enqueue_after_commit("tests.jobs.explode", value=f"call +86 138-1234-5678, device {FCM_TOKEN}")
        session.commit()
    MeasuredSimpleWorker([Queue("default", connection=redis_client)], connection=redis_client).work(burst=True)
    text = sent(reported)
    tagged = [e for e in reported if e.get("tags", {}).get("request_id") == "sentry-job-000001"]
    assert tagged and any("job failed for" in json.dumps(e) for e in tagged)
    for secret in SECRETS:
        assert secret not in text, secret


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("call 13812345678 now", "call [Filtered] now"),
        ("+86 138 1234 5678", "[Filtered]"),
        ("on 2026-12-03 at 20:15, merchant 1234567", "on 2026-12-03 at 20:15, merchant 1234567"),
        (f"Authorization: Bearer {JWT}", "Authorization: [Filtered]"),
        ("password=hunter2 at /srv/app.py line 42", "[Filtered] at /srv/app.py line 42"),
    ],
)
def test_free_text_loses_phones_and_tokens_only(text, kept):
    assert error_reporting.scrub_text(text) == kept
