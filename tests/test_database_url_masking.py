"""`config show` and `doctor` print the database setting: its password must be masked whatever way the
connection string spells it (libpq accepts URIs, percent-encoded keys and keyword/value strings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hospfab.settings import mask_secrets


@pytest.mark.parametrize("url, secret", [
    ("postgresql://u@db/x?pass%77ord=PCTSECRET4", "PCTSECRET4"),
    ("postgresql://u:URLSECRET5@db/x?password=URLSECRET6", "URLSECRET5"),
])
def test_database_password_masked_in_config_show_and_doctor(cli, url, secret):
    assert secret not in str(mask_secrets(url))
    for args in (("config", "show", "--json"), ("doctor", "--json")):
        out = cli(*args, env={"HOSPFAB_DATABASE": url})
        assert secret not in out.stdout + out.stderr, f"{args[0]} printed the database password"
    shown = cli("config", "show", "--json", env={"HOSPFAB_DATABASE": url}).json()
    assert "***" in shown["data"]["settings"]["database"]["value"]


def test_connection_strings_without_password_are_kept():
    assert mask_secrets("host=db user=u dbname=x") == "host=db user=u dbname=x"
    assert mask_secrets("postgresql://u@db/x?sslmode=require") == "postgresql://u@db/x?sslmode=require"


@pytest.mark.parametrize("dsn, secret", [
    ("host=db.hospital.lan user=hospfab password=KWSECRET1 dbname=journal", "KWSECRET1"),
    ("host=db user=u password = 'KW SECRET2' dbname=x", "KW SECRET2"),
    ("dbname=journal sslpassword=KWSECRET3", "KWSECRET3"),
])
def test_a_libpq_keyword_string_is_refused_without_showing_it(cli, hospfab_home, dsn, secret):
    """Taken as a SQLite file name, it created a journal named after the password and printed it."""
    assert secret not in str(mask_secrets(dsn))
    for args in (("config", "show", "--json"), ("doctor", "--json"), ("jobs", "list", "--json")):
        out = cli(*args, env={"HOSPFAB_DATABASE": dsn})
        assert out.exit_code == 2, (args, out.stdout)
        assert out.json()["errors"][0]["code"] == "invalid_database"
        assert secret not in out.stdout + out.stderr
    assert not any(secret in p.name for p in hospfab_home.rglob("*")) and not any(
        secret in p.name for p in Path.cwd().iterdir())
