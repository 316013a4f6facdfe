"""The print path's send (``hospfab.printing.send``): which revision may be printed, which printer gets the job,
the upload, and how every ending is recorded. Driven with a catalog stand-in (only the four calls the print path
makes), scripted printers (tests/printer_doubles.py) and a real SQLite journal in tmp_path.

Safety points pinned here: a draft or tampered revision is refused before anything is claimed; the bytes
uploaded are the staged copy whose hash was checked; a printer is claimed before the upload and a claim lost
to another print moves on to the next printer (a job is never sent twice, a printer never gets two jobs); a send
whose answer is lost is never recorded as failed: it is printing or not sent as the printer shows, or
``unknown`` with the printer kept claimed. The real-server versions: tests/test_print.py and
tests/test_faults_print.py."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from printer_doubles import journal  # noqa: F401 - fixture
from printer_doubles import Clock, ScriptedClient, ScriptedPrinter, claimed, printing, stats

from hospfab.errors import IntegrityError, NotFoundError, PrinterError, SafetyError
from hospfab.journal import Journal
from hospfab.journal.db import JournalError
from hospfab.octoprint.client import PrinterState, UploadResult
from hospfab.octoprint.exceptions import (PrinterAuthRefused, PrinterConflict, PrinterUnreachable,
                                          SendConflictUnconfirmed, SendUnconfirmed)
from hospfab.octoprint.states import State
from hospfab.printing import confirm, send
from hospfab.printing.choose import NoPrinterAvailable


@dataclass
class Recipe:
    printer: str
    material: str
    build_file: Path
    sha256: str
    test_only: bool = False
    estimates: dict[str, Any] = field(default_factory=lambda: {"minutes": 12})


@dataclass
class Revision:
    recipes: list[Recipe]
    ref: str = "KNOB"
    rev: int = 1
    status: str = "validated"

    @property
    def spec(self) -> str:
        return f"{self.ref}@{self.rev}"


class Catalog:
    """The four calls ``resolve_for_print`` makes of ``hospfab.catalog.store.Catalog``."""

    def __init__(self, *revisions: Revision, tampered: bool = False) -> None:
        self.revisions = {r.spec: r for r in revisions}
        self.tampered = tampered
        self.verified: list[tuple[str, bool]] = []

    def resolve(self, spec: str) -> Revision:
        if "@" in spec:
            return self.revisions[spec]
        valid = [r for r in self.revisions.values() if r.ref == spec and r.status == "validated"]
        if not valid:
            raise SafetyError(f"{spec}: no validated revision", code="not_validated")
        return valid[-1]

    def get(self, ref: str) -> SimpleNamespace:
        return SimpleNamespace(latest=[r for r in self.revisions.values() if r.ref == ref][-1])

    def refusal(self, revision: Revision) -> SafetyError:
        return SafetyError(f"{revision.spec} is {revision.status}: refused", code="not_validated")

    def verify_revision(self, revision: Revision, *, unsigned_ok: bool = False) -> dict[str, Any]:
        self.verified.append((revision.spec, unsigned_ok))
        if self.tampered:
            raise IntegrityError(f"{revision.spec}: build/k.gcode differs from its manifest")
        return {}


@pytest.fixture(autouse=True)
def instant_confirm(monkeypatch):
    """The printer is asked after an ambiguous answer; its settle time passes instantly here."""
    Clock(0.0).install(monkeypatch, confirm)


@pytest.fixture
def staging(tmp_path, monkeypatch):
    """Where the print path makes its private staging folders (checked empty after each print)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def recipe(tmp_path: Path, material: str = "petg", data: bytes = b"G28\nG1 X10\n", name: str = "k.gcode",
           printer: str = "prusa-mk4") -> Recipe:
    folder = tmp_path / f"build-{material}-{hashlib.sha256(data).hexdigest()[:6]}"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return Recipe(printer, material, path, hashlib.sha256(data).hexdigest())


