"""The ``alerts`` mapping of the site configuration file ``<config_dir>/config.yaml``.

Example::

    alerts:
      bed_wait_min: 30          # alert when a manual printer's bed waits for clearing longer than this
      retry_s: 30               # first retry delay when a channel is down (doubles, at most 1 h)
      smtp: {host: smtp.hospital.lan, port: 587, starttls: true, sender: hospfab@hospital.lan,
             username: hospfab, password_env: HOSPFAB_SMTP_PASSWORD, ca_file: /etc/ssl/hospital-ca.pem}
      channels:
        - {id: webhook-1, type: webhook, target: https://chat.hospital.lan/hooks/abc}
        - {id: email-1, type: email, target: nightshift@hospital.lan}
        - {id: command-1, type: command, target: /usr/local/bin/page-oncall}

Only this module reads or writes the file's ``alerts`` key; every other key is kept as it is. Writes are atomic
and the file is mode 0600 (a webhook URL is a secret). Passwords are never stored: only the variable naming them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hospfab.errors import ConfigError, InputError, NotFoundError
from hospfab.fileio import atomic_write_text, describe_validation_error, read_yaml_mapping

CONFIG_FILE = "config.yaml"
KINDS = ("webhook", "email", "command")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$")


class Channel(BaseModel):
    """One place alerts go."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Short unique name, e.g. webhook-1 (used by `alerts remove`).")
    type: Literal["webhook", "email", "command"] = Field(description="webhook, email or command.")
    target: str = Field(description="The URL, the e-mail address, or the command line.")

    @field_validator("target")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @model_validator(mode="after")
    def _valid_webhook(self) -> Channel:
        problem = webhook_problem(self.target) if self.type == "webhook" else None
        if problem:
            raise ValueError(f"webhook {shown_target(self.type, self.target)}: {problem}")
        return self

    def shown(self) -> str:
        """The target as safe to print (see :func:`shown_target`)."""
        return str(shown_target(self.type, self.target))


MAX_WEBHOOK_CHARS = 2048


def webhook_problem(url: str) -> str | None:
    """Why ``url`` cannot be a webhook (None when it can): an http(s) URL with a host, printable ASCII without
    spaces, at most MAX_WEBHOOK_CHARS long (longer or malformed URLs make the HTTP library raise at send time)."""
    if len(url) > MAX_WEBHOOK_CHARS:
        return f"longer than {MAX_WEBHOOK_CHARS} characters"
    if any(not 0x21 <= ord(ch) <= 0x7E for ch in url):
        return "must be printable ASCII, without spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http:// or https:// URL"
    return None


def shown_target(kind: Any, target: Any) -> Any:
    """A channel's target as safe to print: a webhook URL keeps only scheme and host (its path, query and
    user info may be the secret)."""
    if kind == "webhook" and isinstance(target, str):
        try:
            parts = urlsplit(target)
            port = parts.port
        except ValueError:
            return "***"
        return f"{parts.scheme}://{parts.hostname}{':' + str(port) if port else ''}/…"
    return target


def shown_alerts(raw: Any) -> Any:
    """The raw ``alerts`` mapping of the site configuration as safe to print (``hospfab config show``): every
    channel's target through :func:`shown_target`, other secrets masked."""
    from hospfab.settings import mask_secrets

    if isinstance(raw, dict) and isinstance(raw.get("channels"), list):
        raw = {**raw, "channels": [
            {**c, "target": shown_target(c.get("type"), c.get("target"))} if isinstance(c, dict) else c
            for c in raw["channels"]]}
    return mask_secrets(raw)


class Smtp(BaseModel):
    """The SMTP server e-mail alerts go through."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("localhost", description="SMTP server host name.")
    port: int = Field(25, ge=1, le=65535, description="SMTP port (587 with STARTTLS, usually).")
    starttls: bool = Field(False, description="Upgrade the connection with STARTTLS (certificate verified).")
    ca_file: str | None = Field(None, description="CA certificates (PEM) to verify the server with, e.g. a site CA.")
    sender: str = Field("hospfab@localhost", description="From address.")
    username: str | None = Field(None, description="Login name, if the server needs one.")
    password_env: str | None = Field(None, description="Environment variable holding the password.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Seconds to wait for the server.")

    def password(self) -> str | None:
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(f"alerts.smtp.password_env: environment variable {self.password_env} is not set")
        return value


class AlertsConfig(BaseModel):
    """The ``alerts`` mapping."""

    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(default_factory=list)
    smtp: Smtp = Field(default_factory=Smtp)
    bed_wait_min: float = Field(30.0, gt=0, le=24 * 60, description="Minutes a bed may wait for clearing.")
    retry_s: float = Field(30.0, gt=0, le=3600, description="First retry delay when a channel is down.")
    max_attempts: int = Field(20, ge=1, le=1000, description="Attempts per alert and channel before giving up.")

    def channel(self, ident: str) -> Channel:
        for channel in self.channels:
            if channel.id == ident:
                return channel
        known = ", ".join(c.id for c in self.channels) or "none"
        raise NotFoundError(f"alert channel {ident}: not configured (known: {known})")


def config_path(config_dir: Path) -> Path:
    return Path(config_dir) / CONFIG_FILE


def _document(path: Path) -> dict[str, Any]:
    try:
        return dict(read_yaml_mapping(path, what="site configuration"))
    except NotFoundError:
        return {}


def load_alerts(config_dir: Path) -> AlertsConfig:
    """The alerts configuration (defaults when the file or the key is absent)."""
    path = config_path(config_dir)
    raw = _document(path).get("alerts") or {}
    try:
        return AlertsConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, path, model=AlertsConfig, data=raw)) from None


def save_alerts(config_dir: Path, alerts: AlertsConfig) -> Path:
    """Write ``alerts`` into the file atomically (mode 0600), keeping every other key."""
    import yaml

    path = config_path(config_dir)
    doc = _document(path)
    doc["alerts"] = alerts.model_dump(mode="json", exclude_none=True)
    atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), mode=0o600)
    return path


def add_channel(config_dir: Path, kind: str, target: str) -> Channel:
    """Add a channel (validated) and return it with its new id."""
    if kind not in KINDS:
        raise InputError(f"alert channel type {kind!r}: expected one of {', '.join(KINDS)}")
    if kind == "webhook":
        problem = webhook_problem(target)
        if problem:
            raise InputError(f"webhook {shown_target(kind, target)}: {problem} (the URL is not shown: it may hold "
                             "a token)")
    if kind == "email" and not _EMAIL.match(target):
        raise InputError(f"email {target!r}: not an e-mail address")
    alerts = load_alerts(config_dir)
    if any(c.type == kind and c.target == target for c in alerts.channels):
        raise InputError(f"alert channel {kind} {Channel(id='x', type=kind, target=target).shown()}: already there")
    used = {c.id for c in alerts.channels}
    n = 1
    while f"{kind}-{n}" in used:
        n += 1
    channel = Channel(id=f"{kind}-{n}", type=kind, target=target)
    alerts.channels.append(channel)
    save_alerts(config_dir, alerts)
    return channel


def remove_channel(config_dir: Path, ident: str) -> Channel:
    alerts = load_alerts(config_dir)
    channel = alerts.channel(ident)
    alerts.channels.remove(channel)
    save_alerts(config_dir, alerts)
    return channel
