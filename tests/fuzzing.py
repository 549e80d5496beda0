"""Fuzzing every operation of the OpenAPI spec with schemathesis, in-process through the WSGI app.

Shared by the quick run in the test suite (``tests/api/test_fuzz.py``) and the long run (``scripts/fuzz``).
Each operation is driven as each role with positive data (valid per the spec, so it reaches the business
rules) and negative data (invalid, so it exercises validation); every response must be a non-5xx that
matches the documented status codes and schemas. Failures are collected instead of raised so one bad
operation does not hide the others, and so hypothesis does not spend the budget shrinking.

``fuzz_hostile`` adds what schemathesis does not generate (strategies in ``tests/strategies.py``): forged
cursors on every operation with a ``cursor`` parameter, JSON nested thousands of levels deep and strings with
lone surrogates in every JSON body. Each must be a 4xx with the error JSON, never a 5xx nor a 2xx.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import pagination
from app.api import DEPTH_MESSAGE, SURROGATE_MESSAGE
from tests.strategies import deeply_nested_json, forged_cursors, signed_cursors, with_lone_surrogate

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass
class FuzzReport:
    requests: int = 0
    seconds: float = 0.0
    statuses: collections.Counter = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    error_codes: collections.Counter = field(default_factory=collections.Counter)
    operations: int = 0

    def summary(self) -> str:
        by_class = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{self.requests} requests over {self.operations} operation/role pairs in {self.seconds:.1f} s; "
            f"responses {by_class}; failures: {len(self.failures)}"
        )


def load_schema(app: Flask) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def fuzz(
    app: Flask,
    headers_by_role: dict[str, dict[str, str]],
    *,
    max_examples: int,
    path_parameters: dict[str, Any] | None = None,
    modes: Iterable[GenerationMode] = MODES,
) -> FuzzReport:
    """Fuzz every operation as every role (``headers_by_role``: each role's Authorization header)."""
    schema = load_schema(app)
    report = FuzzReport()
    started = time.perf_counter()
    # Signing out revokes the role's token: that operation goes last.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()), key=lambda op: op.path.endswith("/auth/logout")
    )
    for role, headers in headers_by_role.items():
        for operation in operations:
            report.operations += 1
            params = {k: v for k, v in (path_parameters or {}).items() if k in _path_names(operation)}
            for mode in modes:
                _fuzz_operation(operation, mode, role, headers, params, max_examples, report)
    report.seconds = time.perf_counter() - started
    return report


def _path_names(operation: Any) -> set[str]:
    return {p.name for p in operation.path_parameters}


def _fuzz_operation(operation, mode, role, headers, params, max_examples, report):
    # Half the cases use real ids from the fixture so requests get past the 404s into the business rules.
    strategies = [operation.as_strategy(generation_mode=mode)]
    if params and mode == GenerationMode.POSITIVE:
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=params))

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        sent = dict(headers)
        # A generated Authorization header would test nothing but the 401 path; keep the role's token.
        if case.headers:
            case.headers.pop("Authorization", None)
        try:
            response = case.call(headers=sent)
        except Exception as exc:
            report.failures.append(f"{role} {operation.label} [{mode.value}]: raised {exc!r}")
            return
        report.requests += 1
        report.statuses[f"{response.status_code // 100}xx"] += 1
        if response.status_code >= 400:
            try:
                report.error_codes[response.json().get("error_code", "?")] += 1
            except ValueError:
                report.error_codes["<not json>"] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=sent)
        except (Exception, BaseExceptionGroup) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            report.failures.append(
                f"{role} {operation.label} [{mode.value}] -> {response.status_code}: {first_line}\n"
                f"    {case.as_curl_command(headers=sent)}\n    {response.text_lossy()[:300]}"
            )

    try:
        run()
    except Unsatisfiable:
        pass  # negative mode on an operation without inputs: nothing to make invalid


# --- hostile input

JSON = "application/json"


