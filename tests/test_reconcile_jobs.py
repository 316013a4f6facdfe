"""Bringing journal jobs to their outcome from what the printer says (``hospfab.printing.reconcile``), driven
with scripted printers (tests/printer_doubles.py) and a real SQLite journal in tmp_path.

Safety points pinned here: a job whose printer cannot be asked keeps its recorded state (nothing guessed); an
``unknown`` send is never taken as failed: it is done or failed from the printer's file statistics, or its
never-printed file is deleted first (then it can never start) and only then recorded lost; a job still being
uploaded, or just started, is left alone for a grace period; a cancel is only recorded once the printer runs
it no more. The real-server versions: tests/test_print.py, tests/test_faults_print.py."""

from __future__ import annotations

import threading

import pytest
from printer_doubles import journal  # noqa: F401 - fixture
from printer_doubles import Clock, ScriptedClient, ScriptedPrinter, ago, claimed, idle_job, printing, stats

from hospfab.errors import PrinterError
from hospfab.octoprint.client import JobInfo
from hospfab.octoprint.exceptions import PrinterConflict, PrinterNotFound, PrinterUnreachable
from hospfab.octoprint.states import BUSY_STATES, State
from hospfab.printing import reconcile
from hospfab.printing.reconcile import reconcile_job


@pytest.fixture
def clock(monkeypatch):
    return Clock().install(monkeypatch, reconcile)


def test_the_timeouts_are_the_documented_ones():
    assert (reconcile.UPLOAD_GRACE_S, reconcile.START_GRACE_S, reconcile.CANCEL_SETTLE_S,
            reconcile.ASK_TIMEOUT_S, reconcile.GIVE_UP_S) == (120.0, 60.0, 15.0, 3.0, 120.0)


def test_a_job_without_a_time_has_no_age():
    assert reconcile._age_s(None) == 0.0 and reconcile._age_s("") == 0.0
    assert 99.0 < reconcile._age_s(ago(100)) < 101.0


# -- reconcile_job ------------------------------------------------------------------------------------------

def test_a_finished_job_or_one_without_a_file_is_not_asked_about(journal):
    client = ScriptedClient()
    done = journal.finish(claimed(journal, "a").id, "done")
    assert reconcile_job(journal, done, client) == done
    nameless = claimed(journal, "b", remote_file=None)
    assert reconcile_job(journal, nameless, client) == nameless
    assert client.calls == []


def test_the_printer_running_the_jobs_file_makes_it_printing_with_its_progress(journal):
    job = claimed(journal)
    recorded = reconcile_job(journal, job, ScriptedClient(job=printing(job.remote_file, 37.5)))
    assert (recorded.outcome, recorded.progress) == ("printing", 37.5)
    assert recorded.started_at is not None and recorded == journal.get(job.id)


def test_a_job_already_started_keeps_its_start_time(journal):
    job = claimed(journal, outcome="printing", started_age_s=300)
    for state in (State.PAUSED, State.FINISHING):  # every busy state is "the job runs"
        recorded = reconcile_job(journal, job, ScriptedClient(job=printing(job.remote_file, 90.0, state)))
        assert (recorded.outcome, recorded.started_at, recorded.progress) == ("printing", job.started_at, 90.0)


@pytest.mark.parametrize("outcome", ["uploading", "unknown"])
def test_a_file_not_there_yet_is_waited_for_during_the_upload_grace(journal, outcome):
    job = claimed(journal, outcome=outcome, age_s=110)
    client = ScriptedClient()
    assert reconcile_job(journal, job, client) == job
    assert journal.get(job.id).outcome == outcome and client.called("file_info") == [(job.remote_file,)]


@pytest.mark.parametrize("outcome, age_s", [("uploading", 120.5), ("unknown", 130), ("printing", 1)])
def test_a_file_gone_from_the_printer_is_lost(journal, outcome, age_s):
    job = claimed(journal, outcome=outcome, age_s=age_s)
    recorded = reconcile_job(journal, job, ScriptedClient())
    assert (recorded.outcome, recorded.reason) == ("lost", f"file {job.remote_file} is no longer on printer mk4-a")
    assert recorded.ended_at is not None