def options(**kwargs: Any) -> send.PrintOptions:
    return send.PrintOptions(operator="ana", **kwargs)


# -- resolve_for_print: only a validated, verified revision without an override -----------------------------

def test_a_validated_revision_is_verified_with_its_signatures(tmp_path):
    rev = Revision([])
    catalog = Catalog(rev)
    assert send.resolve_for_print(catalog, "KNOB", allow_draft=False) == (rev, {})
    assert catalog.verified == [("KNOB@1", False)]


@pytest.mark.parametrize("status", ["draft", "retired"])
def test_a_draft_or_retired_revision_is_refused_unless_allowed(status):
    rev = Revision([], rev=2, status=status)
    catalog = Catalog(Revision([]), rev)
    with pytest.raises(SafetyError, match=f"KNOB@2 is {status}: refused"):
        send.resolve_for_print(catalog, "KNOB@2", allow_draft=False)
    assert catalog.verified == []
    assert send.resolve_for_print(catalog, "KNOB@2", allow_draft=True) == (
        rev, {"allow_draft": True, "status": status})
    assert catalog.verified == [("KNOB@2", True)]  # unsigned allowed only for an override


def test_a_part_with_no_validated_revision_prints_its_latest_only_when_allowed():
    draft = Revision([], rev=1, status="draft")
    catalog = Catalog(draft)
    with pytest.raises(SafetyError, match="no validated revision") as caught:
        send.resolve_for_print(catalog, "KNOB", allow_draft=False)
    assert caught.value.code == "not_validated"
    assert send.resolve_for_print(catalog, "KNOB", allow_draft=True) == (draft, {"allow_draft": True,
                                                                                 "status": "draft"})


def test_allow_draft_does_not_hide_other_refusals():
    class Refusing(Catalog):
        def resolve(self, spec):
            raise SafetyError(f"{spec}: retired for a recall", code="retired")

    with pytest.raises(SafetyError, match="retired for a recall"):
        send.resolve_for_print(Refusing(Revision([])), "KNOB", allow_draft=True)


def test_a_named_revision_that_cannot_be_resolved_is_not_replaced_by_the_latest():
    class NotValidated(Catalog):
        def resolve(self, spec):
            raise SafetyError(f"{spec}: not validated", code="not_validated")

    with pytest.raises(SafetyError, match="KNOB@1: not validated"):
        send.resolve_for_print(NotValidated(Revision([])), "KNOB@1", allow_draft=True)


def test_a_tampered_revision_is_refused(tmp_path, journal, staging):
    catalog = Catalog(Revision([recipe(tmp_path)]), tampered=True)
    printer = ScriptedPrinter()
    with pytest.raises(IntegrityError, match="differs from its manifest"):
        send.print_reference(catalog, [printer], journal, "KNOB", options())
    assert journal.jobs() == [] and printer.client_kwargs == []


# -- print_reference: choose, stage, claim, send ---------------------------------------------------------------

def test_a_print_goes_to_the_first_printer_that_can_take_it(tmp_path, journal, staging):
    r = recipe(tmp_path, data=b"G28\n" * 1000)
    busy = ScriptedPrinter(name="a", scripted=ScriptedClient(state=PrinterState(State.PRINTING, "Printing")))
    free, spare = ScriptedPrinter(name="b"), ScriptedPrinter(name="c")
    result = send.print_reference(Catalog(Revision([r])), [busy, free, spare], journal, "KNOB", options())
    job = result.job
    assert result.printer is free and result.recipe is r and job == journal.get(job.id)
    assert (job.outcome, job.printer, job.operator, job.remote_file) == ("printing", "b", "ana",
                                                                         f"KNOB-r1-{job.id}.gcode")
    (data, remote, userdata, select, print_), = free.scripted.called("upload")
    assert (data, remote, select, print_) == (b"G28\n" * 1000, job.remote_file, True, True)
    assert userdata == {"hospfab": {"job_id": job.id, "ref": "KNOB", "revision": 1, "sha256": r.sha256,
                                    "operator": "ana"}}
    assert busy.scripted.called("upload") == [] and spare.scripted.called("upload") == []
    assert free.client_kwargs == [{"read_timeout": 3.0, "retries": 0}, {}]  # asked, then one session to send
    assert [a.printer.name for a in result.assessments] == ["a", "b", "c"]
    assert result.as_dict()["state"] == "printing" and result.overrides == {}
    assert list(staging.iterdir()) == []  # the staged copies are removed


