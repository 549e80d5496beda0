"""Every write retry-safe: a POST sent with an ``Idempotency-Key`` has its effect once, however often it is sent.

The app retries a write whose answer it did not get (a tunnel, a lift, a dead cell) with the same key. The first
request's answer (status, headers, body) is stored under the key, per user, for ``IDEMPOTENCY_KEY_TTL_HOURS``;
a retry gets that answer again with ``Idempotent-Replayed: true`` and changes nothing. The same key with
another request is ``409 IDEMPOTENCY_KEY_REUSED``.

One mechanism for every POST of a signed-in caller: ``auth.security.login_required`` hands the view to
:func:`guarded` once the caller is known, so a POST added later is covered without doing anything.
``NOT_IDEMPOTENT`` lists the POSTs that are not, each with its reason.

The answer is stored in the request's own transaction, the one ``db.unit_of_work`` commits at the edge:
the key is claimed (a row inserted) before the view runs and the answer written into that row after it, so
the effect and its answer commit together or not at all. A request that fails rolls both back, so only what
a view returned is ever stored, and a failed request can simply be sent again.

Concurrent requests with one key: each takes a transaction-level advisory lock on the key before inserting,
held until its transaction ends. The first takes it at once; the others wait for it (at most
``IDEMPOTENCY_WAIT_SECONDS``, via ``lock_timeout``) and then find the committed answer and replay it, or, if
the first failed, run themselves. Past the wait: ``409 IDEMPOTENCY_IN_PROGRESS`` with ``Retry-After``. The
uncontended path costs two statements: the claim (lock and insert in one) and the answer's UPDATE.

Our own code rather than a library: Flask-Idempotent, the Flask extension for this, keeps its lock and the
stored answer in Redis, which cannot commit atomically with an effect in PostgreSQL (a crash between the two
leaves one without the other); here the record is a row next to the effect, in its transaction. The header's
name and meaning follow the IETF draft (draft-ietf-httpapi-idempotency-key-header); the error codes are ours.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import orjson
import psycopg.errors
from flask import Response, current_app, request
from sqlalchemy import delete, text
from sqlalchemy.exc import DBAPIError

from app import clock, db
from app.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidIdempotencyKey
from app.idempotency.models import IdempotencyKey

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MIN_LENGTH, KEY_MAX_LENGTH = 8, 120
# visible ASCII: a UUID, a ULID or any token the app makes; no spaces (two keys joined by a proxy are refused)
KEY_PATTERN = re.compile(rf"[\x21-\x7e]{{{KEY_MIN_LENGTH},{KEY_MAX_LENGTH}}}")

# The POSTs that ignore the header, and why. Everything else that is POSTed by a signed-in caller honours it.
NOT_IDEMPOTENT: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/auth/login"): "no caller yet to key on; a retried sign-in only opens another session",
    ("POST", "/api/v1/auth/refresh"): (
        "no access token to key on; its answer is a token pair, which is never stored; rotation detects reuse"
    ),
    ("POST", "/api/v1/auth/logout"): (
        "idempotent by nature: once it succeeded, the session is gone and a retry is 401 TOKEN_REVOKED"
    ),
    ("POST", "/api/v1/public/onboarding"): (
        "anonymous, no caller to key on; a resubmission links to the merchant it matches, limited per phone"
    ),
}

# Headers of the first answer that are not replayed: recomputed, or said anew on every answer.
_NOT_STORED = frozenset({"content-length", REPLAYED_HEADER.lower()})

# Claim the key: take its advisory lock without waiting and, if it was free, insert the record (or take over an
# expired one the purge has not deleted yet). Free but no id: an earlier request answered the key. Not free:
# a request with this key is running.
_CLAIM = text(
    """
    WITH free AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(:lock_id) AS free),
    claimed AS (
        INSERT INTO idempotency_keys AS k (tenant_id, user_id, key, request_hash, expires_at)
        SELECT :tenant_id, :user_id, :key, :request_hash, :expires_at FROM free WHERE free.free
        ON CONFLICT (tenant_id, user_id, key) DO UPDATE
            SET request_hash = excluded.request_hash, expires_at = excluded.expires_at, created_at = now(),
                status = NULL, headers = NULL, body = NULL
            WHERE k.expires_at <= :now
        RETURNING k.id
    )
    SELECT free.free, (SELECT id FROM claimed) AS id FROM free
    """
)
_WAIT_AT_MOST = text("SELECT set_config('lock_timeout', :timeout, true)")
_WAIT_FOR_KEY = text("SELECT pg_advisory_xact_lock(:lock_id)")
_STOP_WAITING = text("RESET lock_timeout")
_STORED = text(
    "SELECT request_hash, status, headers, body FROM idempotency_keys "
    "WHERE tenant_id = :tenant_id AND user_id = :user_id AND key = :key"
)
_STORE = text("UPDATE idempotency_keys SET status = :status, headers = :headers, body = :body WHERE id = :id")


def guarded(tenant_id: int, user_id: int, view: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run ``view`` for the signed-in caller, once per ``Idempotency-Key``: a retry gets the stored answer."""
    key = request.headers.get(KEY_HEADER)
    if key is None or request.method != "POST" or _not_idempotent():
        return view(*args, **kwargs)
    if KEY_PATTERN.fullmatch(key) is None:
        raise InvalidIdempotencyKey(
            errors={"headers": {KEY_HEADER: [f"{KEY_MIN_LENGTH} to {KEY_MAX_LENGTH} visible ASCII characters."]}}
        )
    request_hash = fingerprint()
    record_id = _claim(tenant_id, user_id, key, request_hash)
    if record_id is None:
        return _replay(tenant_id, user_id, key, request_hash)
    try:
        response = current_app.make_response(view(*args, **kwargs))
    except BaseException as exc:
        if getattr(exc, "keeps_changes", False):
            # the unit of work commits what the view did, but there is no answer to store: free the key
            db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record_id))
        raise
    _store(record_id, response)
    response.headers.setdefault(REPLAYED_HEADER, "false")
    return response


