"""URL converters: ids that fit the database, so a huge or malformed id is a 404, never a 500."""

from __future__ import annotations

from werkzeug.routing import BaseConverter, ValidationError

MAX_BIGINT = 2**63 - 1


class IdConverter(BaseConverter):
    regex = r"[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= MAX_BIGINT:
            raise ValidationError()
        return number

    def to_url(self, value: int) -> str:
        return str(value)