def test_a_dry_run_chooses_and_sends_nothing(tmp_path, journal, staging):
    r = recipe(tmp_path)
    a, b = ScriptedPrinter(name="a", material="pla"), ScriptedPrinter(name="b")
    result = send.print_reference(Catalog(Revision([r])), [a, b], journal, "KNOB", options(dry_run=True))
    assert (result.printer, result.recipe, result.job) == (b, r, None)
    assert result.as_dict()["state"] == "dry-run" and result.as_dict()["job_id"] is None
    assert journal.jobs() == [] and b.scripted.called("upload") == []
    assert list(staging.iterdir()) == []


def test_a_dry_run_with_no_printer_says_why(tmp_path, journal, staging):
    a = ScriptedPrinter(name="a", scripted=ScriptedClient(state=PrinterState(State.PRINTING, "Printing")))
    with pytest.raises(NoPrinterAvailable, match="no printer can take KNOB@1: a: busy: Printing"):
        send.print_reference(Catalog(Revision([recipe(tmp_path)])), [a], journal, "KNOB", options(dry_run=True))


def test_only_the_printer_asked_for(tmp_path, journal, staging):
    a, b = ScriptedPrinter(name="a"), ScriptedPrinter(name="b")
    catalog = Catalog(Revision([recipe(tmp_path)]))
    result = send.print_reference(catalog, [a, b], journal, "KNOB", options(printer="b"))
    assert result.printer is b and a.client_kwargs == [] and [v.printer for v in result.assessments] == [b]
    with pytest.raises(NotFoundError, match="printer c: not in the fleet file"):
        send.print_reference(catalog, [a, b], journal, "KNOB", options(printer="c"))


def test_a_build_file_that_differs_from_its_recipe_is_never_sent(tmp_path, journal, staging):
    r = recipe(tmp_path)
    r.build_file.write_bytes(b"G1 Z-5\n")  # changed after validation
    printer = ScriptedPrinter()
    with pytest.raises(IntegrityError, match="sha256 differs from the validated recipe; refused"):
        send.print_reference(Catalog(Revision([r])), [printer], journal, "KNOB", options())
    assert journal.jobs() == [] and printer.scripted.called("upload") == []
    assert list(staging.iterdir()) == []


def test_each_recipe_is_staged_apart_and_the_chosen_ones_bytes_are_sent(tmp_path, journal, staging):
    pla = recipe(tmp_path, "pla", b"; pla\n")
    petg = recipe(tmp_path, "petg", b"; petg\n")  # the same file name, other bytes
    a, b = ScriptedPrinter(name="a", material="pla"), ScriptedPrinter(name="b")
    result = send.print_reference(Catalog(Revision([pla, petg])), [a, b], journal, "KNOB", options())
    assert result.printer is a and a.scripted.called("upload")[0][0] == b"; pla\n"


def test_a_claim_lost_to_another_print_moves_to_the_next_printer(tmp_path, journal, staging):
    """Between the look and the claim, another workstation claims printer a: a is not sent to (never two jobs
    on one printer), b takes the job."""
    a, b = ScriptedPrinter(name="a"), ScriptedPrinter(name="b")
    other = {}
    a.scripted.hooks["printer_state"] = lambda: other.setdefault("job", claimed(Journal(journal.path), "a"))
    result = send.print_reference(Catalog(Revision([recipe(tmp_path)])), [a, b], journal, "KNOB", options())
    assert result.printer is b and a.scripted.called("upload") == []
    assert result.assessments[0].reason == (
        f"printer a: already has job {other['job'].id} (uploading) in the journal")
    assert [j.printer for j in journal.active_jobs()] == ["a", "b"]


