"""`hospfab db status|upgrade|copy`, credentials and a database that is down, on a real PostgreSQL."""

from __future__ import annotations

import os

from test_journal_store import make_job

from hospfab.errors import ExitCode
from hospfab.journal import DONE, Journal
from hospfab.journal.db import connect, migrate
from hospfab.journal.store import COMPONENT, MIGRATIONS
from hospfab.queue.store import QueueStore


def test_status_and_upgrade_on_both_backends(cli, database):
    out = cli("db", "upgrade", "--json")
    assert out.exit_code == 0, out.stderr
    assert out.json()["data"]["components"]["journal"] == len(MIGRATIONS)
    with Journal(database) as j:
        j.claim(make_job(), require_bed_clear=False)
    status = cli("db", "status", "--json").json()["data"]
    assert status["backend"] == ("postgresql" if database.startswith("postgresql") else "sqlite")
    assert status["counts"]["jobs"] == 1 and status["pending_upgrade"] == []
    assert status["components"]["journal"] == {"recorded": len(MIGRATIONS), "code": len(MIGRATIONS)}
    assert ("PostgreSQL" if status["backend"] == "postgresql" else "SQLite") in status["server"]


def test_status_of_an_old_database_is_read_only_and_names_the_pending_upgrade(cli, empty_database):
    conn = connect(empty_database)
    migrate(conn, COMPONENT, MIGRATIONS[:2])  # the schema before the unique index
    conn.close()
    data = cli("--database", empty_database, "db", "status", "--json").json()["data"]
    assert "journal" in data["pending_upgrade"] and data["components"]["journal"]["recorded"] == 2
    check = connect(empty_database)
    assert check.execute("SELECT version FROM schema_migrations WHERE component='journal'").fetchone()[0] == 2
    check.close()
    assert cli("--database", empty_database, "db", "upgrade").exit_code == 0
    assert cli("--database", empty_database, "db", "status", "--json").json()["data"]["pending_upgrade"] == []


def test_copy_an_sqlite_journal_into_postgresql_verified_and_rerunnable(cli, tmp_path, pg_url, monkeypatch):
    source = tmp_path / "old.sqlite3"
    with Journal(source) as j:
        done = make_job(printer="p1")
        j.claim(done, require_bed_clear=False)
        j.finish(done.id, DONE)
        j.record_material_load("p1", "petg", "L-1", "ana")
        j.record_material_load("p1", "petg", "L-1", "ana")  # two identical rows stay two rows
        j.mark_bed_clear("p1", "bo")
    with QueueStore(source) as q:
        q.create_lot(ref="KNOB", revision=1, quantity=2, recipes=[], plates=[("p1", 1), ("p1", 1)], operator="a")
    monkeypatch.setenv("HOSPFAB_DATABASE", pg_url)
    with Journal(pg_url) as shared:  # the shared database already has another workstation's rows
        shared.record_material_load("p7", "pla", "X-9", "zoe")
    first = cli("db", "copy", "--from", source, "--json")
    assert first.exit_code == 0, first.stdout + first.stderr
    tables = {t["table"]: t for t in first.json()["data"]["tables"]}
    assert tables["jobs"]["copied"] == 1 and tables["plates"]["copied"] == 2 and tables["plate_events"]["copied"] == 2
    assert tables["material_loads"]["copied"] == 2 and all(t["verified"] for t in tables.values())
    again = cli("db", "copy", "--from", source, "--json")
    assert again.exit_code == 0
    assert all(t["copied"] == 0 for t in again.json()["data"]["tables"])
    with Journal(pg_url) as shared:
        assert shared.get(done.id).outcome == DONE
        assert len(shared.material_loads()) == 3 and shared.last_bed_clear("p1").operator == "bo"
    with QueueStore(pg_url) as q:
        assert len(q.plates()) == 2


def test_password_never_shown_and_a_down_server_is_one_line_exit_5(cli, pg_server, tmp_path, monkeypatch):
    url = f"postgresql://hospfab:s3cret-pw@127.0.0.1:{pg_server.port + 1}/hospfab"  # nothing listens there
    out = cli("--database", url, "db", "status")
    assert out.exit_code == ExitCode.DATABASE
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "127.0.0.1" in lines[0] and "check that the server is running" in lines[0]
    assert "s3cret-pw" not in out.stdout + out.stderr and "Traceback" not in out.stderr
    as_json = cli("--database", url, "jobs", "list", "--json")
    assert as_json.exit_code == ExitCode.DATABASE and "s3cret-pw" not in as_json.stdout
    assert as_json.json()["errors"][0]["code"] == "database_unavailable"


def test_url_file_must_be_readable_by_its_owner_only(cli, pg_url, tmp_path, monkeypatch):
    secret = tmp_path / "database.url"
    secret.write_text(pg_url.replace("postgres@", "postgres:pw-in-file@") + "\n")
    os.chmod(secret, 0o644)
    monkeypatch.setenv("HOSPFAB_DATABASE_FILE", str(secret))
    refused = cli("db", "status")
    assert refused.exit_code == ExitCode.USAGE and "chmod 600" in refused.stderr
    os.chmod(secret, 0o600)
    out = cli("db", "status", "--json")  # trust authentication: the password is not checked, only hidden
    assert out.exit_code == 0, out.stderr
    assert "pw-in-file" not in out.stdout and ":***@" in out.json()["data"]["database"]


def test_the_postgresql_driver_is_imported_only_for_a_postgresql_url(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from hospfab.journal import Journal\n"
        "from hospfab.queue.store import QueueStore\n"
        f"Journal({str(tmp_path / 'j.sqlite3')!r}).close(); QueueStore({str(tmp_path / 'j.sqlite3')!r}).close()\n"
        "print('psycopg' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
