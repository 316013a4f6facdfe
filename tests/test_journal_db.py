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
