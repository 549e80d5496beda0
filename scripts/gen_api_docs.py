"""Regenerate mobile_api_docs/openapi.json from the running code (``make docs``).

A test fails when the committed file differs from what the code generates, so the published spec
can never drift from the API.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPEC_PATH = ROOT / "mobile_api_docs" / "openapi.json"


def render_spec(app=None) -> str:
    if app is None:
        from app.factory import create_app

        app = create_app()
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    return json.dumps(spec, indent=2, ensure_ascii=False, sort_keys=True, default=_number) + "\n"


def _number(value):
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def main() -> None:
    SPEC_PATH.write_text(render_spec(), encoding="utf-8")
    print(f"wrote {SPEC_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
