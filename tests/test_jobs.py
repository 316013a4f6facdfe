"""`hospfab jobs`, `history` and `printers cleared` on a journal, without printers to ask."""

from __future__ import annotations

import csv
import io

import pytest

from hospfab.errors import ExitCode
from hospfab.journal import DONE, PRINTING, Job, Journal, new_job_id, now_iso
from hospfab.settings import Settings


def record(ref="KNOB", printer="mk4-01", outcome=None, **kw) -> Job:
    journal = Journal(Settings.resolve().journal_path)
    job = Job(
        id=new_job_id(), ref=ref, revision=2, build_file="knob.gcode", sha256="cd" * 32, printer=printer,
        printer_url="http://127.0.0.1:9", printer_profile="prusa-mk4", material="petg", material_lot="L-9",
        operator="ana", created_at=now_iso(), overrides={"allow_draft": True}, remote_file="KNOB-r2-x.gcode", **kw,
    )  # fmt: skip
    journal.claim(job, require_bed_clear=False)
    if outcome:
        journal.update(job.id, outcome=PRINTING, started_at=now_iso())
        if outcome != PRINTING:
            journal.finish(job.id, outcome, "why" if outcome != DONE else None)
    journal.close()
    return job


def test_history_csv_is_a_complete_record(cli):
    first = record(outcome=DONE)
    record(ref="OTHER", printer="mk4-02", outcome="failed")
    out = cli("history", "--csv")
    assert out.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["ref"] for r in rows] == ["KNOB", "OTHER"]  # oldest first
    row = rows[0]
    assert row["id"] == first.id and row["sha256"] == "cd" * 32 and row["revision"] == "2"
    assert row["printer_url"] == "http://127.0.0.1:9" and row["material_lot"] == "L-9" and row["operator"] == "ana"
    assert row["outcome"] == "done" and row["started_at"] and row["ended_at"]
    assert row["overrides"] == '{"allow_draft": true}'
    assert rows[1]["reason"] == "why"
    only = cli("history", "--ref", "OTHER", "--json").json()["data"]["jobs"]
    assert [j["ref"] for j in only] == ["OTHER"]


def test_history_since(cli):
    record(outcome=DONE)
    assert len(cli("history", "--since", "2000-01-01", "--json").json()["data"]["jobs"]) == 1
    assert cli("history", "--since", "2999-01-01T00:00", "--json").json()["data"]["jobs"] == []
    bad = cli("history", "--since", "yesterday")
    assert bad.exit_code == ExitCode.USAGE and "--since 'yesterday'" in bad.stderr


def test_list_and_show_without_a_fleet(cli):
    job = record(outcome=PRINTING)
    listed = cli("jobs", "list", "--json").json()["data"]
    assert [j["id"] for j in listed["jobs"]] == [job.id]
    assert listed["not_reconciled"] == {"mk4-01": "not in the fleet file"}  # kept as is, and said so
    shown = cli("jobs", "show", job.id[:-3])
    assert shown.exit_code == 0 and job.id in shown.stdout and "printing" in shown.stdout
    assert cli("jobs", "list", "--active", "--json").json()["data"]["jobs"][0]["outcome"] == "printing"
    missing = cli("jobs", "show", "nope")
    assert missing.exit_code == ExitCode.USAGE and missing.stderr.startswith("Error: job nope: not found")


def test_print_without_a_fleet_says_how_to_add_one(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HOSPFAB_CATALOG", str(tmp_path))
    out = cli("print", "KNOB")
    assert out.exit_code == ExitCode.USAGE and "hospfab printers add" in out.stderr


def test_journal_newer_than_the_code_is_refused(cli):
    from hospfab.journal.db import connect

    conn = connect(Settings.resolve().journal_path)
    conn.execute("CREATE TABLE schema_migrations (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_migrations VALUES ('journal', 99)")
    out = cli("jobs", "list")
    assert out.exit_code == ExitCode.USAGE and "upgrade hospfab" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("args", [("jobs", "cancel", "x"), ("printers", "cleared", "mk4-01")])
def test_commands_needing_the_fleet_name_it(cli, args):
    record(outcome=DONE)
    out = cli(*args)
    assert out.exit_code == ExitCode.USAGE and "Traceback" not in out.stderr
