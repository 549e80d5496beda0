"""The error catalogue (app/errors.py) is the one source of error codes."""

from __future__ import annotations

import ast
import json
from http import HTTPStatus
from pathlib import Path

from app import errors
from app.errors import AppError, ErrorCode, catalogue

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_is_one_class_of_the_catalogue_module():
    classes = catalogue()
    assert len({cls.error_code for cls in classes}) == len(classes)
    assert all(cls.__module__ == errors.__name__ for cls in classes)
    assert {cls.error_code for cls in classes} == {code.value for code in ErrorCode}
    for cls in classes:
        assert 400 <= HTTPStatus(cls.status).value < 600, cls
        assert cls.error_code.isupper() and " " not in cls.error_code
        assert cls.message.endswith((".", "?")) and cls.when(), cls


def test_merged_near_twins_are_gone():
    codes = {code.value for code in ErrorCode}
    assert "UNKNOWN_PHOTO" not in codes and "UNKNOWN_PHOTOS" in codes
    assert "FILE_TOO_LARGE" not in codes and "PAYLOAD_TOO_LARGE" in codes


def test_no_error_code_is_written_outside_the_catalogue():
    """Domains raise catalogue classes; a string code in a call or a (status, code, text) triple is refused."""
    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and any(k.arg in ("error_code", "status") for k in node.keywords):
                if (
                    isinstance(node.func, ast.Name)
                    and isinstance(getattr(errors, node.func.id, None), type)
                    and issubclass(getattr(errors, node.func.id), AppError)
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if (
                isinstance(node, ast.Tuple)
                and len(node.elts) == 3
                and isinstance(node.elts[0], ast.Constant)
                and isinstance(node.elts[0].value, int)
                and 400 <= node.elts[0].value < 600
                and isinstance(node.elts[1], ast.Constant)
                and isinstance(node.elts[1].value, str)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_spec_lists_the_catalogue_and_documents_only_its_codes():
    spec = json.loads((ROOT / "mobile_api_docs" / "openapi.json").read_text(encoding="utf-8"))
    error_code = spec["components"]["schemas"]["Error"]["properties"]["error_code"]
    assert error_code["allOf"] == [{"$ref": "#/components/schemas/ErrorCode"}]  # one shared enum
    enum = spec["components"]["schemas"]["ErrorCode"]["enum"]
    assert set(enum) == {code.value for code in ErrorCode}
    documented = set()
    for item in spec["paths"].values():
        for operation in item.values():
            for status, response in (operation.get("responses", {}) if isinstance(operation, dict) else {}).items():
                for example in (response.get("content", {}).get("application/json", {}).get("examples") or {}).values():
                    value = example["value"]
                    if isinstance(value, dict) and "error_code" in value:
                        assert value["code"] == int(status)
                        documented.add(value["error_code"])
    assert documented <= set(enum)
    assert len(documented) > 50
