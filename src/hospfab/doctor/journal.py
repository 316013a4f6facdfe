"""The journal database (SQLite file or PostgreSQL server): reachable and migrated."""

from __future__ import annotations

from pathlib import Path

from hospfab.doctor.base import Context, Result, Status, check


@check("database", "journal database reachable and migrated")
def database(context: Context) -> Result:
    from hospfab.errors import HospfabError
    from hospfab.journal.admin import status
    from hospfab.journal.db import describe, is_url

    try:
        target = context.settings.database_target
    except HospfabError as err:
        return Result("database", Status.FAIL, err.message, "fix HOSPFAB_DATABASE_FILE (owner-only, one URL)")
    name = describe(target)
    if not is_url(str(target)) and not Path(target).exists():
        return Result("database", Status.OK, f"{name}: not created yet (made on the first print)")
    try:
        data = status(target)  # read only: versions and counts
    except HospfabError as err:
        fix = ("check that the server is running and the URL" if is_url(str(target))
               else "restore the journal from backup (`hospfab journal restore FROM`)")
        return Result("database", Status.FAIL, err.message, fix)
    components = {n: v for n, v in data["components"].items() if v["code"] is not None}
    ahead = [f"{n} {v['recorded']} > {v['code']}" for n, v in components.items() if v["recorded"] > v["code"]]
    behind = [f"{n} {v['recorded']} of {v['code']}" for n, v in components.items() if 0 < v["recorded"] < v["code"]]
    if ahead:
        return Result("database", Status.FAIL, f"{name}: written by a newer hospfab ({', '.join(ahead)})",
                      "upgrade hospfab on this workstation")
    if behind:
        return Result("database", Status.WARN, f"{name}: migrations pending ({', '.join(behind)})",
                      "run `hospfab db upgrade` (or any command that writes the journal)")
    return Result("database", Status.OK, f"{name}: schema up to date ({data['server']})")
