"""Settings: GRIDGOV_ variables, and secrets generated once and kept under var/."""

from __future__ import annotations

import base64
import stat

from gridgov.core.config import Settings


def test_defaults_put_the_database_and_keys_under_var(tmp_path, monkeypatch):
    monkeypatch.delenv("GRIDGOV_DATABASE_URL", raising=False)
    var = tmp_path / "var"
    s = Settings(var_dir=var)
    assert s.resolved_database_url == f"sqlite:///{(var / 'gridgov.db').resolve()}"
    secret = s.resolved_secret_key
    data_key = base64.b64decode(s.resolved_data_key)
    assert len(secret) >= 40 and len(data_key) == 32
    for name in ("secret.key", "data.key"):
        mode = stat.S_IMODE((var / name).stat().st_mode)
        assert mode == 0o600, oct(mode)
    again = Settings(var_dir=var)
    assert again.resolved_secret_key == secret  # kept, not regenerated
    assert base64.b64decode(again.resolved_data_key) == data_key


def test_environment_variables_win(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("GRIDGOV_SECRET_KEY", "from-env")
    monkeypatch.setenv("GRIDGOV_TILE_URL", "http://tiles.intranet/{z}/{x}/{y}.png")
    monkeypatch.setenv("GRIDGOV_DEFAULT_LANGUAGE", "en")
    s = Settings(var_dir=tmp_path)
    assert s.resolved_database_url == "postgresql+psycopg://u@h/db"
    assert s.resolved_secret_key == "from-env"
    assert s.tile_url.startswith("http://tiles.intranet/")
    assert s.default_language == "en"
    assert not (tmp_path / "secret.key").exists()
