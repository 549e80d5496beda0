"""The configured push backend, built once per configuration (the firebase-admin App is long-lived).

``PUSH_BACKEND=fcm`` (default) sends with firebase-admin: to ``FCM_ENDPOINT`` (the local FCM-compatible
server, ``python -m push.fcm_server``, in development) or, with ``FCM_ENDPOINT`` empty and a service-account
``FCM_CREDENTIALS_FILE``, to Google. ``PUSH_BACKEND=recording`` keeps pushes in memory.
"""

from __future__ import annotations

import hashlib
import threading

from flask import current_app

from push.backend import PushBackend, make_backend

_lock = threading.Lock()
_backends: dict[tuple[str, ...], PushBackend] = {}


def backend() -> PushBackend:
    config = current_app.config
    key = (config["PUSH_BACKEND"], config["FCM_PROJECT_ID"], config["FCM_ENDPOINT"], config["FCM_CREDENTIALS_FILE"])
    with _lock:
        if key not in _backends:
            kind, project_id, endpoint, credentials = key
            name = "fieldsales-" + hashlib.sha256("|".join(key).encode()).hexdigest()[:12]
            _backends[key] = make_backend(
                kind,
                project_id=project_id,
                endpoint=endpoint or None,
                credentials_file=credentials or None,
                app_name=name,
            )
        return _backends[key]
