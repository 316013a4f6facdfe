"""Pytest plugin: a real PostgreSQL server for the tests, and the ``database`` fixture over both backends.

- ``pg_server``: session-scoped :class:`~hospfab.journal.pg_localserver.LocalPostgres` on 127.0.0.1 in a
  temporary data directory (Debian's ``postgresql``, installed by ``scripts/install-system-deps``). A
  template database with every hospfab component migrated is made once; each test gets its own copy.
- ``pg_url``: the URL of a fresh, migrated database of its own.
- ``database``: parametrised ``sqlite`` / ``postgresql``: an SQLite path or a PostgreSQL URL, empty and
  migrated; ``HOSPFAB_DATABASE`` is set to it so CLI commands run in the test use it too.

When PostgreSQL is not installed, the PostgreSQL cases are skipped with the reason (failed when ``CI`` is set,
like the other real servers).
"""

from __future__ import annotations

import itertools

import pytest

TEMPLATE = "hospfab_template"
_counter = itertools.count(1)


def _migrate_all(target) -> None:
    from hospfab.journal.admin import upgrade

    upgrade(target)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    from hospfab.journal.pg_localserver import LocalPostgres, pg_bin_dir

    from octoprint_fixtures import skip_or_fail

    bin_dir = pg_bin_dir()
    if bin_dir is None:
        skip_or_fail("PostgreSQL server not installed: run `make system-deps`")
    server = LocalPostgres(tmp_path_factory.mktemp("postgres"), bin_dir).init().start()
    server.admin(f"CREATE DATABASE {TEMPLATE}")
    _migrate_all(server.url(TEMPLATE))
    yield server
    server.remove()


@pytest.fixture
def pg_url(pg_server) -> str:
    name = f"t{next(_counter)}"
    pg_server.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    return pg_server.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, hospfab_home, monkeypatch):
    """The database of one backend, migrated; HOSPFAB_DATABASE points at it."""
    if request.param == "postgresql":
        target = request.getfixturevalue("pg_url")
    else:
        target = str(hospfab_home / "journal.sqlite3")
        _migrate_all(target)
    monkeypatch.setenv("HOSPFAB_DATABASE", target)
    return target


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """An empty database (nothing migrated) of each backend: an SQLite path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "empty.sqlite3")
    server = request.getfixturevalue("pg_server")
    name = f"e{next(_counter)}"
    server.admin(f"CREATE DATABASE {name}")
    return server.url(name)
