"""The journal database: reachable and migrated."""

from __future__ import annotations

from hospfab.doctor.base import Context, Result, Status, check


@check("database", "journal database reachable and migrated")
def database(context: Context) -> Result:
    import sqlite3

    s = context.settings
    url = getattr(s, "database_url", None)
    if url and not url.startswith("sqlite"):
        from hospfab.settings import mask_secrets

        return Result("database", Status.WARN, f"{mask_secrets(url)}: not checked by this hospfab version",
                      "check it with the database's own tools")
    path = s.journal_path
    if not path.exists():
        return Result("database", Status.OK, f"{path}: not created yet (made on the first print)")
    from hospfab.journal import db
    from hospfab.journal.store import COMPONENT, MIGRATIONS
    from hospfab.queue.store import COMPONENT as QUEUE, MIGRATIONS as QUEUE_MIGRATIONS

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            conn.execute("PRAGMA quick_check").fetchone()
            versions = {c: db.schema_version(conn, c) for c in (COMPONENT, QUEUE)}
        finally:
            conn.close()
    except sqlite3.Error as err:
        return Result("database", Status.FAIL, f"{path}: {err}", "restore the journal from backup")
    wanted = {COMPONENT: len(MIGRATIONS), QUEUE: len(QUEUE_MIGRATIONS)}
    behind = [f"{c} {versions[c]} of {wanted[c]}" for c in wanted if 0 < versions[c] < wanted[c]]
    ahead = [f"{c} {versions[c]} > {wanted[c]}" for c in wanted if versions[c] > wanted[c]]
    if ahead:
        return Result("database", Status.FAIL, f"{path}: written by a newer hospfab ({', '.join(ahead)})",
                      "upgrade hospfab on this workstation")
    if behind:
        return Result("database", Status.WARN, f"{path}: migrations pending ({', '.join(behind)})",
                      "they run on the next command that writes the journal (e.g. `hospfab jobs list`)")
    return Result("database", Status.OK, f"{path}: schema up to date")
