"""Sending one alert to one channel, with short timeouts. Raises :class:`ChannelDown` on any failure."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from typing import Any

from hospfab.alerts.config import Channel, Smtp
from hospfab.alerts.store import Event
from hospfab.errors import HospfabError

COMMAND_TIMEOUT_S = 20.0


class ChannelDown(HospfabError):
    """An alert channel could not take a message (it is retried later)."""

    code = "alert_channel_down"


def payload(event: Event) -> dict[str, Any]:
    """The JSON a webhook receives: ``text`` (what chat tools show) plus the event itself."""
    return {"text": f"hospfab: {event.message}", "hospfab": event.as_dict()}


def send(channel: Channel, event: Event, smtp: Smtp, *, timeout_s: float = 5.0) -> None:
    try:
        if channel.type == "webhook":
            _webhook(channel.target, event, timeout_s)
        elif channel.type == "email":
            _email(channel.target, event, smtp)
        else:
            _command(channel.target, event)
    except ChannelDown:
        raise
    except (OSError, ValueError, HospfabError) as err:
        message = err.message if isinstance(err, HospfabError) else f"{type(err).__name__}: {err}"
        raise ChannelDown(f"alert channel {channel.id}: {message}") from None


def _webhook(url: str, event: Event, timeout_s: float) -> None:
    import httpx

    try:
        response = httpx.post(url, json=payload(event), timeout=timeout_s, follow_redirects=False)
    except (httpx.HTTPError, httpx.InvalidURL) as err:
        raise ChannelDown(f"webhook: {type(err).__name__}") from None  # the URL (a secret) is not shown
    if response.status_code >= 300:
        raise ChannelDown(f"webhook answered HTTP {response.status_code}")


def _email(address: str, event: Event, smtp: Smtp) -> None:
    import smtplib
    import ssl
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = address
    message["Subject"] = f"[hospfab] {event.kind.replace('_', ' ')}: {event.printer or event.lot_id or ''}".strip()
    message.set_content(f"{event.message}\n\nat {event.at}\n")
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as server:
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
            if smtp.username:
                server.login(smtp.username, smtp.password() or "")
            server.send_message(message)
    except smtplib.SMTPException as err:
        raise ChannelDown(f"SMTP {smtp.host}:{smtp.port}: {type(err).__name__}: {err}") from None


#: What an alert command inherits from hospfab's environment: enough to run and to format dates, nothing that
#: could hold a secret (the database URL, an SMTP password, a printer's API key live in other variables).
COMMAND_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SHELL")


def command_environment(event: Event) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name in COMMAND_ENV or name.startswith("LC_")}
    env.update(HOSPFAB_ALERT_KIND=event.kind, HOSPFAB_ALERT_MESSAGE=event.message)
    return env


def _command(command: str, event: Event) -> None:
    env = command_environment(event)
    try:
        done = subprocess.run(shlex.split(command), input=json.dumps(payload(event)), text=True, env=env,
                              capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ChannelDown(f"command did not finish within {COMMAND_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        raise ChannelDown(f"command exited {done.returncode}: {done.stderr.strip()[-200:]}")
