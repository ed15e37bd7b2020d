"""Settings: environment variables, the generated secret key, and the matcher settings derived from them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from api.config import BUNDLED_MAP, Settings, get_settings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVAC_DATABASE_URL", raising=False)
    assert get_settings().database_url == "sqlite:///./evac.db" and get_settings().map == BUNDLED_MAP
    monkeypatch.setenv("EVAC_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("EVAC_TIME_LIMIT_SECONDS", "3")
    settings = get_settings()
    assert not settings.is_sqlite and settings.matcher().time_limit_seconds == 3


def test_secret_key_is_generated_once_beside_the_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'evac.db'}")
    key = settings.resolve_secret()
    key_file = tmp_path / "evac.db.secret"
    assert len(key) >= 32 and key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Settings(database_url=f"sqlite:///{tmp_path / 'evac.db'}").resolve_secret() == key


def test_postgresql_needs_a_given_secret() -> None:
    with pytest.raises(RuntimeError, match="EVAC_SECRET_KEY"):
        Settings(database_url="postgresql+psycopg://u@h/db").resolve_secret()
    assert Settings(database_url="postgresql+psycopg://u@h/db", secret_key="k" * 40).resolve_secret() == "k" * 40