def test_an_unknown_send_never_printed_is_deleted_then_lost(journal):
    job = claimed(journal, outcome="unknown")
    client = ScriptedClient(job=printing("someone-else.gcode"), files={job.remote_file: stats(job.remote_file)})
    recorded = reconcile_job(journal, job, client)
    assert (recorded.outcome, recorded.reason) == (
        "lost", f"not printed: {job.remote_file} was on printer mk4-a but never ran; removed")
    assert client.called("delete_file") == [(job.remote_file,)] and job.remote_file not in client.files


@pytest.mark.parametrize("error", [PrinterConflict("printer mk4-a: file in use"),
                                   PrinterNotFound("printer mk4-a: no such file")])
def test_an_unknown_send_whose_file_cannot_be_deleted_stays_unknown(journal, error):
    job = claimed(journal, outcome="unknown")
    client = ScriptedClient(files={job.remote_file: stats(job.remote_file)})
    client.fail("delete_file", error)
    assert reconcile_job(journal, job, client) == job
    assert journal.get(job.id).outcome == "unknown"


def test_an_unknown_send_selected_but_idle_is_not_deleted(journal):
    """Its file is selected on the printer (not running): it is not deleted under the operator's eyes, and
    without a print it is lost (the printer shows no print of it)."""
    job = claimed(journal, outcome="unknown")
    selected = JobInfo(State.OPERATIONAL, "Operational", job.remote_file, None, None, None)
    client = ScriptedClient(job=selected, files={job.remote_file: stats(job.remote_file)})
    recorded = reconcile_job(journal, job, client)
    assert (recorded.outcome, recorded.reason) == ("lost", f"printer mk4-a shows no print of {job.remote_file}")
    assert client.called("delete_file") == []


@pytest.mark.parametrize("success, failure, last, outcome", [
    (1, 0, True, "done"), (1, 1, True, "done"), (0, 1, False, "failed"), (2, 2, False, "failed")])
def test_an_unknown_send_that_printed_takes_the_outcome_of_the_print(journal, success, failure, last, outcome):
    """Never "failed" for a lost answer alone: the printer's statistics decide, and the file is kept."""
    job = claimed(journal, outcome="unknown")
    client = ScriptedClient(files={job.remote_file: stats(job.remote_file, success, failure, last)})
    recorded = reconcile_job(journal, job, client)
    assert recorded.outcome == outcome and client.called("delete_file") == []
    assert recorded.started_at is not None


@pytest.mark.parametrize("error, text, reason", [
    ("Thermal runaway", "Error", "Thermal runaway"), (None, "Offline after error", "Offline after error"),
    (None, "", "printer error")])
def test_the_jobs_file_selected_on_a_printer_in_error_before_any_print_fails(journal, error, text, reason):
    job = claimed(journal, outcome="printing", started_age_s=1)
    info = JobInfo(State.ERROR if text != "Offline after error" else State.OFFLINE_AFTER_ERROR, text,
                   job.remote_file, None, None, None, error)
    recorded = reconcile_job(journal, job, ScriptedClient(job=info, files={job.remote_file: stats(job.remote_file)}))
    assert (recorded.outcome, recorded.reason) == ("failed", reason)


def test_another_files_error_does_not_fail_the_job(journal):
    job = claimed(journal, outcome="printing", started_age_s=1)
    info = JobInfo(State.ERROR, "Error", "other.gcode", None, None, None, "Thermal runaway")
    client = ScriptedClient(job=info, files={job.remote_file: stats(job.remote_file)})
    assert reconcile_job(journal, job, client) == job


@pytest.mark.parametrize("outcome, created_s, started_s, kept", [
    ("uploading", 110, None, True),
    ("uploading", 120.5, None, False),
    ("printing", 200, 59, True),
    ("printing", 200, 61, False),
    ("printing", 59, None, True),  # never marked started: counted from its creation
    ("printing", 61, None, False),
    ("printing", 90, 30, True),  # a long upload: counted from the start, not the creation
])
def test_no_print_yet_is_waited_for_during_the_grace_periods(journal, outcome, created_s, started_s, kept):
    job = claimed(journal, outcome=outcome, age_s=created_s, started_age_s=started_s)
    client = ScriptedClient(files={job.remote_file: stats(job.remote_file)})
    recorded = reconcile_job(journal, job, client)
    if kept:
        assert recorded == job
    else:
        assert (recorded.outcome, recorded.reason) == ("lost", f"printer mk4-a shows no print of {job.remote_file}")
    assert client.called("delete_file") == []


