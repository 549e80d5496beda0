"""Fuzzing every operation of the OpenAPI spec with schemathesis, in-process through the WSGI app.

Shared by the quick run in the test suite (``tests/api/test_fuzz.py``) and the long run (``scripts/fuzz``).
Each operation is driven as each role with positive data (valid per the spec, so it reaches the business
rules) and negative data (invalid, so it exercises validation); every response must be a non-5xx that
matches the documented status codes and schemas. Failures are collected instead of raised so one bad
operation does not hide the others, and so hypothesis does not spend the budget shrinking.
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
                f"    {case.as_curl_command(headers=sent)}\n    {response.text[:300]}"
            )

    try:
        run()
    except Unsatisfiable:
        pass  # negative mode on an operation without inputs: nothing to make invalid
