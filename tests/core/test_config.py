"""Settings: GRIDGOV_ variables, and secrets generated once and kept under var/."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys

import pytest
from pydantic import ValidationError

from gridgov.core.config import Settings, settings_problems


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


# --- settings that cannot be read ---

def test_the_command_names_each_bad_variable_and_its_rule_without_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDGOV_")}
    env.update(GRIDGOV_VAR_DIR=str(tmp_path / "var"), GRIDGOV_KEEPALIVE_REQUESTS="abc",
               GRIDGOV_TIMEZONE="Asia/Shangha", GRIDGOV_OFFICE_HOURS="8-12", GRIDGOV_DEFAULT_LANGUAGE="fr",
               GRIDGOV_AUTH_CACHE_SECONDS="100", GRIDGOV_LOG_JSON="perhaps")
    done = subprocess.run([sys.executable, "-m", "gridgov.cli", "migrate"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "配置有误" in done.stderr
    lines = {line.strip().split("：")[0]: line.strip() for line in done.stderr.splitlines() if "：" in line}
    assert "须为整数" in lines["GRIDGOV_KEEPALIVE_REQUESTS"] and "'abc'" in lines["GRIDGOV_KEEPALIVE_REQUESTS"]
    assert "IANA" in lines["GRIDGOV_TIMEZONE"]
    assert "HH:MM-HH:MM" in lines["GRIDGOV_OFFICE_HOURS"]
    assert "'zh' or 'en'" in lines["GRIDGOV_DEFAULT_LANGUAGE"]
    assert "不能大于 60" in lines["GRIDGOV_AUTH_CACHE_SECONDS"]
    assert "true 或 false" in lines["GRIDGOV_LOG_JSON"]
    assert not (tmp_path / "var").exists()  # refused before anything was made


def test_a_secret_that_cannot_be_read_is_not_repeated(tmp_path):
    with pytest.raises(ValidationError) as caught:
        Settings(var_dir=tmp_path, secret_key=["s3cret-value"], keepalive_requests="x")
    problems = settings_problems(caught.value)
    assert [p.split("：")[0] for p in problems] == ["GRIDGOV_SECRET_KEY", "GRIDGOV_KEEPALIVE_REQUESTS"]
    assert "s3cret-value" not in " ".join(problems) and "'x'" in problems[1]


def test_time_zones_and_office_hours_are_checked_when_read(tmp_path):
    ok = Settings(var_dir=tmp_path, timezone="Asia/Urumqi", office_hours="09:00-12:00,13:30-17:30")
    assert (ok.timezone, ok.office_hours) == ("Asia/Urumqi", "09:00-12:00,13:30-17:30")
    for bad in ({"timezone": "Beijing"}, {"office_hours": "14:00-18:00,08:00-12:00"}, {"office_hours": ""}):
        with pytest.raises(ValidationError):
            Settings(var_dir=tmp_path, **bad)