def test_a_successful_print_is_done_and_marked_started(journal):
    job = claimed(journal)
    recorded = reconcile_job(journal, job, ScriptedClient(files={job.remote_file: stats(job.remote_file, 1, 0, True)}))
    assert (recorded.outcome, recorded.reason, recorded.progress) == ("done", None, 100.0)
    assert recorded.started_at is not None and recorded.ended_at is not None


def test_a_done_job_keeps_its_start_time(journal):
    job = claimed(journal, outcome="printing", started_age_s=600)
    recorded = reconcile_job(journal, job, ScriptedClient(files={job.remote_file: stats(job.remote_file, 1, 0, True)}))
    assert recorded.outcome == "done" and recorded.started_at == job.started_at


@pytest.mark.parametrize("file_name, state, error, text, outcome, reason", [
    # OctoPrint deselects the file after a firmware error: the printer's error is this job's reason
    (None, State.OFFLINE_AFTER_ERROR, "Thermal runaway", "Offline after error", "failed", "Thermal runaway"),
    (None, State.ERROR, None, "Error", "failed", "Error"),
    (None, State.OPERATIONAL, "Heater failed", "Operational", "failed", "Heater failed"),
    ("ours", State.ERROR, None, "Error: MINTEMP", "failed", "Error: MINTEMP"),
    # a cancelled job: its file still selected, progress cleared, no error
    ("ours", State.OPERATIONAL, None, "Operational", "cancelled", "cancelled on printer mk4-a"),
    # another file's error, or no error at all: failed without a printer reason
    ("other.gcode", State.ERROR, "Thermal runaway", "Error", "failed",
     "printer mk4-a recorded the print as failed or cancelled"),
    (None, State.OPERATIONAL, None, "Operational", "failed", "printer mk4-a recorded the print as failed or cancelled"),
])
def test_a_failed_print_is_failed_or_cancelled_from_what_the_printer_shows(journal, file_name, state, error, text,
                                                                           outcome, reason):
    job = claimed(journal, outcome="printing", started_age_s=100)
    name = job.remote_file if file_name == "ours" else file_name
    info = JobInfo(state, text, name, None, None, None, error)
    client = ScriptedClient(job=info, files={job.remote_file: stats(job.remote_file, 0, 1, False)})
    recorded = reconcile_job(journal, job, client)
    assert (recorded.outcome, recorded.reason) == (outcome, reason)


def test_a_selected_failed_file_with_progress_is_failed_not_cancelled(journal):
    job = claimed(journal, outcome="printing", started_age_s=100)
    info = JobInfo(State.OPERATIONAL, "Operational", job.remote_file, 63.0, None, None)
    client = ScriptedClient(job=info, files={job.remote_file: stats(job.remote_file, 0, 1, False)})
    assert reconcile_job(journal, job, client).outcome == "failed"


def test_a_printer_that_cannot_be_asked_changes_nothing(journal):
    job = claimed(journal, outcome="unknown")
    client = ScriptedClient()
    client.fail("job", PrinterUnreachable("printer mk4-a: connection refused"))
    with pytest.raises(PrinterUnreachable):
        reconcile_job(journal, job, client)
    client.fail("file_info", PrinterError("printer mk4-a: HTTP 500"))
    with pytest.raises(PrinterError, match="HTTP 500"):
        reconcile_job(journal, job, client)
    assert journal.get(job.id) == job


# -- reconcile_active ---------------------------------------------------------------------------------------

