"""`config show` prints the alerts section of the site configuration: a webhook's token (in its path, its
query or its user info) must be masked there as `alerts list` masks it."""

from __future__ import annotations

import pytest

SECRETS = ("SLACKPATHSECRET", "QUERYSECRET", "USERINFOSECRET")
HOOKS = ("https://hooks.slack.com/services/T0/B0/SLACKPATHSECRET",
         "https://chat.example.org/hook?token=QUERYSECRET&x=1",
         "https://bot:USERINFOSECRET@chat.example.org/hook")


@pytest.mark.parametrize("as_json", [True, False])
def test_webhook_tokens_are_masked_in_config_show(cli, as_json):
    for hook in HOOKS:
        assert cli("alerts", "add", "webhook", hook).exit_code == 0
    listed = cli("alerts", "list", "--json")
    out = cli("config", "show", *(["--json"] if as_json else []))
    assert out.exit_code == 0, out.stderr
    for secret in SECRETS:
        assert secret not in listed.stdout
        assert secret not in out.stdout + out.stderr, f"{secret} printed by config show"
    if as_json:
        channels = out.json()["data"]["settings"]["alerts"]["value"]["channels"]
        assert [c["target"] for c in channels] == [c["target"] for c in listed.json()["data"]["channels"]]
