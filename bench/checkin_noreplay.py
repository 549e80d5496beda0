"""Our app without the idempotency replay lookup: the B side of bench/checkin.py's HTTP A/B comparison.

    gunicorn -c gunicorn.conf.py bench.checkin_noreplay:app

Exactly ``wsgi:app``, except that ``app.visits.service._replay`` (the SELECT of an earlier visit by the
BD and Idempotency-Key, run first in every check-in) answers "no earlier visit" without asking the
database. With a fresh key per request, as in the benchmark, the result is identical; only the lookup's
cost is gone. The unique index and its ``ON CONFLICT`` stay (the INSERT needs them), so that part of
the idempotency cost is measured in process instead. Never serve this: replays would create visits.
"""

from __future__ import annotations

from typing import Any

from app.visits import service
from wsgi import app  # noqa: F401 - what gunicorn serves


def _no_replay(user: Any, key: str, fingerprint: str) -> None:
    return None


service._replay = _no_replay
