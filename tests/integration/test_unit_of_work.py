"""One owner per transaction: a request or a job commits once, at its edge; services only flush."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import db
from app.errors import LeadTaken, RefreshTokenReused
from tests.factories import MerchantFactory, auth_headers, make_org

APP = Path(__file__).resolve().parents[2] / "app"


def test_a_commit_inside_a_unit_of_work_is_refused(session):
    with pytest.raises(db.CommitInsideUnitOfWork), db.atomic():
        session.commit()


def test_commit_chunk_is_refused_inside_a_unit_of_work(session):
    with pytest.raises(db.CommitInsideUnitOfWork), db.atomic():
        db.commit_chunk()


@pytest.fixture
def commits():
    """Every session commit while the test runs (requests replace the thread's session)."""
    seen: list[Session] = []

    def count(db_session: Session) -> None:
        seen.append(db_session)

    event.listen(Session, "after_commit", count)
    yield seen
    event.remove(Session, "after_commit", count)


def test_nested_units_join_the_outer_one(session, commits):
    with db.atomic(), db.atomic():
        pass
    assert len(commits) == 1


def test_an_error_discards_the_unit_and_its_after_commit_hooks(session):
    ran = []
    with pytest.raises(LeadTaken), db.atomic():
        db.on_commit(lambda: ran.append(1))
        raise LeadTaken()
    with db.atomic():
        pass
    assert ran == []


def test_an_error_that_keeps_changes_commits_them(session):
    ran = []
    with pytest.raises(RefreshTokenReused), db.atomic():
        db.on_commit(lambda: ran.append(1))
        raise RefreshTokenReused()
    assert ran == [1]


def test_a_job_joins_the_unit_of_work_it_is_called_in(session):
    @db.job
    def job() -> bool:
        return session.info.get("in_atomic", False)

    with db.atomic():
        assert job() is True
        assert session.info.get("in_atomic")  # the job did not end the outer unit


def test_a_write_request_commits_once(client, session, commits):
    org = make_org()
    shop = MerchantFactory(tenant=org["tenant"])
    headers = auth_headers(org["bd1"])
    commits.clear()
    response = client.post(f"/api/v1/leads/{shop.id}/claim", headers=headers)
    assert response.status_code == 200, response.json
    assert len(commits) == 1


def test_a_service_that_commits_fails_its_request(app, client, session, monkeypatch):
    """The guard is armed inside every request: a service that committed would turn the request into a 500."""
    from app.leads import service

    org = make_org()
    shop = MerchantFactory(tenant=org["tenant"])
    real_touch = service.touch

    def committing_touch(*ids: int) -> None:
        real_touch(*ids)
        db.session.commit()

    monkeypatch.setattr(service, "touch", committing_touch)
    response = client.post(f"/api/v1/leads/{shop.id}/claim", headers=auth_headers(org["bd1"]))
    assert response.status_code == 500


def _commit_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"
    ]


def test_no_module_but_db_commits():
    offenders = {
        str(path.relative_to(APP)): lines
        for path in APP.rglob("*.py")
        if path.name != "db.py" and (lines := _commit_calls(path))
    }
    assert offenders == {}, "services flush; db.atomic() (requests, jobs) and db.commit_chunk() commit"
