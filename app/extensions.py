"""Extension singletons, bound to the app in create_app()."""

from __future__ import annotations

from flask_compress import Compress

from app.api import Api
from app.operation_ids import OperationIdPlugin

api = Api(spec_kwargs={"extra_plugins": [OperationIdPlugin()]})

# Compression is opted into per view (@compress.compressed()): only answers big enough to matter, such as
# offline sync, spend the CPU; every other answer is a few hundred bytes.
compress = Compress()
