"""Configuration: production refuses to start without secrets; embedded keeps its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, build_config


def test_production_refuses_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "AUDIT_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY, AUDIT_KEY, DATABASE_URL"):
        build_config("production")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("AUDIT_KEY", "short")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db/infirmary")
    with pytest.raises(ConfigError, match="at least 32"):
        build_config("production")
    monkeypatch.setenv("AUDIT_KEY", "a" * 40)
    config = build_config("production")
    assert config["SESSION_COOKIE_SECURE"] is True


def test_embedded_generates_secrets_once_and_reuses_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "AUDIT_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    first = build_config("embedded", INSTANCE_PATH=tmp_path)
    second = build_config("embedded", INSTANCE_PATH=tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["AUDIT_KEY"]) == 64
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'infirmary.sqlite3'}"
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0
    assert first["SESSION_COOKIE_SECURE"] is False


def test_environment_sets_hospital_and_session_lengths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSPITAL_NAME", "St Elsewhere")
    monkeypatch.setenv("HOSPITAL_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "5")
    config = build_config("test")
    assert (config["HOSPITAL_NAME"], config["HOSPITAL_TIMEZONE"], config["SESSION_IDLE_MINUTES"]) == (
        "St Elsewhere", "Asia/Tokyo", 5)


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigError):
        build_config("staging")
