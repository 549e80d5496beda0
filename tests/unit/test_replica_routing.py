"""Which statements a read may send to a replica, and how a replica's lag is told from the primary's WAL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, delete, insert, select, text, update

from app.db import _writes
from app.org.models import User
from app.replicas import ReplicaSet


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        (select(User.id), False),
        (select(User.id).with_for_update(), True),
        (insert(User), True),
        (update(User), True),
        (delete(User), True),
        (text("SELECT m.id, m.updated_at FROM merchants m WHERE m.id = :id"), False),
        (text("\n  WITH x AS (SELECT 1) SELECT * FROM x"), False),
        (text("SELECT id FROM merchants WHERE id = :id FOR UPDATE"), True),
        (text("SELECT id FROM leads FOR NO KEY UPDATE SKIP LOCKED"), True),
        (text("WITH moved AS (UPDATE leads SET state = 'public' RETURNING 1) SELECT count(*) FROM moved"), True),
        (text("SELECT pg_advisory_xact_lock(1)"), True),
        (text("SELECT nextval('merchants_id_seq')"), True),
        (text("UPDATE leads SET merchant_id = :survivor"), True),
        (text("SELECT set_config('enable_nestloop', 'off', true)"), False),
        (None, False),  # session.connection(): a read's precompiled statement
    ],
)
def test_statements_that_write_or_lock_go_to_the_primary(statement, writes):
    assert _writes(statement) is writes


def _replica_set() -> ReplicaSet:
    engine = create_engine("postgresql+psycopg://127.0.0.1:1/none")  # never connected
    return ReplicaSet(primary=engine, replicas=[], max_lag_ms=1000, check_interval_ms=100)


def test_lag_is_the_time_since_the_primary_first_had_unreplayed_wal():
    replicas = _replica_set()
    replicas._note_primary_lsn(10.0, 100)
    replicas._note_primary_lsn(10.5, 100)  # idle primary: the time 100 was first seen is kept
    replicas._note_primary_lsn(11.0, 200)
    replicas._note_primary_lsn(12.0, 300)
    assert replicas._lag_ms(12.5, 300) == 0  # has everything
    assert replicas._lag_ms(12.5, 250) == 500  # 300 arrived at 12.0
    assert replicas._lag_ms(12.5, 150) == 1500  # 200 arrived at 11.0
    assert replicas._lag_ms(12.5, 100) == 1500
    # behind the oldest known position: by how much is unknown, so never within the limit
    assert replicas._lag_ms(12.5, 50) == float("inf")


def test_positions_past_the_remembered_window_are_dropped_but_one():
    replicas = _replica_set()
    window_s = replicas.remember_ms / 1000
    for second in range(5):
        replicas._note_primary_lsn(float(second), 100 * (second + 1))
    replicas._note_primary_lsn(4 + window_s + 0.5, 1000)
    # 0..4 are older than the window: only the newest of them stays, as the floor
    assert replicas._lsns == [500, 1000]
    assert replicas._lag_ms(4 + window_s + 1, 450) > window_s * 1000


def test_words_inside_literals_and_comments_do_not_make_a_read_a_write():
    from app.db import _text_reads_only

    assert _text_reads_only("SELECT count(*) FILTER (WHERE a.kind = 'call') FROM activities a")
    assert _text_reads_only("-- update the counts\nSELECT 1")
    assert _text_reads_only('SELECT "delete" FROM t /* insert */')
    assert not _text_reads_only("SELECT 'x'; DELETE FROM t")
    assert not _text_reads_only("SELECT id FROM leads WHERE note = 'it''s' FOR UPDATE")