def test_every_claim_lost_is_no_printer(tmp_path, journal, staging):
    a = ScriptedPrinter(name="a")
    a.scripted.hooks["printer_state"] = lambda: claimed(Journal(journal.path), "a")
    with pytest.raises(NoPrinterAvailable, match="a: printer a: already has job .* in the journal"):
        send.print_reference(Catalog(Revision([recipe(tmp_path)])), [a], journal, "KNOB", options())
    assert a.scripted.called("upload") == [] and len(journal.jobs()) == 1


def test_a_manual_bed_is_checked_again_in_the_claim(tmp_path, journal, staging):
    """A job ran on printer a (manual bed) after it was looked at: the claim refuses it; an auto-bed printer
    with the same history is claimed."""
    def ran_meanwhile(name):
        def hook():
            own = Journal(journal.path)
            job = claimed(own, name, outcome="printing", started_age_s=1)
            own.finish(job.id, "done")
        return hook

    manual = ScriptedPrinter(name="a", bed_clearing="manual")
    manual.scripted.hooks["printer_state"] = ran_meanwhile("a")
    auto = ScriptedPrinter(name="b")
    auto.scripted.hooks["printer_state"] = ran_meanwhile("b")
    result = send.print_reference(Catalog(Revision([recipe(tmp_path)])), [manual, auto], journal, "KNOB", options())
    assert result.printer is auto and manual.scripted.called("upload") == []
    assert result.assessments[0].reason == (
        "printer a: bed not confirmed clear since its last job (run `hospfab printers cleared a`)")


def test_a_journal_that_cannot_claim_sends_nothing(tmp_path, journal, staging):
    class Broken(Journal):
        def claim(self, job, *, require_bed_clear):
            raise JournalError("disk full", detail="sqlite: disk I/O error")

    broken = Broken(journal.path)
    printer = ScriptedPrinter()
    try:
        with pytest.raises(JournalError) as caught:
            send.print_reference(Catalog(Revision([recipe(tmp_path)])), [printer], broken, "KNOB", options())
    finally:
        broken.close()
    assert caught.value.message == "disk full; nothing was sent to any printer"
    assert printer.scripted.called("upload") == []


def test_a_draft_printed_with_the_override_records_it(tmp_path, journal, staging):
    rev = Revision([recipe(tmp_path)], status="draft")
    result = send.print_reference(Catalog(rev), [ScriptedPrinter()], journal, "KNOB@1", options(allow_draft=True))
    assert result.job.overrides == {"allow_draft": True, "status": "draft"}
    assert result.as_dict()["overrides"] == {"allow_draft": True, "status": "draft"}


def test_a_recipe_shared_by_printers_is_staged_once(tmp_path, journal, staging, monkeypatch):
    r = recipe(tmp_path)
    staged = []
    real = send.stage_build_file
    monkeypatch.setattr(send, "stage_build_file", lambda rec, folder: staged.append(rec) or real(rec, folder))
    printers = [ScriptedPrinter(name=n) for n in "abc"]
    send.print_reference(Catalog(Revision([r])), printers, journal, "KNOB", options(dry_run=True))
    assert staged == [r]


def test_a_dry_run_reports_the_override_and_every_printer(tmp_path, journal, staging):
    rev = Revision([recipe(tmp_path)], status="draft")
    a, b = ScriptedPrinter(name="a", material="abs"), ScriptedPrinter(name="b")
    result = send.print_reference(Catalog(rev), [a, b], journal, "KNOB@1", options(allow_draft=True, dry_run=True))
    assert result.overrides == {"allow_draft": True, "status": "draft"}
    assert [v.printer for v in result.assessments] == [a, b] and result.printer is b


