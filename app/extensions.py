"""Extension singletons, bound to the app in create_app()."""

from __future__ import annotations

from app.api import Api, IdempotencyPlugin
from app.operation_ids import OperationIdPlugin
from app.spec_components import SharedComponentsPlugin

api = Api(spec_kwargs={"extra_plugins": [OperationIdPlugin(), IdempotencyPlugin(), SharedComponentsPlugin()]})
