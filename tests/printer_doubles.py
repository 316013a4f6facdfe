"""Plain objects that implement what the print path asks of a printer, for fast unit tests of its decisions.

Not an OctoPrint: the real server (tests/test_print.py, tests/test_faults_print.py) stays the test of the HTTP
side. These objects answer the calls of ``hospfab.printing`` (``PrinterLike`` from
``hospfab.printing.reconcile`` and the methods of ``OctoPrintClient`` it uses) from plain attributes, and a
test scripts failures per method::

    client = ScriptedClient(job=printing("a.gcode"))
    client.fail("job", PrinterUnreachable("printer mk4-a: connection refused"))   # the next call of job()
    printer = ScriptedPrinter(scripted=client)

The journal in these tests is a real SQLite journal in ``tmp_path`` (:func:`claimed`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hospfab.journal import Job, Journal, new_job_id
from hospfab.octoprint.client import FileInfo, JobInfo, PrinterState, UploadResult
from hospfab.octoprint.exceptions import PrinterNotFound
from hospfab.octoprint.states import State


def idle_job() -> JobInfo:
    return JobInfo(State.OPERATIONAL, "Operational", None, None, None, None)


def printing(name: str, completion: float | None = 42.0, state: State = State.PRINTING) -> JobInfo:
    return JobInfo(state, state.value.capitalize(), name, completion, 10.0, 20.0)


def stats(name: str, success: int = 0, failure: int = 0, last: bool | None = None) -> FileInfo:
    return FileInfo(name, 100, success, failure, last, None)


class ScriptedClient:
    """``OctoPrintClient`` as the print path uses it. ``calls`` lists every call as ``(method, *args)``."""

    def __init__(self, name: str = "mk4-a", *, state: PrinterState | None = None, job: JobInfo | None = None,
                 files: dict[str, FileInfo] | None = None) -> None:
        self.name = name
        self.state = state or PrinterState(State.OPERATIONAL, "Operational")
        self.job_info = job or idle_job()
        self.files: dict[str, FileInfo] = dict(files or {})
        self.calls: list[tuple[Any, ...]] = []
        self.errors: dict[str, list[BaseException | None]] = {}
        self.hooks: dict[str, Callable[..., Any]] = {}
        self.upload_result: UploadResult | None = None
        self.entered = self.exited = 0

    # scripting -----------------------------------------------------------------------------------------------
    def fail(self, method: str, *errors: BaseException | None) -> None:
        """The next calls of ``method`` raise these errors in turn (``None``: that call answers normally)."""
        self.errors.setdefault(method, []).extend(errors)

    def _call(self, method: str, *args: Any) -> None:
        self.calls.append((method, *args))
        if method in self.hooks:
            self.hooks[method](*args)
        queue = self.errors.get(method)
        if queue:
            error = queue.pop(0)
            if error is not None:
                raise error

    def called(self, method: str) -> list[tuple[Any, ...]]:
        return [c[1:] for c in self.calls if c[0] == method]

    # the client ----------------------------------------------------------------------------------------------
    def __enter__(self) -> ScriptedClient:
        self.entered += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.exited += 1

    def printer_state(self) -> PrinterState:
        self._call("printer_state")
        return self.state

    def job(self) -> JobInfo:
        self._call("job")
        return self.job_info

    def file_info(self, name: str) -> FileInfo:
        self._call("file_info", name)
        if name not in self.files:
            raise PrinterNotFound(f"printer {self.name}: no file {name}")
        return self.files[name]

    def delete_file(self, name: str) -> None:
        self._call("delete_file", name)
        if self.files.pop(name, None) is None:
            raise PrinterNotFound(f"printer {self.name}: no file {name}")

    def upload(self, path: Path, remote_name: str, *, userdata: dict[str, Any] | None = None, select: bool = True,
               print_: bool = False) -> UploadResult:
        self._call("upload", Path(path).read_bytes(), remote_name, userdata, select, print_)
        return self.upload_result or UploadResult(remote_name, select, print_)

    def cancel(self) -> None:
        self._call("cancel")

    def wait_for(self, states: frozenset[State], timeout_s: float) -> PrinterState:
        self._call("wait_for", states, timeout_s)
        return self.state


@dataclass
class ScriptedPrinter:
    """A fleet printer (``PrinterLike``) whose ``client()`` is a :class:`ScriptedClient` (or raises)."""

    name: str = "mk4-a"
    url: str = "http://127.0.0.1:5000"
    profile: str = "prusa-mk4"
    material: str = "petg"
    material_lot: str | None = "LOT-1"
    bed_clearing: str = "auto"
    test_printer: bool = False
    scripted: ScriptedClient | None = None
    client_error: BaseException | None = None
    client_kwargs: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.scripted is None:
            self.scripted = ScriptedClient(self.name)

    def client(self, **kwargs: Any) -> ScriptedClient:
        self.client_kwargs.append(kwargs)
        if self.client_error is not None:
            raise self.client_error
        assert self.scripted is not None
        return self.scripted


def ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def claimed(journal: Journal, printer: str = "mk4-a", *, outcome: str = "uploading", remote_file: str | None = "",
            age_s: float | None = None, started_age_s: float | None = None) -> Job:
    """A job claimed on ``printer`` in a real journal, then given ``outcome`` (and its ages, in seconds)."""
    job_id = new_job_id()
    job = Job(id=job_id, ref="KNOB", revision=1, build_file="k.gcode", sha256="0" * 64, printer=printer,
              printer_url="http://127.0.0.1:5000", printer_profile="prusa-mk4", material="petg", material_lot=None,
              operator="ana", created_at="",
              remote_file=f"KNOB-r1-{job_id}.gcode" if remote_file == "" else remote_file)
    journal.claim(job, require_bed_clear=False)
    changes: dict[str, Any] = {"outcome": outcome}
    if age_s is not None:
        changes["created_at"] = ago(age_s)
    if started_age_s is not None:
        changes["started_at"] = ago(started_age_s)
    return journal.update(job.id, **changes)



@pytest.fixture
def journal(tmp_path: Path) -> Any:
    """A real SQLite journal in ``tmp_path`` (import this fixture into a test module)."""
    journal = Journal(tmp_path / "journal.sqlite3")
    yield journal
    journal.close()


class Clock:
    """``time.monotonic`` and ``time.sleep`` of a module under test: sleeping moves the clock, instantly."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        assert len(self.sleeps) < 10_000, "a wait that never ends"

    def install(self, monkeypatch: Any, module: Any) -> Clock:
        """Replace ``module.time`` with this clock for the test."""
        monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=self.monotonic, sleep=self.sleep))
        return self