def test_a_lost_answer_in_a_print_is_asked_about_on_the_same_printer(tmp_path, journal, staging):
    """The answer to the upload is lost after the printer started: the printer is asked, the job is printing,
    and the result's note says how it was confirmed."""
    a = ScriptedPrinter(name="a")

    def start(data, remote, *rest):
        a.scripted.files[remote] = stats(remote)
        a.scripted.job_info = printing(remote)

    a.scripted.hooks["upload"] = start
    a.scripted.fail("upload", SendUnconfirmed("printer a: HTTP 502 to the upload"))
    result = send.print_reference(Catalog(Revision([recipe(tmp_path)])), [a], journal, "KNOB", options())
    job = result.job
    assert job.outcome == "printing" and a.client_kwargs[-1] == {"read_timeout": 3.0, "retries": 1}
    assert result.as_dict()["note"] == (
        f"answer to the upload lost (printer a: HTTP 502 to the upload); the printer shows {job.remote_file} Printing")


# -- send_attempt: every ending recorded truthfully ------------------------------------------------------------

@pytest.fixture
def attempt(tmp_path, journal):
    """A claimed job, its staged file and a scripted printer: ``attempt()`` sends it."""
    staged = tmp_path / "staged.gcode"
    staged.write_bytes(b"G28\n")
    printer = ScriptedPrinter()
    job = claimed(journal)

    def run():
        return send.send_attempt(journal, job, printer, printer.scripted, staged, {"hospfab": {"job_id": job.id}})

    return SimpleNamespace(run=run, job=job, printer=printer, client=printer.scripted, journal=journal)


def test_a_started_print_is_recorded_printing_under_the_name_the_printer_stored(attempt):
    attempt.client.upload_result = UploadResult("knob-r1.gcode", True, True)
    recorded = attempt.run()
    assert (recorded.outcome, recorded.remote_file, recorded.reason) == ("printing", "knob-r1.gcode", None)
    assert recorded.started_at is not None and recorded == attempt.journal.get(attempt.job.id)
    assert attempt.printer.client_kwargs == [] and attempt.client.called("job") == []


@pytest.mark.parametrize("delete_error", [None, PrinterConflict("printer mk4-a: in use")])
def test_an_upload_the_printer_did_not_start_is_removed_and_not_sent(attempt, delete_error):
    attempt.client.upload_result = UploadResult("knob.gcode", True, False)
    attempt.client.files["knob.gcode"] = stats("knob.gcode")
    attempt.client.fail("delete_file", delete_error)
    with pytest.raises(send.PrintNotSent) as caught:
        attempt.run()
    job = attempt.job
    reason = "printer mk4-a did not start knob.gcode (busy or not operational)"
    assert caught.value.message == (
        f"job {job.id}: not sent to printer mk4-a: {reason}; nothing was started (recorded as failed, not sent)")
    assert caught.value.details == {"job_id": job.id, "reason": reason} and caught.value.exit_code == 3
    recorded = attempt.journal.get(job.id)
    assert (recorded.outcome, recorded.reason) == ("failed", f"not sent: {reason}")
    assert attempt.client.called("delete_file") == [("knob.gcode",)]
    assert attempt.journal.active_on("mk4-a") is None  # the printer is free again


@pytest.mark.parametrize("error", [
    PrinterUnreachable("printer mk4-a: cannot reach http://127.0.0.1:5000 (ConnectError); nothing was sent"),
    PrinterAuthRefused("printer mk4-a: the API key was refused (HTTP 403)"),
    PrinterError("printer mk4-a: cannot read staged.gcode: Permission denied", code="printer_request_invalid"),
])
def test_an_upload_refused_before_anything_was_stored_is_not_sent_without_asking(attempt, error):
    attempt.client.fail("upload", error)
    with pytest.raises(send.PrintNotSent):
        attempt.run()
    recorded = attempt.journal.get(attempt.job.id)
    assert (recorded.outcome, recorded.reason) == ("failed", f"not sent: {error.message}")
    assert attempt.printer.client_kwargs == [] and attempt.client.called("job") == []


