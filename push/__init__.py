"""Push notifications to the mobile apps through Firebase Cloud Messaging (FCM).

Modules:

* ``push.messages``: builds the ``firebase_admin.messaging`` messages of a push (pure).
* ``push.policy``: what to do with each per-token result: the retry/delete/disable policy (pure).
* ``push.fcm``: sends with the real firebase-admin SDK; ``configure()`` is the one place that points
  the SDK at a non-Google endpoint (the local server) and picks the credential.
* ``push.backend``: the ``PushBackend`` protocol, ``FcmBackend`` and the in-memory ``RecordingBackend``.
* ``push.fcm_server``: a local FCM-compatible HTTP server (``python -m push.fcm_server``), the
  development push target, with fault injection for tests and demos.

The package imports no Flask and no ``app`` code, so workers, scripts and tests can use it alone. This
``__init__`` imports nothing itself: ``python -m push.fcm_server`` must not pay for loading the SDK.
"""