def fuzz_hostile(
    app: Flask,
    headers_by_role: dict[str, dict[str, str]],
    *,
    max_examples: int,
    path_parameters: dict[str, Any] | None = None,
) -> FuzzReport:
    """Forged cursors, deeply nested JSON and lone surrogates on every operation that takes them, each sent as
    the first role of ``headers_by_role`` that may call the operation (what is checked here comes after the
    role check; call it inside an app context: genuinely signed cursors are among the forged ones).

    Every answer must be a documented non-5xx with the error JSON (an ``error_code``), and never a 2xx: a
    cursor the service did not sign, a body too deep and a body with a lone surrogate are always refused
    (the last two by the edge check, with its message, when the caller gets that far).
    """
    schema = load_schema(app)
    report = FuzzReport()
    started = time.perf_counter()
    operations = [
        op
        for op in sorted((result.ok() for result in schema.get_all_operations()), key=lambda op: op.label)
        if not op.path.endswith("/auth/logout")
    ]
    signed = signed_cursors(pagination.sign)  # signs with the SECRET_KEY of the app context the caller pushed
    for operation in operations:
        params = {k: v for k, v in (path_parameters or {}).items() if k in _path_names(operation)}
        takes_cursor = "cursor" in {p.name for p in operation.query}
        takes_json = JSON in {body.media_type for body in operation.body}
        if not (takes_cursor or takes_json):
            continue
        report.operations += 1
        hostile = []
        if takes_cursor:
            hostile += [forged_cursors().map(lambda c: ("cursor", c)), signed.map(lambda c: ("signed", c))]
        if takes_json:
            hostile += [deeply_nested_json().map(lambda b: ("deep", b)), st.just(("surrogate", None))]
        for role, headers in headers_by_role.items():
            if _hostile_operation(operation, role, headers, params, st.one_of(hostile), max_examples, report):
                break
        else:
            report.failures.append(f"{operation.label}: no role may call it, nothing was tested")
    report.seconds = time.perf_counter() - started
    return report


class _Refused(Exception):
    """The role may not call the operation: more examples would test nothing but its 403."""


def _hostile_operation(operation, role, headers, params, hostile, max_examples, report) -> bool:
    """Whether the role may call the operation (then it was fuzzed; failures go to ``report``)."""
    media = {"media_type": JSON} if operation.body else {}
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=params or None, **media)

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, attack=hostile, data=st.data())
    def run(case: Any, attack: tuple[str, Any], data: st.DataObject) -> None:
        kind, value = attack
        if case.headers:
            case.headers.pop("Authorization", None)
        extra: dict[str, Any] = {}
        if kind in ("cursor", "signed"):
            case.query = {**(case.query or {}), "cursor": value}
            sent = value
        else:
            body = case.body if isinstance(case.body, dict | list) else {}
            sent = value if kind == "deep" else data.draw(with_lone_surrogate(body))
            extra["data"] = sent.encode()
        label = f"{role} {operation.label} [{kind}]"
        try:
            response = case.call(headers=dict(headers), **extra)
        except Exception as exc:
            report.failures.append(f"{label}: raised {exc!r}")
            return
        report.requests += 1
        report.statuses[f"{response.status_code // 100}xx"] += 1
        problem = _hostile_problem(kind, response)
        if problem is None:
            try:
                case.validate_response(response, checks=CHECKS, headers=dict(headers))
            except (Exception, BaseExceptionGroup) as exc:
                problem = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        if problem:
            report.failures.append(
                f"{label} -> {response.status_code}: {problem}\n    sent {sent[:200]!r}\n    {response.text[:300]}"
            )
        elif response.status_code >= 400:
            report.error_codes[response.json()["error_code"]] += 1
            if response.json()["error_code"] == "FORBIDDEN":
                raise _Refused

    try:
        run()
    except _Refused:
        return False
    return True


def _hostile_problem(kind: str, response: Any) -> str | None:
    status = response.status_code
    if status >= 500:
        return "a server error"
    if status < 400:
        # a genuinely signed payload can be a valid cursor (the audit queue's fingerprint is fixed)
        return None if kind == "signed" else "accepted"
    try:
        body = response.json()
    except ValueError:
        return "an error that is not JSON"
    if not isinstance(body, dict) or not body.get("error_code") or body.get("code") != status:
        return "not the error shape"
    expected = {"deep": DEPTH_MESSAGE, "surrogate": SURROGATE_MESSAGE}.get(kind)
    if expected and status == 422 and body.get("errors") != {"json": {"_schema": [expected]}}:
        return f"a 422 that is not the edge check's ({expected!r})"
    return None