def test_reconcile_active_asks_each_fleet_printer_about_its_own_jobs(journal):
    a_job, b_job, c_job = claimed(journal, "a"), claimed(journal, "b"), claimed(journal, "c")
    a = ScriptedPrinter(name="a")
    a.scripted.files = {a_job.remote_file: stats(a_job.remote_file, 1, 0, True)}
    b = ScriptedPrinter(name="b", client_error=PrinterUnreachable("printer b: connection refused"))
    idle = ScriptedPrinter(name="idle")
    problems = reconcile.reconcile_active(journal, [a, b, idle])
    assert problems == {"b": "printer b: connection refused", "c": "not in the fleet file"}
    assert a.client_kwargs == [{"read_timeout": 3.0, "retries": 0}] and idle.client_kwargs == []
    assert a.scripted.called("file_info") == [(a_job.remote_file,)]
    assert [journal.get(j.id).outcome for j in (a_job, b_job, c_job)] == ["done", "uploading", "uploading"]


def test_reconcile_active_only_one_printer(journal):
    a_job, b_job = claimed(journal, "a"), claimed(journal, "b")
    a, b = ScriptedPrinter(name="a"), ScriptedPrinter(name="b")
    for printer, job in ((a, a_job), (b, b_job)):
        printer.scripted.files = {job.remote_file: stats(job.remote_file, 1, 0, True)}
    assert reconcile.reconcile_active(journal, [a, b], only="b") == {}
    assert (journal.get(a_job.id).outcome, journal.get(b_job.id).outcome) == ("uploading", "done")
    assert reconcile.reconcile_active(journal, [a, b], only="c") == {}  # nothing active there


def test_reconcile_active_asks_the_printers_concurrently(journal):
    barrier = threading.Barrier(2, timeout=10)
    printers = []
    for name in ("a", "b"):
        claimed(journal, name)
        printer = ScriptedPrinter(name=name)
        printer.scripted.hooks["job"] = lambda: barrier.wait()
        printers.append(printer)
    assert reconcile.reconcile_active(journal, printers) == {}


# -- watch_job ----------------------------------------------------------------------------------------------

def test_watch_polls_until_the_job_ends(journal, clock):
    job = claimed(journal, outcome="printing", started_age_s=5)
    client = ScriptedClient(job=printing(job.remote_file, 10.0))
    seen = []

    def update(j, info, silent_s):
        seen.append((j.outcome, j.progress, info.completion if info else None, silent_s))
        if len(seen) == 2:
            client.job_info = idle_job()
            client.files = {job.remote_file: stats(job.remote_file, 1, 0, True)}

    final = reconcile.watch_job(journal, job.id, client, update)
    assert final.outcome == "done" and final == journal.get(job.id)
    assert seen == [("printing", 10.0, 10.0, 0.0), ("printing", 10.0, 10.0, 0.0), ("done", 100.0, None, 0.0)]
    assert clock.sleeps == [0.5, 0.5]


def test_watch_gives_up_after_the_printer_stayed_silent(journal, clock):
    job = claimed(journal, outcome="printing", started_age_s=5)
    client = ScriptedClient(job=printing(job.remote_file))
    client.fail("job", None, None, *[PrinterUnreachable("printer mk4-a: read timeout")] * 20)
    silences = []
    with pytest.raises(reconcile.WaitAbandoned) as caught:
        reconcile.watch_job(journal, job.id, client, lambda j, info, s: silences.append((s, info is None)),
                            poll_s=1.0, give_up_s=3.0)
    assert silences == [(0.0, False), (0.0, True), (1.0, True), (2.0, True), (3.0, True)]
    assert caught.value.message == (
        f"job {job.id}: printer mk4-a has not answered for 3 s (printer mk4-a: read timeout); stopped waiting. "
        f"The job stays printing in the journal; `hospfab jobs show {job.id}` records its outcome once the "
        "printer answers")
    assert caught.value.details == {"job_id": job.id, "state": "printing"} and caught.value.exit_code == 3
    assert journal.get(job.id).outcome == "printing"


def test_watch_gives_up_after_two_minutes_by_default_and_an_answer_restarts_the_count(journal, clock):
    job = claimed(journal, outcome="printing", started_age_s=5)
    client = ScriptedClient(job=printing(job.remote_file))
    down = PrinterUnreachable("printer mk4-a: down")
    client.fail("job", down, None, None, *[down] * 400)  # silent, answers once, then silent for good
    silences = []
    with pytest.raises(reconcile.WaitAbandoned):
        reconcile.watch_job(journal, job.id, client, lambda j, info, s: silences.append(s))
    assert silences[:3] == [0.0, 0.0, 0.0] and silences[-1] == 120.0 and silences[-2] == 119.5
    assert clock.sleeps == [0.5] * (len(silences) - 1)


