"""Extension singletons, bound to the app in create_app()."""

from __future__ import annotations

from app.api import Api

api = Api()
