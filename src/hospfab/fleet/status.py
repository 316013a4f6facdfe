"""Concurrent status of every printer of a fleet: one thread and one HTTP request per printer, so the whole
fleet answers in about the time of the slowest printer; an unreachable printer is a status, not a failure."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from hospfab.errors import HospfabError
from hospfab.octoprint.states import ERROR_STATES, IDLE_STATES, State

if TYPE_CHECKING:
    from hospfab.fleet.model import PrinterConfig

MAX_WORKERS = 64


@dataclass(frozen=True)
class PrinterStatus:
    """What one printer said (or why it could not be asked)."""

    name: str
    url: str
    profile: str
    material: str
    material_lot: str | None = None
    site: str | None = None
    tags: list[str] = field(default_factory=list)
    reachable: bool = False
    state: State | None = None  # None when the printer could not be asked
    state_text: str = ""
    job_file: str | None = None
    completion: float | None = None
    print_time_left_s: float | None = None
    error: str | None = None  # the printer's own error, or why it could not be asked
    error_code: str | None = None  # hospfab error code when it could not be asked

    @property
    def ok(self) -> bool:
        """Reachable and not in an error state."""
        return self.reachable and self.state not in ERROR_STATES

    @property
    def idle(self) -> bool:
        return self.reachable and self.state in IDLE_STATES

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value if self.state is not None else "unreachable"
        data["ok"] = self.ok
        return data


def printer_status(printer: PrinterConfig, timeout: float = 5.0) -> PrinterStatus:
    """Ask one printer (a :class:`~hospfab.fleet.PrinterConfig`) with one ``GET /api/job``."""
    base: dict[str, Any] = dict(
        name=printer.name,
        url=printer.url,
        profile=printer.profile,
        material=printer.material,
        material_lot=printer.material_lot,
        site=printer.site,
        tags=list(printer.tags),
    )
    try:
        with printer.client(connect_timeout=min(3.0, timeout), read_timeout=timeout, retries=0) as client:
            job = client.job()
    except HospfabError as err:
        return PrinterStatus(**base, reachable=False, error=err.message, error_code=err.code)
    return PrinterStatus(
        **base,
        reachable=True,
        state=job.state,
        state_text=job.state_text,
        job_file=job.file_name,
        completion=job.completion,
        print_time_left_s=job.print_time_left_s,
        error=job.error,
    )


def status_all(
    printers: Iterable[PrinterConfig], *, timeout: float = 5.0, max_workers: int | None = None
) -> list[PrinterStatus]:
    """Status of all ``printers``, queried concurrently, in the given order."""
    printers = list(printers)
    if not printers:
        return []
    workers = max_workers or min(MAX_WORKERS, len(printers))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="printer-status") as pool:
        return list(pool.map(lambda p: printer_status(p, timeout), printers))


def status_sequential(printers: Iterable[Any], *, timeout: float = 5.0) -> list[PrinterStatus]:
    """The same, one printer after another (for comparison in the benchmark)."""
    return [printer_status(p, timeout) for p in printers]
