from __future__ import annotations

import pytest

from app.config import DEV_SECRET, Config, check_production_safety


def test_production_refuses_default_or_short_secrets():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        check_production_safety(Config(ENV="production", SECRET_KEY=DEV_SECRET, JWT_SECRET_KEY="x" * 40))
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        check_production_safety(Config(ENV="production", SECRET_KEY="s" * 40, JWT_SECRET_KEY="short"))
    check_production_safety(Config(ENV="production", SECRET_KEY="s" * 40, JWT_SECRET_KEY="j" * 40))


def test_development_accepts_the_default_secret():
    check_production_safety(Config(ENV="development", SECRET_KEY=DEV_SECRET))
