"""Our app without the shared idempotency mechanism: the B side of bench/checkin.py's HTTP A/B comparison.

    gunicorn -c gunicorn.conf.py bench.checkin_noreplay:app

Exactly ``wsgi:app``, except that ``app.idempotency.service.guarded`` (the fingerprint, the claim of the
Idempotency-Key and the storing of the answer, run in every keyed POST) just runs the view. With a fresh key
per request, as in the benchmark, the result is identical; only the mechanism's cost is gone. The visit's
own unique index on its key and its ``ON CONFLICT`` stay (the INSERT needs them), so that part of the
idempotency cost is measured in process instead. Never serve this: replays would create visits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.idempotency import service
from wsgi import app  # noqa: F401 - what gunicorn serves


def _run_the_view(tenant_id: int, user_id: int, view: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return view(*args, **kwargs)


service.guarded = _run_the_view
