from __future__ import annotations

import pytest

from app.config import (
    DEFAULT_UPLOAD_DIR,
    DEV_SECRET,
    Config,
    UnsafeProductionSettings,
    _env_optional_int,
    check_production_safety,
    production_problems,
)


@pytest.fixture
def service_account(tmp_path, monkeypatch):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    path = tmp_path / "service-account.json"
    path.write_text("{}")
    return str(path)


def safe(service_account: str, **overrides: object) -> Config:
    settings = {
        "ENV": "production",
        "SECRET_KEY": "s" * 40,
        "JWT_SECRET_KEY": "j" * 40,
        "PUSH_BACKEND": "fcm",
        "FCM_ENDPOINT": "",
        "FCM_CREDENTIALS_FILE": service_account,
        "UPLOAD_DIR": "/srv/fieldsales/uploads",
        "CORS_ORIGINS": "https://admin.example.com",
        "METRICS_TOKEN": "m" * 40,
    }
    settings.update(overrides)
    return Config(**settings)


def test_production_refuses_default_or_short_secrets(service_account):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        check_production_safety(safe(service_account, SECRET_KEY=DEV_SECRET))
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        check_production_safety(safe(service_account, JWT_SECRET_KEY="short"))
    check_production_safety(safe(service_account))


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"FCM_ENDPOINT": "http://127.0.0.1:9099"}, "FCM_ENDPOINT"),
        ({"FCM_ENDPOINT": "http://localhost:9099"}, "FCM_ENDPOINT"),
        ({"FCM_ENDPOINT": "http://[::1]:9099"}, "FCM_ENDPOINT"),
        ({"PUSH_BACKEND": "recording"}, "PUSH_BACKEND"),
        ({"FCM_CREDENTIALS_FILE": ""}, "FCM_CREDENTIALS_FILE"),
        ({"FCM_CREDENTIALS_FILE": "/nowhere/sa.json"}, "FCM_CREDENTIALS_FILE"),
        ({"UPLOAD_DIR": DEFAULT_UPLOAD_DIR}, "UPLOAD_DIR"),
        ({"PHOTO_STORAGE": "s3", "PHOTO_S3_BUCKET": ""}, "PHOTO_S3_BUCKET"),
        ({"PHOTO_STORAGE": "ftp"}, "PHOTO_STORAGE"),
        ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "https://admin.example.com, https://*.example.com"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "admin.example.com"}, "CORS_ORIGINS"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN"),
    ],
)
def test_each_refusal_names_its_setting(service_account, overrides, setting):
    config = safe(service_account, **overrides)
    problems = production_problems(config)
    assert len(problems) == 1 and problems[0].startswith(setting), problems
    with pytest.raises(UnsafeProductionSettings, match=setting):
        check_production_safety(config)


def test_photos_in_a_bucket_need_no_upload_directory(service_account):
    on_s3 = safe(service_account, UPLOAD_DIR=DEFAULT_UPLOAD_DIR, PHOTO_STORAGE="s3", PHOTO_S3_BUCKET="fieldsales")
    assert production_problems(on_s3) == []


def test_application_default_credentials_are_accepted(service_account, monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", service_account)
    assert production_problems(safe(service_account, FCM_CREDENTIALS_FILE="")) == []
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    assert production_problems(safe(service_account, FCM_CREDENTIALS_FILE="")) == [
        f"GOOGLE_APPLICATION_CREDENTIALS names no readable file ({tmp_path / 'missing.json'})"
    ]


def test_every_problem_is_reported_at_once():
    problems = production_problems(Config(ENV="production", SECRET_KEY=DEV_SECRET, JWT_SECRET_KEY=DEV_SECRET))
    named = {problem.split()[0] for problem in problems}
    assert {"SECRET_KEY", "JWT_SECRET_KEY", "FCM_ENDPOINT", "UPLOAD_DIR"} <= named


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
