"""The job journal: SQLite (WAL) at ``Settings.journal_path``, schema-versioned per component.

``hospfab.journal.db`` holds the shared plumbing (``connect``, ``transaction``, ``migrate``) that other
components (the batch queue) use for their own tables in the same database.
"""
