"""Extension singletons, bound to the app in create_app()."""

from __future__ import annotations

from flask_jwt_extended import JWTManager
from flask_migrate import Migrate

from app.api import Api

api = Api()
jwt = JWTManager()
migrate = Migrate()
