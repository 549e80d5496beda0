"""Extension singletons, bound to the app in create_app()."""

from __future__ import annotations

from app.api import Api, IdempotencyPlugin
from app.operation_ids import OperationIdPlugin

api = Api(spec_kwargs={"extra_plugins": [OperationIdPlugin(), IdempotencyPlugin()]})