def test_watch_stops_at_its_timeout(journal, clock):
    job = claimed(journal, outcome="printing", started_age_s=5)
    client = ScriptedClient(job=printing(job.remote_file))
    with pytest.raises(PrinterError) as caught:
        reconcile.watch_job(journal, job.id, client, poll_s=1.0, timeout_s=2.0)
    assert caught.value.message == f"job {job.id}: still printing on mk4-a after 2 s"
    assert not isinstance(caught.value, reconcile.WaitAbandoned) and clock.sleeps == [1.0, 1.0]


def test_watch_returns_a_job_already_ended_without_waiting(journal, clock):
    job = journal.finish(claimed(journal).id, "done")
    client = ScriptedClient()
    assert reconcile.watch_job(journal, job.id, client) == job
    assert client.calls == [] and clock.sleeps == []


# -- cancel_job ---------------------------------------------------------------------------------------------

def test_cancel_stops_the_running_job_waits_for_the_printer_and_records_who(journal):
    job = claimed(journal, outcome="printing", started_age_s=5)
    printer = ScriptedPrinter(scripted=ScriptedClient(job=printing(job.remote_file)))
    recorded = reconcile.cancel_job(journal, job.id, printer, "ana")
    assert (recorded.outcome, recorded.reason) == ("cancelled", "cancelled by ana")
    assert printer.scripted.called("cancel") == [()]
    assert printer.scripted.called("wait_for") == [(frozenset(State) - BUSY_STATES, 15.0)]


def test_cancel_is_recorded_when_the_printer_is_slow_to_settle(journal):
    job = claimed(journal, outcome="printing", started_age_s=5)
    printer = ScriptedPrinter(scripted=ScriptedClient(job=printing(job.remote_file)))
    printer.scripted.fail("wait_for", PrinterError("printer mk4-a: still Cancelling after 15 s"))
    assert reconcile.cancel_job(journal, job.id, printer, "ana").outcome == "cancelled"


def test_cancel_of_a_job_already_ended_changes_nothing(journal):
    job = claimed(journal, outcome="printing", started_age_s=5)
    printer = ScriptedPrinter(scripted=ScriptedClient(files={job.remote_file: stats(job.remote_file, 1, 0, True)}))
    recorded = reconcile.cancel_job(journal, job.id, printer, "ana")
    assert (recorded.outcome, recorded.reason) == ("done", None) and printer.scripted.called("cancel") == []


def test_cancel_refuses_a_job_still_uploading(journal):
    job = claimed(journal)
    printer = ScriptedPrinter()
    with pytest.raises(PrinterError) as caught:
        reconcile.cancel_job(journal, job.id, printer, "ana")
    assert caught.value.message == f"job {job.id}: still being uploaded to mk4-a; try again in a moment"
    assert journal.get(job.id).outcome == "uploading" and printer.scripted.called("cancel") == []


def test_cancel_refuses_a_printing_job_the_printer_does_not_run(journal):
    job = claimed(journal, outcome="printing", started_age_s=5)
    printer = ScriptedPrinter(scripted=ScriptedClient(files={job.remote_file: stats(job.remote_file)}))
    with pytest.raises(PrinterError) as caught:
        reconcile.cancel_job(journal, job.id, printer, "ana")
    assert caught.value.message == (
        f"job {job.id}: printer mk4-a is not running it (it shows 'Operational'); nothing cancelled")
    assert journal.get(job.id).outcome == "printing" and printer.scripted.called("cancel") == []


def test_cancel_of_an_unknown_send_not_on_the_printer_is_recorded_without_cancelling_anything(journal):
    job = claimed(journal, outcome="unknown")
    printer = ScriptedPrinter(scripted=ScriptedClient(job=printing("other.gcode")))
    recorded = reconcile.cancel_job(journal, job.id, printer, "bo")
    assert (recorded.outcome, recorded.reason) == ("cancelled", "cancelled by bo")
    assert printer.scripted.called("cancel") == [] and printer.client_kwargs == [{}]
