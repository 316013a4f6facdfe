"""The shared SQLite helpers: WAL, one transaction per change, per-component explicit migrations."""

from __future__ import annotations

import sqlite3

import pytest

from hospfab.errors import ExitCode
from hospfab.journal.db import (
    JournalTooNew,
    connect,
    migrate,
    schema_version,
    split_statements,
    transaction,
)

V1 = """
CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE INDEX things_name ON things(name);
"""
V2 = "ALTER TABLE things ADD COLUMN note TEXT DEFAULT 'a;b'"


def test_connect_creates_folder_and_uses_wal(tmp_path):
    conn = connect(tmp_path / "sub" / "j.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (tmp_path / "sub" / "j.sqlite3").exists()


def test_migrate_applies_in_order_and_is_idempotent(tmp_path):
    conn = connect(tmp_path / "j.sqlite3")
    assert migrate(conn, "demo", [V1]) == 1
    assert migrate(conn, "demo", [V1]) == 1
    assert migrate(conn, "demo", [V1, V2]) == 2
    conn.execute("INSERT INTO things(name) VALUES ('x')")
    assert conn.execute("SELECT note FROM things").fetchone()[0] == "a;b"
    assert schema_version(conn, "demo") == 2


def test_components_are_independent(tmp_path):
    conn = connect(tmp_path / "j.sqlite3")
    migrate(conn, "a", [V1])
    migrate(conn, "b", ["CREATE TABLE other (x)", lambda c: c.execute("CREATE TABLE third (y)")])
    rows = dict(conn.execute("SELECT component, version FROM schema_migrations").fetchall())
    assert rows == {"a": 1, "b": 2}


def test_failed_migration_rolls_back_everything(tmp_path):
    conn = connect(tmp_path / "j.sqlite3")
    broken = "CREATE TABLE ok1 (x); CREATE TABLE things_bad (;"
    with pytest.raises(Exception):
        migrate(conn, "demo", [V1, broken])
    assert schema_version(conn, "demo") == 0
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "things" not in names and "ok1" not in names


def test_callable_failure_rolls_back(tmp_path):
    conn = connect(tmp_path / "j.sqlite3")

    def boom(c):
        c.execute("CREATE TABLE half (x)")
        raise sqlite3.OperationalError("disk on fire")

    with pytest.raises(Exception, match="disk on fire"):
        migrate(conn, "demo", [V1, boom])
    assert schema_version(conn, "demo") == 0


def test_database_newer_than_code_is_refused(tmp_path):
    path = tmp_path / "j.sqlite3"
    migrate(connect(path), "demo", [V1, V2])
    conn = connect(path)
    with pytest.raises(JournalTooNew) as info:
        migrate(conn, "demo", [V1])
    assert info.value.exit_code == ExitCode.USAGE
    assert "j.sqlite3" in info.value.message and "'demo'" in info.value.message
    assert schema_version(conn, "demo") == 2


def test_transaction_rolls_back_on_error(tmp_path):
    conn = connect(tmp_path / "j.sqlite3")
    migrate(conn, "demo", [V1])
    with pytest.raises(RuntimeError):
        with transaction(conn):
            conn.execute("INSERT INTO things(name) VALUES ('x')")
            raise RuntimeError("stop")
    assert conn.execute("SELECT count(*) FROM things").fetchone()[0] == 0


def test_split_statements_keeps_triggers_whole():
    script = """
    CREATE TABLE t (x);
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 1; SELECT ';'; END;
    """
    parts = split_statements(script)
    assert len(parts) == 2 and parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")


def test_a_failed_rollback_does_not_mask_the_original_error(tmp_path):
    conn = connect(tmp_path / "j.sqlite3")
    migrate(conn, "demo", [V1])
    with pytest.raises(RuntimeError, match="the real problem") as info:
        with transaction(conn):
            conn.execute("INSERT INTO things(name) VALUES ('x')")
            conn.raw.close()  # the connection is gone: ROLLBACK itself fails
            raise RuntimeError("the real problem")
    assert any("rollback also failed" in note for note in getattr(info.value, "__notes__", []))


def test_a_writer_held_too_long_is_database_busy_exit_5_and_readers_never_wait(tmp_path):
    from hospfab.journal.db import DatabaseBusy

    path = tmp_path / "j.sqlite3"
    holder = connect(path)
    migrate(holder, "demo", [V1])
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    waiting = connect(path, timeout=0.2)
    assert migrate(waiting, "demo", [V1]) == 1  # schema current: opening takes no write lock
    assert waiting.execute("SELECT count(*) FROM things").fetchone()[0] == 0  # readers are not blocked
    with pytest.raises(DatabaseBusy) as info:
        with transaction(waiting):
            waiting.execute("INSERT INTO things(name) VALUES ('y')")
    assert info.value.exit_code == ExitCode.DATABASE and "j.sqlite3" in info.value.message
    assert "\n" not in info.value.message
    holder.execute("ROLLBACK")


def test_postgresql_restarted_between_statements_reconnects_and_mid_transaction_fails_cleanly(pg_server):
    from hospfab.journal.db import DatabaseUnavailable

    pg_server.admin("CREATE DATABASE restart_case")
    conn = connect(pg_server.url("restart_case"))
    migrate(conn, "demo", [V1])
    pg_server.stop("fast")
    with pytest.raises(DatabaseUnavailable) as down:
        conn.execute("SELECT count(*) FROM things")
    assert down.value.exit_code == ExitCode.DATABASE and "127.0.0.1" in down.value.message
    pg_server.start()
    assert conn.execute("SELECT count(*) FROM things").fetchone()[0] == 0  # re-opened on the next statement
    with pytest.raises(DatabaseUnavailable):
        with transaction(conn):
            conn.execute("INSERT INTO things(name) VALUES ('half')")
            pg_server.stop("immediate")
            conn.execute("INSERT INTO things(name) VALUES ('other half')")
    pg_server.start()
    assert conn.execute("SELECT count(*) FROM things").fetchone()[0] == 0  # nothing of it was committed
    conn.close()


def test_migrations_on_both_backends_apply_in_order_roll_back_whole_and_refuse_newer(empty_database):
    conn = connect(empty_database)
    assert migrate(conn, "demo", [V1]) == 1
    assert migrate(conn, "demo", [V1, V2]) == 2
    with transaction(conn):
        conn.execute("INSERT INTO things(name) VALUES (?)", ("50% done",))  # a literal % and a ? placeholder
    assert tuple(conn.execute("SELECT id, name, note FROM things").fetchone()) == (1, "50% done", "a;b")
    broken = "CREATE TABLE ok1 (x TEXT); CREATE TABLE things_bad (;"
    with pytest.raises(Exception):
        migrate(conn, "demo", [V1, V2, broken])
    assert schema_version(conn, "demo") == 2 and not conn.table_exists("ok1")
    with pytest.raises(JournalTooNew):
        migrate(conn, "demo", [V1])
    by_dialect = {"sqlite": "CREATE TABLE only_here (x TEXT)", "postgresql": "CREATE TABLE only_here (x TEXT)"}
    assert migrate(conn, "other", [by_dialect, lambda c: c.execute("CREATE INDEX only_x ON only_here(x)")]) == 2
    conn.close()


def test_total_changes_counts_written_rows_on_both_backends(empty_database):
    conn = connect(empty_database)
    migrate(conn, "demo", [V1])
    before = conn.total_changes
    with transaction(conn):
        conn.execute("INSERT INTO things(name) VALUES ('a')")
        conn.execute("INSERT INTO things(name) VALUES ('b')")
    conn.execute("SELECT * FROM things").fetchall()
    conn.execute("UPDATE things SET name='x' WHERE name='zzz'")  # no row
    assert conn.total_changes - before == 2
    conn.close()
