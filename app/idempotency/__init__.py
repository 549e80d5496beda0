"""Retry-safe writes: the ``Idempotency-Key`` of every POST, its stored answer and its replay."""
