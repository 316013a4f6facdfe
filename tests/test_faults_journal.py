"""Journal integrity: a foreign -wal, a damaged file, damaged rows, backup and restore, a full disk, modes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys

import pytest
from test_print_support import print_catalog  # noqa: F401 - fixture

from hospfab.errors import ExitCode
from hospfab.journal import DONE, Job, Journal, new_job_id, now_iso


def make_job(**changes) -> Job:
    values = dict(id=new_job_id(), ref="KNOB", revision=1, build_file="k.gcode", sha256="ab" * 32, printer="p1",
                  printer_url="http://p1", printer_profile="virtual-test", material="pla", material_lot="L1",
                  operator="ana", created_at=now_iso(), outcome=DONE, remote_file="KNOB-r1.gcode")  # fmt: skip
    values.update(changes)
    return Job(**values)


@pytest.fixture
def journal_file(hospfab_home):
    path = hospfab_home / "journal.sqlite3"
    with Journal(path) as journal:
        for ref in ("A", "B", "C"):
            journal.add(make_job(ref=ref))
    return path


def one_line(out) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_a_foreign_wal_is_refused_before_it_can_replace_the_history(cli, journal_file, tmp_path):
    other = Journal(tmp_path / "other.sqlite3")
    other.conn.execute("PRAGMA wal_autocheckpoint=0")
    for _ in range(3):
        other.add(make_job(ref="FOREIGN"))
    before = journal_file.read_bytes()
    shutil.copy(tmp_path / "other.sqlite3-wal", journal_file.with_name("journal.sqlite3-wal"))
    other.close()
    for args in (("jobs", "list"), ("history", "--csv"), ("journal", "check")):
        out = cli(*args)
        assert out.exit_code == ExitCode.SAFETY, out.stdout + out.stderr
        line = one_line(out)
        assert str(journal_file) in line and "journal.sqlite3-wal" in line and "FOREIGN" not in out.stdout
    assert journal_file.read_bytes() == before  # nothing checkpointed into it
    journal_file.with_name("journal.sqlite3-wal").rename(tmp_path / "foreign-wal")  # the way out
    out = cli("jobs", "list", "--json")
    assert out.exit_code == 0 and sorted(j["ref"] for j in out.json()["data"]["jobs"]) == ["A", "B", "C"]


def test_a_journal_failing_the_integrity_check_is_refused_with_the_way_out(cli, journal_file):
    with sqlite3.connect(journal_file) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='jobs'").fetchone()[0]
    with open(journal_file, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xa5" * page_size)
    out = cli("jobs", "list")
    assert out.exit_code == ExitCode.SAFETY
    line = one_line(out)
    assert str(journal_file) in line and "journal restore" in line
    print_out = cli("print", "ANY")  # nothing is written into it either
    assert print_out.exit_code in (ExitCode.SAFETY, ExitCode.USAGE) and "internal error" not in print_out.stderr


def test_damaged_rows_are_flagged_and_the_rest_of_the_history_comes_out(cli, journal_file):
    with Journal(journal_file) as journal:
        ids = {j.ref: j.id for j in journal.jobs()}
    with sqlite3.connect(journal_file) as conn:
        conn.execute("UPDATE jobs SET overrides='{not json' WHERE id=?", (ids["A"],))
        conn.execute("UPDATE jobs SET operator=CAST(X'FFFE41' AS TEXT) WHERE id=?", (ids["B"],))
    out = cli("jobs", "list", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    data = out.json()["data"]
    assert len(data["jobs"]) == 3
    assert {d["id"] for d in data["damaged"]} == {ids["A"], ids["B"]}
    assert next(j for j in data["jobs"] if j["id"] == ids["C"])["outcome"] == "done"
    human = cli("jobs", "list")
    assert human.exit_code == 0 and "Damaged journal row(s)" in human.stdout
    csv = cli("history", "--csv")
    assert csv.exit_code == 0 and len(csv.stdout.strip().splitlines()) == 4 and ",damaged," in csv.stdout
    check = cli("journal", "check", "--json")
    assert check.exit_code == ExitCode.SAFETY
    assert {e["message"].split(":")[0] for e in check.json()["errors"]} == {f"job {ids['A']}", f"job {ids['B']}"}


def test_backup_and_restore(cli, journal_file, tmp_path):
    backup = tmp_path / "copy.sqlite3"
    out = cli("journal", "backup", backup, "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert cli("journal", "backup", backup).exit_code == ExitCode.USAGE  # never overwritten
    journal_file.write_bytes(b"garbage" * 1000)
    assert cli("jobs", "list").exit_code == ExitCode.SAFETY
    out = cli("journal", "restore", backup, "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    moved = out.json()["data"]["moved_aside"]
    assert any(m.endswith("journal.sqlite3.replaced-" + m.split("replaced-")[1]) for m in moved)
    jobs = cli("jobs", "list", "--json").json()["data"]["jobs"]
    assert sorted(j["ref"] for j in jobs) == ["A", "B", "C"]
    assert cli("journal", "check").exit_code == 0
    assert cli("journal", "restore", tmp_path / "missing.sqlite3").exit_code == ExitCode.USAGE


def test_identity_and_modes_whatever_the_umask(tmp_path):
    home = tmp_path / "a" / "home"
    code = (
        "import os; os.umask(0);"
        "from hospfab.journal import Journal;"
        f"Journal({str(home / 'journal.sqlite3')!r}).close()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    for folder in (tmp_path / "a", home):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("journal.sqlite3", "journal.sqlite3.id"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600
    with sqlite3.connect(home / "journal.sqlite3") as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x48464A31


def test_migration_3_keeps_rows_and_accepts_unknown(tmp_path):
    from hospfab.journal.db import connect, migrate
    from hospfab.journal.store import COMPONENT, MIGRATIONS

    path = tmp_path / "v2.sqlite3"
    conn = connect(path)
    migrate(conn, COMPONENT, MIGRATIONS[:2])
    conn.execute("INSERT INTO jobs(id, ref, revision, sha256, operator, created_at, outcome) "
                 "VALUES ('J1', 'R', 1, 'x', 'ana', ?, 'done')", (now_iso(),))  # fmt: skip
    from hospfab.journal.db import ConstraintViolation

    with pytest.raises(ConstraintViolation):  # the CHECK constraint, through the database seam
        conn.execute("UPDATE jobs SET outcome='unknown' WHERE id='J1'")
    conn.close()
    with Journal(path) as journal:
        assert journal.get("J1").outcome == DONE
        assert journal.update("J1", outcome="unknown").outcome == "unknown"
        indexes = {r[0] for r in journal.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"jobs_outcome", "jobs_printer_started", "jobs_printer_created", "jobs_ref_created"} <= indexes


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs (root only): a full disk on demand."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder) -> None:
    try:
        with open(folder / "filler", "ab") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
    except OSError:
        pass


@pytest.mark.octoprint
def test_full_disk_says_whether_the_print_started(cli, small_disk, monkeypatch, print_catalog,
                                                  octoprint_server):  # noqa: F811
    from fault_proxy import FaultProxy
    from test_print_support import write_fleet

    home = small_disk / "home"
    monkeypatch.setenv("HOSPFAB_HOME", str(home))
    monkeypatch.setenv("HOSPFAB_CATALOG", str(print_catalog))
    fleet = write_fleet(small_disk.parent / "fleet.yaml", [octoprint_server], monkeypatch)
    monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
    with Journal(home / "journal.sqlite3") as journal:
        journal.add(make_job())
    fill(small_disk)  # full before the print: the claim cannot be written
    out = cli("print", "TEST-BOX")
    assert out.exit_code not in (0, ExitCode.INTERNAL), out.stderr
    assert "disk holding the journal is full" in one_line(out) and "nothing was sent" in out.stderr
    with octoprint_server.client() as client:
        assert client.list_files() == []
    (small_disk / "filler").unlink()

    proxy = FaultProxy(octoprint_server.url)  # full while the upload is on its way: the print starts
    try:
        write_fleet(fleet, [proxy.url], monkeypatch, **{"vt-0": {"api_key": octoprint_server.api_key}})
        proxy.add("POST", "/api/files/local", "before", action=lambda: fill(small_disk))
        out = cli("print", "TEST-BOX")
        assert out.exit_code not in (0, ExitCode.INTERNAL), out.stderr
        line = one_line(out)
        assert "IS PRINTING on printer vt-0" in line and "journal could not record it" in line
    finally:
        proxy.close()
    (small_disk / "filler").unlink()
    with octoprint_server.client() as client:
        assert len(client.list_files()) == 1
