"""The highest catalog index version this site has seen, kept in the journal database (no rollback).

A catalog carries a signed, monotonically versioned index (``index.json``, see :mod:`hospfab.catalog.index`).
Each time it is verified, the site records ``(catalog_id, version, sha256)``; an index older than the one
recorded, a different index with the same version, or the index of another catalog (another ``catalog_id``)
in a folder where this site saw one, is a rollback, a fork or a replay and is refused (exit 4). The SQL is
kept portable (plain CREATE TABLE, SELECT, INSERT, UPDATE with ``?`` parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

from hospfab.errors import IntegrityError
from hospfab.journal.db import Database, transaction

COMPONENT = "catalog_index"
MIGRATIONS = (
    # version 1
    """
    CREATE TABLE catalog_index_seen (
        catalog_id TEXT PRIMARY KEY,
        version    INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        root       TEXT NOT NULL,
        seen_at    TEXT NOT NULL
    );
    CREATE INDEX catalog_index_seen_root ON catalog_index_seen(root);
    """,
)


class RolledBack(IntegrityError):
    """The catalog's index is older than (or forks from) the one this site has already seen."""

    code = "rolled_back"


@dataclass(frozen=True)
class Seen:
    catalog_id: str
    version: int
    sha256: str
    root: str
    seen_at: str


class SeenIndex(Database):
    """The ``catalog_index_seen`` table of the journal database at ``path``."""

    COMPONENT = COMPONENT
    MIGRATIONS = MIGRATIONS

    def get(self, catalog_id: str) -> Seen | None:
        row = self.conn.execute(
            "SELECT catalog_id, version, sha256, root, seen_at FROM catalog_index_seen WHERE catalog_id = ?",
            (catalog_id,)).fetchone()
        return Seen(*row) if row else None

    def for_root(self, root: str) -> Seen | None:
        row = self.conn.execute(
            "SELECT catalog_id, version, sha256, root, seen_at FROM catalog_index_seen WHERE root = ? "
            "ORDER BY version DESC", (root,)).fetchone()
        return Seen(*row) if row else None

    def check_and_record(self, catalog_id: str, version: int, sha256: str, root: str, now: str) -> Seen | None:
        """Refuse (RolledBack) an index older than, or different from, the one already seen with the same
        version; otherwise record it. Returns what was recorded before (None the first time)."""
        with transaction(self.conn):
            here = self.for_root(root)
            if here is not None and here.catalog_id != catalog_id:
                raise RolledBack(
                    f"{root}/index.json: the signed index of another catalog (id {catalog_id}) replaced the index "
                    f"of the catalog this folder held (id {here.catalog_id}, version {here.version} seen at this "
                    f"site on {here.seen_at}): refused (its revisions and statuses are not this catalog's; to use "
                    f"another catalog on purpose, give it a folder of its own)")
            before = self.get(catalog_id)
            if before is not None:
                if version < before.version:
                    raise RolledBack(
                        f"{root}/index.json: catalog index version {version} is older than version "
                        f"{before.version} already seen at this site on {before.seen_at}: the catalog was rolled "
                        f"back (a retirement, signature or revision may have been undone)")
                if version == before.version and sha256 != before.sha256:
                    raise RolledBack(
                        f"{root}/index.json: catalog index version {version} differs from the version {version} "
                        f"already seen at this site: two different indexes with one version (replayed or forked)")
                if version > before.version or root != before.root:
                    self.conn.execute(
                        "UPDATE catalog_index_seen SET version = ?, sha256 = ?, root = ?, seen_at = ? "
                        "WHERE catalog_id = ?", (version, sha256, root, now, catalog_id))
            else:
                self.conn.execute(
                    "INSERT INTO catalog_index_seen (catalog_id, version, sha256, root, seen_at) "
                    "VALUES (?, ?, ?, ?, ?)", (catalog_id, version, sha256, root, now))
            return before
