"""A send whose outcome cannot be recorded keeps the cause's class: a queue runner waits out a database outage
(DatabaseUnavailable) and reconciles the job from the printer later, instead of stopping."""

from __future__ import annotations

import pytest

from hospfab.journal import Job
from hospfab.journal.db import DatabaseBusy, DatabaseUnavailable, JournalError
from hospfab.printing.send import _recorded


class FailingJournal:
    def __init__(self, error: JournalError) -> None:
        self.error = error

    def update(self, job_id: str, **changes: object) -> Job:
        raise self.error


def _job() -> Job:
    return Job(id="261204-aa", ref="KNOB", revision=1, build_file="k.gcode", sha256="0" * 64, printer="mk4-01",
               printer_url="http://127.0.0.1:5000", printer_profile="prusa-mk4", material="petg",
               material_lot=None, operator="ana", created_at="2026-12-04T20:00:00+00:00",
               remote_file="KNOB-r1-261204-aa.gcode")


@pytest.mark.parametrize("cause", [DatabaseUnavailable("PostgreSQL at db:5432 unreachable"),
                                   DatabaseBusy("database is locked"), JournalError("disk full")])
def test_the_cause_class_and_what_the_printer_does_survive(cause):
    with pytest.raises(type(cause)) as caught:
        _recorded(FailingJournal(cause), _job(), "printing")  # type: ignore[arg-type]
    assert type(caught.value) is type(cause)
    assert "IS PRINTING on printer mk4-01" in caught.value.message and cause.message in caught.value.message
