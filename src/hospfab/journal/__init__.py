"""The job journal: SQLite (WAL) at ``Settings.journal_path``, schema-versioned per component.

- ``hospfab.journal.db``: the shared plumbing (``connect``, ``transaction``, ``migrate``) that other
  components (the batch queue) use for their own tables in the same database;
- ``hospfab.journal.store``: :class:`Journal` (jobs, outcomes, bed-clear confirmations, spool changes) and :class:`Job`.
"""

from __future__ import annotations

from hospfab.journal.store import (
    ACTIVE_OUTCOMES,
    CANCELLED,
    CLAIMING_OUTCOMES,
    DONE,
    FAILED,
    FINAL_OUTCOMES,
    LOST,
    PRINTING,
    QUEUED,
    UNKNOWN,
    UPLOADING,
    BedClear,
    Job,
    Journal,
    MaterialLoad,
    new_job_id,
    now_iso,
)

__all__ = [
    "ACTIVE_OUTCOMES", "CANCELLED", "CLAIMING_OUTCOMES", "DONE", "FAILED", "FINAL_OUTCOMES", "LOST", "PRINTING", "QUEUED",
    "UNKNOWN", "UPLOADING", "BedClear", "Job", "Journal", "MaterialLoad", "new_job_id", "now_iso",
]  # fmt: skip
