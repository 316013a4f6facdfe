"""The live half of choosing a printer (``hospfab.printing.choose._live_reason`` and ``assess_printers``), driven
with scripted printers (tests/printer_doubles.py) and a real SQLite journal: the journal's active jobs are
reconciled first, a job still active or a printer that cannot be asked refuses the printer, then the bed, then
the printer's own state. Each refusal's exact wording is pinned (operators act on it). The same paths against a
real OctoPrint: tests/test_print.py."""

from __future__ import annotations

import threading

import pytest
from printer_doubles import ScriptedClient, ScriptedPrinter, claimed, printing, stats
from test_mutants_printing import Recipe, Revision

from hospfab.errors import PrinterError
from hospfab.journal import Journal
from hospfab.octoprint.client import PrinterState
from hospfab.octoprint.exceptions import PrinterAuthRefused, PrinterProtocolError, PrinterUnreachable
from hospfab.octoprint.states import State
from hospfab.printing import choose


@pytest.fixture
def journal(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3")
    yield journal
    journal.close()


def live(journal, printer):
    return choose._live_reason(journal.path, printer)


def test_an_idle_printer_is_asked_once_with_the_short_answer_timeout_and_no_retry(journal):
    printer = ScriptedPrinter()
    assert live(journal, printer) == (None, "Operational")
    assert printer.client_kwargs == [{"read_timeout": 3.0, "retries": 0}]
    assert printer.scripted.calls == [("printer_state",)]  # no job of its own: nothing to reconcile
    assert printer.scripted.exited == 1


@pytest.mark.parametrize("state, text, error, expected", [
    (State.PRINTING, "Printing", None, ("busy: Printing", "Printing")),
    (State.PAUSED, "Paused", "ignored", ("busy: Paused", "Paused")),
    (State.CANCELLING, "", None, ("busy: cancelling", "cancelling")),  # no text: the state's name
    (State.ERROR, "Error", "Thermal runaway", ("not operational: Error (Thermal runaway)", "Error")),
    (State.OFFLINE, "Offline", None, ("not operational: Offline", "Offline")),
    (State.OFFLINE_AFTER_ERROR, "", "", ("not operational: offline_after_error", "offline_after_error")),
    (State.UNKNOWN, "Something new", None, ("not operational: Something new", "Something new")),
    (State.OPERATIONAL, "", None, (None, "operational")),
])
def test_only_an_idle_printer_can_take_a_job(journal, state, text, error, expected):
    printer = ScriptedPrinter(scripted=ScriptedClient(state=PrinterState(state, text, error)))
    assert live(journal, printer) == expected


@pytest.mark.parametrize("error, kind", [
    (PrinterUnreachable("printer mk4-a: connection refused (http://127.0.0.1:5000)"), "unreachable"),
    (PrinterAuthRefused("printer mk4-a: the API key was refused (HTTP 403)"), "key refused"),
    (PrinterProtocolError("printer mk4-a: unreadable answer"), None),
    (PrinterError("printer mk4-a: asked too early"), None),
])
def test_a_printer_that_cannot_be_asked_is_refused_with_its_reason_and_kind(journal, error, kind):
    printer = ScriptedPrinter()
    printer.scripted.fail("printer_state", error)
    expected = error.message.removeprefix("printer mk4-a: ")
    assert live(journal, printer) == (expected, kind)
    other = ScriptedPrinter(client_error=error)  # no client at all (a bad key source, refused at once)
    assert live(journal, other) == (expected, kind)


def test_the_printer_name_prefix_only_is_removed(journal):
    printer = ScriptedPrinter(name="mk4-b")
    printer.scripted.fail("printer_state", PrinterUnreachable("printer mk4-a: connection refused"))
    assert live(journal, printer) == ("printer mk4-a: connection refused", "unreachable")


def test_the_printers_own_active_job_is_reconciled_first(journal):
    """The journal says uploading; the printer says the job's file has printed: the job is done, and the printer
    (auto bed clearing) can take the next one."""
    job = claimed(journal)
    other = claimed(journal, "mini-b")
    printer = ScriptedPrinter()
    printer.scripted.files = {job.remote_file: stats(job.remote_file, success=1, last=True)}
    assert live(journal, printer) == (None, "Operational")
    assert journal.get(job.id).outcome == "done"
    assert journal.get(other.id).outcome == "uploading"  # another printer's job is not asked about here
    assert printer.scripted.called("file_info") == [(job.remote_file,)]


def test_a_job_still_running_refuses_the_printer(journal):
    job = claimed(journal)
    printer = ScriptedPrinter(scripted=ScriptedClient(job=printing(job.remote_file)))
    assert live(journal, printer) == (f"job {job.id} is printing on it (journal)", None)
    assert journal.get(job.id).outcome == "printing" and journal.get(job.id).progress == 42.0
    assert printer.scripted.called("printer_state") == []  # the journal answered: the state is not asked


def test_a_job_that_cannot_be_reconciled_refuses_the_printer_and_says_why(journal):
    job = claimed(journal, outcome="unknown")
    printer = ScriptedPrinter()
    printer.scripted.fail("job", PrinterUnreachable("printer mk4-a: read timeout after 3 s"))
    assert live(journal, printer) == (
        f"job {job.id} is unknown on it (journal); the printer cannot be asked: read timeout after 3 s", None)
    assert journal.get(job.id).outcome == "unknown"  # nothing guessed


def test_a_job_of_another_printer_does_not_refuse_this_one(journal):
    claimed(journal, "mini-b", outcome="printing")
    assert live(journal, ScriptedPrinter()) == (None, "Operational")


@pytest.mark.parametrize("clearing, confirmed, expected", [
    ("manual", False, ("bed not confirmed clear since its last job (run `hospfab printers cleared mk4-a`)", None)),
    ("manual", True, (None, "Operational")),
    ("auto", False, (None, "Operational")),
])
def test_a_manual_bed_must_be_confirmed_clear_after_the_last_job(journal, clearing, confirmed, expected):
    job = claimed(journal, outcome="printing", started_age_s=30)
    journal.finish(job.id, "done")
    if confirmed:
        journal.mark_bed_clear("mk4-a", "ana")
    printer = ScriptedPrinter(bed_clearing=clearing)
    assert live(journal, printer) == expected
    assert printer.scripted.called("printer_state") == ([] if expected[0] else [()])


def test_a_manual_bed_with_no_job_yet_is_clear(journal):
    assert live(journal, ScriptedPrinter(bed_clearing="manual")) == (None, "Operational")


# -- assess_printers: static checks, then every remaining printer asked at once --------------------------------

def test_assess_keeps_the_recipe_of_a_printer_that_passes_and_drops_it_for_one_that_does_not(journal):
    petg, pla = Recipe("prusa-mk4", "petg"), Recipe("prusa-mk4", "pla")
    ok = ScriptedPrinter(name="a")
    busy = ScriptedPrinter(name="b", scripted=ScriptedClient(state=PrinterState(State.PRINTING, "Printing")))
    wrong = ScriptedPrinter(name="c", material="abs")
    pla_printer = ScriptedPrinter(name="d", material="pla")
    verdicts = choose.assess_printers(journal, [ok, busy, wrong, pla_printer], Revision([petg, pla]))
    assert [(v.printer.name, v.recipe, v.reason, v.state) for v in verdicts] == [
        ("a", petg, None, "Operational"),
        ("b", None, "busy: Printing", "Printing"),
        ("c", None, "material abs loaded, the recipe needs petg/pla", None),
        ("d", pla, None, "Operational"),
    ]
    assert [v.eligible for v in verdicts] == [True, False, False, True]
    assert wrong.client_kwargs == []  # refused by the static checks: never asked


def test_assess_asks_the_printers_concurrently(journal):
    """Each printer answers only once all three are being asked: a one-at-a-time loop would break the barrier
    (a silent printer must cost one answer timeout for the whole fleet, not one per printer)."""
    barrier = threading.Barrier(3, timeout=10)
    printers = [ScriptedPrinter(name=n) for n in "abc"]
    for p in printers:
        p.scripted.hooks["printer_state"] = lambda: barrier.wait()
    verdicts = choose.assess_printers(journal, printers, Revision([Recipe("prusa-mk4", "petg")]))
    assert [(v.printer.name, v.eligible) for v in verdicts] == [("a", True), ("b", True), ("c", True)]


def test_assess_with_no_printers_is_empty(journal):
    assert choose.assess_printers(journal, [], Revision([Recipe("prusa-mk4", "petg")])) == []


def test_each_printer_reads_the_journal_on_its_own_connection(journal, monkeypatch):
    """The live check opens the journal at the path it is given (one connection per thread) and closes it."""
    opened, closed = [], []

    class Recording(Journal):
        def __init__(self, path):
            opened.append(path)
            super().__init__(path)

        def close(self):
            closed.append(self.path)
            super().close()

    monkeypatch.setattr(choose, "Journal", Recording)
    printer = ScriptedPrinter()
    printer.scripted.fail("printer_state", PrinterUnreachable("printer mk4-a: down"))
    choose.assess_printers(journal, [printer, ScriptedPrinter(name="b")], Revision([Recipe("prusa-mk4", "petg")]))
    assert opened == [journal.path, journal.path] and len(closed) == 2