def _store(record_id: int, response: Response) -> None:
    """Write the answer into the key's record, in the transaction of the effect."""
    headers = [[name, value] for name, value in response.headers.items() if name.lower() not in _NOT_STORED]
    db.session.execute(
        _STORE,
        {
            "id": record_id,
            "status": response.status_code,
            "headers": orjson.dumps(headers).decode(),
            "body": response.get_data(),
        },
    )


def fingerprint() -> str:
    """What identifies the request: method, path, query and body (JSON compared by value, files by content)."""
    digest = hashlib.sha256(f"{request.method} {request.path}?".encode())
    digest.update(request.query_string)
    digest.update(b"\n")
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # a multipart body's boundary is random: an app that rebuilds the request sends other bytes
        for name, values in sorted(request.form.lists()):
            digest.update(orjson.dumps([name, values]))
        for name, files in sorted(request.files.lists()):
            for file in files:
                digest.update(orjson.dumps([name, file.filename, file.mimetype]))
                file.stream.seek(0)
                digest.update(hashlib.file_digest(file.stream, "sha256").digest())
                file.stream.seek(0)
        return digest.hexdigest()
    data = request.get_data(cache=True)
    if data and request.is_json:
        try:
            # the same JSON whatever the order of its keys and its spacing
            data = orjson.dumps(orjson.loads(data), option=orjson.OPT_SORT_KEYS)
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):
            pass  # not JSON we can normalise (the view refuses it): the bytes themselves
    digest.update(data)
    return digest.hexdigest()


def _lock_id(tenant_id: int, user_id: int, key: str) -> int:
    """The key's advisory lock (a signed 64-bit number); a rare collision only makes one request wait."""
    return int.from_bytes(hashlib.sha256(f"{tenant_id}:{user_id}:{key}".encode()).digest()[:8], "big", signed=True)


def _claim(tenant_id: int, user_id: int, key: str, request_hash: str) -> int | None:
    """The id of the key's record, claimed for this request; ``None`` if an earlier request answered it."""
    now = clock.now()
    ttl = timedelta(hours=current_app.config["IDEMPOTENCY_KEY_TTL_HOURS"])
    params = {
        "lock_id": _lock_id(tenant_id, user_id, key),
        "tenant_id": tenant_id,
        "user_id": user_id,
        "key": key,
        "request_hash": request_hash,
        "expires_at": now + ttl,
        "now": now,
    }
    free, record_id = db.session.execute(_CLAIM, params).one()
    if free:
        return record_id
    # A request with this key is running: wait until it ends (its answer committed, or its effect rolled back).
    wait_s = current_app.config["IDEMPOTENCY_WAIT_SECONDS"]
    try:
        # at least 1 ms: PostgreSQL reads a lock_timeout of 0 as "wait for ever"
        db.session.execute(_WAIT_AT_MOST, {"timeout": f"{max(1, int(wait_s * 1000))}ms"})
        db.session.execute(_WAIT_FOR_KEY, {"lock_id": params["lock_id"]})
    except DBAPIError as exc:
        if isinstance(exc.orig, psycopg.errors.LockNotAvailable):
            raise IdempotencyInProgress(retry_after=1) from exc
        raise
    db.session.execute(_STOP_WAITING)
    # the lock is ours now: claim again, which succeeds unless the other request stored an answer
    _free, record_id = db.session.execute(_CLAIM, {**params, "now": clock.now()}).one()
    return record_id


def _replay(tenant_id: int, user_id: int, key: str, request_hash: str) -> Response:
    stored = db.session.execute(_STORED, {"tenant_id": tenant_id, "user_id": user_id, "key": key}).one()
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReused()
    if stored.status is None:  # pragma: no cover - a record is never committed without its answer
        raise IdempotencyInProgress(retry_after=1)
    response = current_app.response_class(stored.body, status=stored.status, headers=stored.headers)
    response.headers[REPLAYED_HEADER] = "true"
    return response


@cache
def _spec_path(rule: str) -> str:
    """A Flask rule as the spec writes its path: ``/leads/<id:merchant_id>`` -> ``/leads/{merchant_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _not_idempotent() -> bool:
    rule = request.url_rule
    return rule is not None and (request.method, _spec_path(rule.rule)) in NOT_IDEMPOTENT


@db.job
def purge_expired_keys(now: datetime | None = None) -> int:
    """Delete the keys past their lifetime (a periodic job); returns how many."""
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or clock.now())))
    return result.rowcount