def lost_answer(attempt, error=None, *, started=False, stored=True):
    """The upload reaches the printer (stored, maybe started), then its answer is lost."""
    remote = attempt.job.remote_file

    def act(*args):
        if stored:
            attempt.client.files[remote] = stats(remote)
        if started:
            attempt.client.job_info = printing(remote)

    attempt.client.hooks["upload"] = act
    attempt.client.fail("upload", error or SendUnconfirmed(f"printer mk4-a: no answer to the upload of {remote}"))


@pytest.mark.parametrize("error", [SendUnconfirmed("printer mk4-a: HTTP 502 to the upload"),
                                   SendConflictUnconfirmed("printer mk4-a: HTTP 409 to the upload"),
                                   PrinterError("printer mk4-a: something odd")])
def test_a_lost_answer_after_the_printer_started_is_printing_not_failed(attempt, error):
    lost_answer(attempt, error, started=True)
    recorded = attempt.run()
    remote = attempt.job.remote_file
    assert (recorded.outcome, recorded.reason) == (
        "printing", f"answer to the upload lost ({error.message}); the printer shows {remote} Printing")
    assert recorded.started_at is not None
    assert attempt.printer.client_kwargs == [{"read_timeout": 3.0, "retries": 1}]  # asked on its own session
    assert attempt.client.called("delete_file") == [] and len(attempt.client.called("upload")) == 1


def test_a_lost_answer_for_a_file_stored_but_not_started_is_not_sent(attempt):
    lost_answer(attempt)
    remote = attempt.job.remote_file
    with pytest.raises(send.PrintNotSent) as caught:
        attempt.run()
    reason = (f"printer mk4-a: no answer to the upload of {remote}; "
              f"{remote} arrived but was not started; it was removed")
    assert caught.value.details["reason"] == reason
    assert attempt.journal.get(attempt.job.id).reason == f"not sent: {reason}"
    assert remote not in attempt.client.files  # deleted: it can never start


def test_a_lost_answer_when_the_printer_cannot_be_asked_is_unknown_and_keeps_the_printer(attempt):
    lost_answer(attempt, started=True)
    attempt.client.fail("job", PrinterUnreachable("printer mk4-a: read timeout"))
    job, remote = attempt.job, attempt.job.remote_file
    with pytest.raises(send.PrintOutcomeUnknown) as caught:
        attempt.run()
    reason = f"printer mk4-a: no answer to the upload of {remote}; the printer could not be asked: " \
             "printer mk4-a: read timeout"
    assert caught.value.message == (
        f"job {job.id}: outcome unknown on printer mk4-a: {reason}. It may be printing: check the printer for "
        f"{remote} before any retry; the printer stays reserved until `hospfab jobs show {job.id}` can ask it")
    assert caught.value.details == {"job_id": job.id, "file": remote} and caught.value.exit_code == 3
    recorded = attempt.journal.get(job.id)
    assert (recorded.outcome, recorded.reason, recorded.ended_at) == ("unknown", reason, None)
    # never sent twice: the printer stays claimed, a second print of anything is refused
    assert attempt.journal.active_on("mk4-a").id == job.id
    with pytest.raises(PrinterError, match="already has job"):
        claimed(attempt.journal)
    assert len(attempt.client.called("upload")) == 1


def test_a_local_failure_after_the_request_left_is_asked_about(attempt):
    lost_answer(attempt, OSError("broken pipe"), started=True)
    recorded = attempt.run()
    assert recorded.outcome == "printing"
    assert recorded.reason.startswith("answer to the upload lost (local failure during the upload (OSError)); ")


def test_ctrl_c_after_the_printer_started_says_it_is_printing(attempt):
    lost_answer(attempt, KeyboardInterrupt(), started=True)
    job = attempt.job
    with pytest.raises(send.PrintInterrupted) as caught:
        attempt.run()
    assert caught.value.message == (
        f"interrupted; job {job.id} IS PRINTING on mk4-a (the printer shows {job.remote_file} Printing); "
        "recorded as printing")
    assert caught.value.details == {"job_id": job.id, "state": "printing"} and caught.value.exit_code == 130
    recorded = attempt.journal.get(job.id)
    assert (recorded.outcome, recorded.reason) == (
        "printing", f"answer to the upload lost (interrupted during the upload); the printer shows "
                    f"{job.remote_file} Printing")


