"""Free text in tables and messages (a spool's lot number, an operator, a printer's failure reason) is data,
not rich markup: ``[/]`` crashed `printers load`, `printers status` and `printers history` with a traceback
(for the whole fleet, until the lot changed) and ``L[red]1`` was shown as ``L1``."""

from __future__ import annotations

import pytest

from test_history_csv_formulas import failed_job

LOT, OPERATOR = "[/]L[red]1", "A. [bold]Martin"


@pytest.fixture
def fleet(cli, monkeypatch):
    monkeypatch.setenv("HOSPFAB_TEST_KEY_MARKUP", "abcdef0123456789")
    out = cli("printers", "add", "p1", "--url", "http://127.0.0.1:9", "--api-key-env", "HOSPFAB_TEST_KEY_MARKUP",
              "--profile", "prusa-mk4", "--material", "petg")
    assert out.exit_code == 0, out.stderr


def test_lot_and_operator_with_brackets_are_shown_as_typed(cli, fleet):
    out = cli("printers", "load", "p1", "--material", "petg", "--lot", LOT, "--operator", OPERATOR)
    assert out.exit_code == 0, out.stdout + out.stderr
    assert LOT in out.stdout and OPERATOR in out.stdout
    status = cli("printers", "status")
    assert status.exit_code in (0, 3) and "Traceback" not in status.stdout + status.stderr
    assert LOT in status.stdout.replace("\n", "") or "[/]L[red]" in status.stdout
    history = cli("printers", "history")
    assert history.exit_code == 0, history.stdout + history.stderr
    assert LOT in history.stdout and OPERATOR in history.stdout


def test_jobs_list_and_show_show_a_reason_with_brackets(cli):
    job = failed_job(material_lot=LOT, reason="E[/]X \x1b]0;pwned\x07")
    for args in (("jobs", "list"), ("jobs", "show", job.id)):
        out = cli(*args)
        assert out.exit_code == 0, out.stdout + out.stderr
        assert "E[/]X" in out.stdout and "\x1b]0;" not in out.stdout


def test_operator_and_site_with_brackets(cli, fleet, tmp_path):
    out = cli("printers", "cleared", "p1", "--operator", "[/]Night [b]nurse")
    assert out.exit_code == 0, out.stdout + out.stderr
    assert "[/]Night [b]nurse" in out.stdout
    assert cli("init", "--site", "[/]Ward [b]3", "--catalog", tmp_path).exit_code == 0
    shown = cli("config", "show")
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert "[/]Ward [b]3" in shown.stdout
