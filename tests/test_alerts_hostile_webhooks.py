"""Webhook URLs an operator mistypes or a hand-edited site configuration holds: one error line (exit 2) that
does not show the URL (it may hold a token), never an internal error, and a delivery never raises past
ChannelDown (a raise there killed the alert thread of the runner and the page)."""

from __future__ import annotations

import pytest

from hospfab.alerts.channels import ChannelDown, send
from hospfab.alerts.config import Channel, Smtp
from hospfab.alerts.store import Event

LONG = "https://chat.example.org/hooks/" + "a" * 70_000


@pytest.mark.parametrize("url", ["https://[::1/hook/BRACKETSECRET", LONG,
                                 "htps://hooks.slack.com/services/T0/B0/TYPOSECRET",
                                 "https://chat.example.org/ho ok/SPACESECRET"])
def test_bad_webhook_refused_in_one_line_without_the_url(cli, url):
    out = cli("alerts", "add", "webhook", url, "--json")
    assert out.exit_code == 2, out.stdout
    [error] = out.json()["errors"]
    assert error["message"].startswith("webhook ")
    for secret in ("BRACKETSECRET", "TYPOSECRET", "SPACESECRET", "a" * 100):
        assert secret not in out.stdout + out.stderr
    assert cli("alerts", "list", "--json").json()["data"]["channels"] == []


def test_hand_edited_long_webhook_is_a_configuration_error(cli, hospfab_home):
    (hospfab_home / "config.yaml").write_text(f"alerts:\n  channels:\n  - {{id: webhook-1, type: webhook, "
                                              f"target: '{LONG}'}}\n")
    out = cli("alerts", "test", "--json")
    assert out.exit_code == 2, out.stdout
    assert "a" * 100 not in out.stdout + out.stderr


def test_sending_to_an_unusable_url_is_channel_down():
    channel = Channel.model_construct(id="webhook-1", type="webhook", target=LONG)  # as if never validated
    event = Event(key="test-1", kind="test", message="test")
    with pytest.raises(ChannelDown):
        send(channel, event, Smtp(), timeout_s=1)
