"""Settings, read from `GRIDGOV_*` environment variables (or a `.env` file).

Secrets that are not given are generated once and kept under `var/` with owner-only
permissions, so a fresh machine works with no set-up and a restart keeps sessions and
encrypted data readable. They are never written into the repository.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KEEP_DAYS_MAX = 3650  # ten years: far beyond any need, and short of overflowing a date
_KEPT = {  # what a keep-days setting keeps, for its error message
    "outbox_keep_days": ("已发送的通知在发件箱中保留多久",
                         "how long a delivered notification stays in the outbox before it is deleted"),
    "inbox_keep_days": ("站内通知读过后保留多久", "how long an in-app notice is kept after it was read"),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDGOV_", env_file=".env", extra="ignore")

    var_dir: Path = Field(default=Path("var"), description="Where the SQLite file and generated keys live.")
    database_url: str = Field(default="", description="SQLAlchemy URL; default is a SQLite file under var/.")
    secret_key: SecretStr | None = Field(default=None, description="Signs CSRF tokens; generated when unset.")
    data_key: SecretStr | None = Field(
        default=None, description="Personal-data key (AES-GCM, base64 of 32 bytes); generated when unset."
    )
    tile_url: str = Field(default="", description="Leaflet tile URL template; blank base layer when unset.")
    tile_attribution: str = ""
    default_language: Literal["zh", "en"] = "zh"
    login_max_failures: int = Field(default=5, ge=1)
    login_lock_minutes: int = Field(default=15, ge=1)
    session_hours: int = Field(default=12, ge=1)
    token_hours: int = Field(default=12, ge=1)
    auth_cache_seconds: float = Field(
        default=2.0, ge=0, le=60, description="How long a process remembers who a token belongs to (0: ask the "
        "database on every request). A token revoked or a user changed in another process is honoured by this "
        "one within that time; in the same process at once.")
    cookie_secure: bool = False
    timezone: str = Field(default="Asia/Shanghai", description="Where working time is counted.")
    office_hours: str = Field(default="08:00-12:00,14:00-18:00",
                              description="Working hours of a working day, comma-separated HH:MM-HH:MM spans.")
    webhook_url: str = Field(default="", description="SMS/WeChat gateway webhook for notifications; off when unset.")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret that signs every webhook call (X-GridGov-Signature: HMAC-SHA256 "
        "of the X-GridGov-Timestamp value, a dot and the body), so the gateway can refuse calls not from here.")
    demo_cases: int = Field(default=3000, ge=0, description="How many past cases `gridgov demo` generates.")
    demo_residents: int = Field(default=30000, ge=0, description="About how many residents `gridgov demo` generates "
                                "(with their houses, tags, visits and services); 0 for none.")
    import_files_days: int = Field(default=7, ge=1, le=365, description="Days an import's error workbook is kept "
                                   "(it holds the bad rows as uploaded, personal data in the clear).")
    outbox_keep_days: int = Field(
        default=30, description="Days a delivered (sent) notification is kept in the outbox, then deleted by the "
        "hourly job notify.prune_outbox; 1 to 3650. Messages still waiting and those given up (until an "
        "administrator sends them again) are never deleted by age, nor the in-app notices users read.")
    inbox_keep_days: int = Field(
        default=365, description="Days an in-app notice is kept after it was read, then deleted by the hourly job "
        "notify.prune_inbox; 1 to 3650. Unread notices are never deleted by age.")
    missing_radius_m: int = Field(default=2000, ge=100, le=50000,
                                  description="Default search radius (m) of a missing-person report.")
    missing_police_department: str = Field(default="GAJ", description="Code of the police department alerted.")
    worker_in_process: bool = Field(default=True,
                                    description="Run background jobs inside `gridgov serve` (the embedded default).")
    warm_up: bool = Field(default=True, description="Load the word segmenter and the grid and catalog indexes when "
                          "the server starts (in the background), not when the first report comes in.")
    keepalive_requests: int = Field(
        default=100, ge=0, description="About how many requests a keep-alive connection serves before the server "
        "closes it (0: never). With `serve --workers`, a connection stays with the worker that accepted it; "
        "recycling connections lets the kernel spread them again, so one worker is not left with all of them.")
    log_json: bool = True
    log_level: str = "INFO"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        # Checked here, not at the first deadline a case needs: that would fail a grid worker's report.
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("须为已知的 IANA 时区名，如 Asia/Shanghai / must be a known IANA time zone, such as "
                             "Asia/Shanghai") from None
        return name

    @field_validator("office_hours")
    @classmethod
    def _readable_office_hours(cls, text: str) -> str:
        from gridgov.workcal.calendar import parse_office_hours

        try:
            parse_office_hours(text)
        except ValueError as exc:
            raise ValueError(f"{exc}（如 08:00-12:00,14:00-18:00）/ working hours as comma-separated HH:MM-HH:MM "
                             f"spans in order, such as 08:00-12:00,14:00-18:00") from None
        return text

    @field_validator("outbox_keep_days", "inbox_keep_days")
    @classmethod
    def _keep_days_in_range(cls, days: int, info) -> int:
        # 0 is refused rather than guessed at: to some it reads "delete at once", to others "keep for ever".
        if not 1 <= days <= KEEP_DAYS_MAX:
            zh, en = _KEPT[info.field_name]
            raise ValueError(f"须为 1 到 {KEEP_DAYS_MAX} 之间的天数（{zh}；0 不表示永久保留，要长期保留请给一个"
                             f"大数）/ must be a number of days from 1 to {KEEP_DAYS_MAX}: {en} (0 does not mean "
                             f"'for ever': to keep them long, give a large number)")
        return days

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.var_dir / 'gridgov.db').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key.get_secret_value()
        return _kept_secret(self.var_dir / "secret.key", lambda: secrets.token_urlsafe(48))

    @cached_property
    def resolved_data_key(self) -> str:
        if self.data_key:
            return self.data_key.get_secret_value()
        import base64

        return _kept_secret(
            self.var_dir / "data.key", lambda: base64.b64encode(secrets.token_bytes(32)).decode()
        )


def _kept_secret(path: Path, make) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    # O_EXCL: two processes starting at once must agree on one key, not overwrite each other.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


# pydantic's error types → the rule in Chinese / English, with the limits pydantic gives in `ctx`.
_RULES = {
    "int_parsing": ("须为整数", "must be a whole number"),
    "int_from_float": ("须为整数", "must be a whole number"),
    "float_parsing": ("须为数字", "must be a number"),
    "bool_parsing": ("须为 true 或 false", "must be true or false"),
    "greater_than_equal": ("不能小于 {ge}", "must be at least {ge}"),
    "greater_than": ("须大于 {gt}", "must be more than {gt}"),
    "less_than_equal": ("不能大于 {le}", "must be at most {le}"),
    "less_than": ("须小于 {lt}", "must be less than {lt}"),
    "literal_error": ("须为以下之一：{expected}", "must be one of: {expected}"),
}
_SECRET_SETTINGS = {"secret_key", "data_key", "webhook_secret"}


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per setting `Settings()` refused: the environment variable, the rule it broke (in
    Chinese, then English) and what it was given, unless it is a secret. For the command line,
    which would otherwise show pydantic's traceback."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else ""
        name = f"GRIDGOV_{field.upper()}" if field else "GRIDGOV_*"
        ctx = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
        if error["type"] == "value_error":
            rule = ctx.get("error", error["msg"])
        elif error["type"] in _RULES:
            zh, en = _RULES[error["type"]]
            rule = f"{zh.format(**ctx)} / {en.format(**ctx)}"
        else:
            rule = error["msg"]
        given = "" if field in _SECRET_SETTINGS or "input" not in error else f"（收到 / got {error['input']!r}）"
        lines.append(f"{name}：{rule}{given}")
    return lines
