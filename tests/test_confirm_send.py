"""Asking the printer what an ambiguous send did (``hospfab.printing.confirm.confirm_send``), with a scripted
printer (tests/printer_doubles.py) and a clock that moves only when the code sleeps.

Safety points pinned here: "sent" only when the printer runs the file or counted a print of it; "not sent" only
once the file is deleted (it can never start) or stayed absent for the whole settle time; "unknown" whenever the
printer cannot be asked or keeps the file in use without running it: never a guess."""

from __future__ import annotations


import pytest
from printer_doubles import Clock, ScriptedClient, printing, stats

from hospfab.errors import PrinterError
from hospfab.octoprint.client import JobInfo
from hospfab.octoprint.exceptions import PrinterConflict, PrinterNotFound, PrinterUnreachable
from hospfab.octoprint.states import State
from hospfab.printing import confirm
from hospfab.printing.confirm import NOT_SENT, SENT, UNKNOWN, SendVerdict, confirm_send

FILE = "KNOB-r1-261204-aa.gcode"


@pytest.fixture
def clock(monkeypatch):
    return Clock().install(monkeypatch, confirm)


def test_the_verdict_names_and_timings():
    assert (SENT, NOT_SENT, UNKNOWN) == ("sent", "not sent", "unknown")
    assert (confirm.SETTLE_S, confirm.ASK_POLL_S) == (3.0, 0.5)


@pytest.mark.parametrize("state, text, shown", [
    (State.PRINTING, "Printing", "Printing"), (State.STARTING, "", "printing"), (State.PAUSED, "Paused", "Paused")])
def test_the_printer_running_the_file_means_sent(clock, state, text, shown):
    client = ScriptedClient(job=JobInfo(state, text, FILE, 1.0, None, None))
    assert confirm_send(client, FILE) == SendVerdict(SENT, f"the printer shows {FILE} {shown}")
    assert client.called("file_info") == [] and clock.sleeps == []


@pytest.mark.parametrize("success, failure", [(1, 0), (0, 1), (3, 3)])
def test_a_print_counted_for_the_file_means_sent(clock, success, failure):
    client = ScriptedClient(job=printing("other.gcode"), files={FILE: stats(FILE, success, failure)})
    assert confirm_send(client, FILE) == SendVerdict(SENT, f"the printer recorded a print of {FILE}")
    assert client.called("delete_file") == [] and FILE in client.files


def test_the_file_there_but_never_started_is_deleted_then_not_sent(clock):
    selected = JobInfo(State.OPERATIONAL, "Operational", FILE, None, None, None)  # selected, not running
    client = ScriptedClient(job=selected, files={FILE: stats(FILE)})
    assert confirm_send(client, FILE) == SendVerdict(NOT_SENT, f"{FILE} arrived but was not started; it was removed")
    assert client.called("delete_file") == [(FILE,)] and FILE not in client.files and clock.sleeps == []


def test_a_file_in_use_is_asked_about_again(clock):
    """409 to the delete: the file is starting. The next question finds it printing: sent."""
    client = ScriptedClient(files={FILE: stats(FILE)})
    client.fail("delete_file", PrinterConflict("printer mk4-a: file in use"))
    client.hooks["delete_file"] = lambda name: setattr(client, "job_info", printing(FILE))
    assert confirm_send(client, FILE).kind == SENT
    assert clock.sleeps == [0.5] and len(client.called("job")) == 2


def test_a_file_that_vanishes_while_being_deleted_is_looked_for_again(clock):
    client = ScriptedClient(files={FILE: stats(FILE)})
    client.hooks["delete_file"] = client.files.pop  # removed by someone else just before our delete
    client.fail("delete_file", PrinterNotFound("printer mk4-a: no such file"))
    verdict = confirm_send(client, FILE, settle_s=1.0)
    assert verdict == SendVerdict(NOT_SENT, f"the printer has no file {FILE}")
    assert len(client.called("delete_file")) == 1 and clock.sleeps == [0.5, 0.5]


def test_an_absent_file_is_looked_for_during_the_settle_time(clock):
    client = ScriptedClient()
    start = clock.now
    assert confirm_send(client, FILE) == SendVerdict(NOT_SENT, f"the printer has no file {FILE}")
    assert clock.now - start == 3.0 and clock.sleeps == [0.5] * 6 and len(client.called("file_info")) == 7


def test_a_file_that_appears_during_the_settle_time_is_found(clock):
    """An upload still being stored appears late: then it is deleted (never started), not taken as absent."""
    client = ScriptedClient()

    def arrive(name):
        if len(client.called("file_info")) == 4:
            client.files[FILE] = stats(FILE)

    client.hooks["file_info"] = arrive
    assert confirm_send(client, FILE).kind == NOT_SENT
    assert client.called("delete_file") == [(FILE,)] and clock.sleeps == [0.5] * 3


def test_a_file_that_starts_during_the_settle_time_is_sent(clock):
    client = ScriptedClient()
    client.hooks["file_info"] = lambda name: setattr(client, "job_info", printing(FILE))
    assert confirm_send(client, FILE, settle_s=2.0).kind == SENT
    assert clock.sleeps == [0.5]


def test_a_file_in_use_that_never_runs_is_unknown_after_twice_the_settle_time(clock):
    client = ScriptedClient(files={FILE: stats(FILE)})
    client.fail("delete_file", *[PrinterConflict("printer mk4-a: file in use")] * 100)
    start = clock.now
    assert confirm_send(client, FILE, settle_s=2.0) == SendVerdict(
        UNKNOWN, f"{FILE} is on the printer, in use, but not shown printing")
    assert clock.now - start == 4.0 and len(client.called("delete_file")) == 9 and FILE in client.files


@pytest.mark.parametrize("method", ["job", "file_info", "delete_file"])
def test_a_printer_that_cannot_be_asked_is_unknown(clock, method):
    client = ScriptedClient(files={FILE: stats(FILE)})
    client.fail(method, PrinterUnreachable("printer mk4-a: read timeout"))
    assert confirm_send(client, FILE) == SendVerdict(
        UNKNOWN, "the printer could not be asked: printer mk4-a: read timeout")
    assert FILE in client.files


def test_any_printer_error_is_unknown_not_a_crash(clock):
    client = ScriptedClient()
    client.fail("file_info", PrinterError("printer mk4-a: HTTP 500"))
    assert confirm_send(client, FILE).kind == UNKNOWN
