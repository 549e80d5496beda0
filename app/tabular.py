"""What every tabular file import reports: rows loaded, rows rejected (with their line and reason).

Merchant imports (``app.intake``) and sales/competitor imports (``app.sales``) share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_REJECTS_KEPT = 1000


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    matched: int = 0  # rows that matched a merchant already there (another source's): it was updated
    rejected: list[tuple[int, str]] = field(default_factory=list)
    rejected_count: int = 0
    matches: list[dict[str, Any]] = field(default_factory=list)
    kept: int = 0  # merchant imports: values a person corrected that the file would have overwritten

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def reject(self, line: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REJECTS_KEPT:
            self.rejected.append((line, reason))


class UnreadableFile(ValueError):
    """The file as a whole cannot be imported (no header, missing required columns)."""


# A cell a spreadsheet would run as a formula (CSV/XLSX injection): `=HYPERLINK(...)`, `+1+cmd|...`, `@SUM(...)`.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A value for a CSV/XLSX export: text that a spreadsheet would evaluate gets a leading apostrophe.

    Numbers stay numbers (a negative amount is not a formula); only text is neutralised, as OWASP advises.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
