"""`config show` and `doctor` print the database setting: its password must be masked whatever way the
connection string spells it (libpq accepts URIs, percent-encoded keys and keyword/value strings)."""

from __future__ import annotations

import pytest

from hospfab.settings import mask_secrets


@pytest.mark.parametrize("url, secret", [
    ("host=db.hospital.lan user=hospfab password=KWSECRET1 dbname=journal", "KWSECRET1"),
    ("host=db user=u password = 'KW SECRET2' dbname=x", "KW SECRET2"),
    ("host=db sslpassword=KWSECRET3", "KWSECRET3"),
    ("postgresql://u@db/x?pass%77ord=PCTSECRET4", "PCTSECRET4"),
    ("postgresql://u:URLSECRET5@db/x?password=URLSECRET6", "URLSECRET5"),
])
def test_database_password_masked_in_config_show_and_doctor(cli, url, secret):
    assert secret not in str(mask_secrets(url))
    commands = [("config", "show", "--json")] + ([("doctor", "--json")] if "://" in url else [])
    for args in commands:
        out = cli(*args, env={"HOSPFAB_DATABASE": url})
        assert secret not in out.stdout + out.stderr, f"{args[0]} printed the database password"
    shown = cli("config", "show", "--json", env={"HOSPFAB_DATABASE": url}).json()
    assert "***" in shown["data"]["settings"]["database"]["value"]


def test_connection_strings_without_password_are_kept():
    assert mask_secrets("host=db user=u dbname=x") == "host=db user=u dbname=x"
    assert mask_secrets("postgresql://u@db/x?sslmode=require") == "postgresql://u@db/x?sslmode=require"
