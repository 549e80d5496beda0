"""Extension singletons, bound to the app in create_app()."""

from __future__ import annotations

from flask_compress import Compress

from app.api import Api, IdempotencyPlugin
from app.operation_ids import OperationIdPlugin
from app.spec_components import SharedComponentsPlugin

api = Api(spec_kwargs={"extra_plugins": [OperationIdPlugin(), IdempotencyPlugin(), SharedComponentsPlugin()]})

# Compression is opted into per view (@compress.compressed()): only answers big enough to matter, such as
# offline sync, spend the CPU; every other answer is a few hundred bytes.
compress = Compress()