def test_ctrl_c_before_the_printer_stored_anything_is_not_sent(attempt):
    lost_answer(attempt, KeyboardInterrupt(), stored=False)
    job = attempt.job
    with pytest.raises(send.PrintInterrupted) as caught:
        attempt.run()
    assert caught.value.message == (
        f"interrupted; job {job.id} was not started on mk4-a (the printer has no file {job.remote_file})")
    assert caught.value.details == {"job_id": job.id, "state": "failed"}
    recorded = attempt.journal.get(job.id)
    assert (recorded.outcome, recorded.reason) == (
        "failed", f"not sent: interrupted during the upload; the printer has no file {job.remote_file}")


def test_ctrl_c_when_the_printer_cannot_be_asked_is_unknown(attempt):
    lost_answer(attempt, KeyboardInterrupt())
    attempt.client.fail("job", PrinterUnreachable("printer mk4-a: down"))
    job = attempt.job
    with pytest.raises(send.PrintInterrupted) as caught:
        attempt.run()
    assert caught.value.message.startswith(
        f"interrupted; job {job.id}: outcome unknown on printer mk4-a: interrupted during the upload; "
        "the printer could not be asked: printer mk4-a: down. It may be printing")
    assert caught.value.details == {"job_id": job.id, "state": "unknown"}
    assert attempt.journal.get(job.id).outcome == "unknown"


def test_a_job_without_a_remote_name_is_never_sent(attempt):
    attempt.job.remote_file = None
    with pytest.raises(ValueError, match="no remote file name; every attempt is claimed with one"):
        attempt.run()
    assert attempt.client.calls == []


class FailingJournal:
    def __init__(self, error: JournalError) -> None:
        self.error = error

    def update(self, job_id: str, **changes: object):
        raise self.error


def test_an_unknown_outcome_that_cannot_be_recorded_says_it_may_be_printing(attempt):
    cause = JournalError("disk full", detail="sqlite: database or disk is full")
    with pytest.raises(JournalError) as caught:
        send._recorded(FailingJournal(cause), attempt.job, "unknown")
    job = attempt.job
    assert caught.value.message == (
        f"job {job.id} may be printing on printer mk4-a as {job.remote_file}, but the journal could not record "
        f"it (disk full); free the space or fix the journal, then `hospfab jobs show {job.id}` records it from "
        "the printer")
    assert caught.value.detail == "sqlite: database or disk is full"


def test_the_remote_name_holds_the_job_id_and_the_print_result_renders(tmp_path, journal, staging):
    r = recipe(tmp_path)
    result = send.print_reference(Catalog(Revision([r], ref="EAR-SAVER", rev=3)), [ScriptedPrinter()], journal,
                                  "EAR-SAVER", options(material_lot="LOT-7"))
    job = result.job
    assert job.remote_file == f"EAR-SAVER-r3-{job.id}.gcode"
    data = result.as_dict()
    assert {k: data[k] for k in ("job_id", "ref", "revision", "status", "printer", "printer_url", "file",
                                 "build_file", "sha256", "material", "material_lot", "operator", "note",
                                 "estimates")} == {
        "job_id": job.id, "ref": "EAR-SAVER", "revision": 3, "status": "validated", "printer": "mk4-a",
        "printer_url": "http://127.0.0.1:5000", "file": job.remote_file, "build_file": str(r.build_file),
        "sha256": r.sha256, "material": "petg", "material_lot": "LOT-7", "operator": "ana", "note": None,
        "estimates": {"minutes": 12}}
    assert [p["printer"] for p in data["printers"]] == ["mk4-a"]
