from __future__ import annotations

import pytest

from app.config import DEV_SECRET, Config, _env_optional_int, check_production_safety


def test_production_refuses_default_or_short_secrets():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        check_production_safety(Config(ENV="production", SECRET_KEY=DEV_SECRET, JWT_SECRET_KEY="x" * 40))
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        check_production_safety(Config(ENV="production", SECRET_KEY="s" * 40, JWT_SECRET_KEY="short"))
    check_production_safety(Config(ENV="production", SECRET_KEY="s" * 40, JWT_SECRET_KEY="j" * 40))


def test_development_accepts_the_default_secret():
    check_production_safety(Config(ENV="development", SECRET_KEY=DEV_SECRET))


def test_prepare_threshold_takes_a_number_or_none(monkeypatch):
    monkeypatch.delenv("DB_PREPARE_THRESHOLD", raising=False)
    assert _env_optional_int("DB_PREPARE_THRESHOLD", 5) == 5
    for never in ("none", "None", "off", ""):
        monkeypatch.setenv("DB_PREPARE_THRESHOLD", never)
        assert _env_optional_int("DB_PREPARE_THRESHOLD", 5) is None
    monkeypatch.setenv("DB_PREPARE_THRESHOLD", "0")
    assert _env_optional_int("DB_PREPARE_THRESHOLD", 5) == 0
