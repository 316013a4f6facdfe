"""After an ambiguous send, ask the printer what happened: sent (printing or printed), not sent, or unknown.

An upload with ``print=true`` is OctoPrint's only "start". When its answer is lost or wrong (a timeout, a
dropped connection, a truncated body, a 5xx or a 409 that may come after OctoPrint acted, an interruption, a
local failure after the request left), the job's unique remote file name tells what happened:

- our file is selected and the printer is busy with it, or the file's statistics show a print: **sent**;
- our file is on the printer, never printed and not running: it is deleted; once deleted it can never start,
  so the send is **not sent** (a 409 to the delete means it is in use: asked again);
- our file is absent for ``settle_s`` after the failure (an upload still being stored would have appeared):
  **not sent**;
- the printer cannot be asked: **unknown**. The caller keeps the printer claimed and records ``unknown``;
  reconciliation decides later from the printer's file statistics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hospfab.errors import PrinterError

if TYPE_CHECKING:
    from hospfab.octoprint.client import OctoPrintClient

SENT, NOT_SENT, UNKNOWN = "sent", "not sent", "unknown"
#: How long an absent file is looked for again before the send is taken as not sent.
SETTLE_S = 3.0
#: Seconds between two questions while settling.
ASK_POLL_S = 0.5


@dataclass(frozen=True)
class SendVerdict:
    """What the printer says about one send: ``kind`` is SENT, NOT_SENT or UNKNOWN; ``detail`` says why."""

    kind: str
    detail: str


def confirm_send(client: OctoPrintClient, remote_file: str, *, settle_s: float = SETTLE_S) -> SendVerdict:
    """Ask the printer (job, then the file) whether ``remote_file`` started; see the module docstring."""
    from hospfab.octoprint.exceptions import PrinterConflict, PrinterNotFound
    from hospfab.octoprint.states import JOB_ACTIVE_STATES

    deadline = time.monotonic() + settle_s
    while True:
        try:
            info = client.job()
            if info.file_name == remote_file and info.state in JOB_ACTIVE_STATES:
                return SendVerdict(SENT, f"the printer shows {remote_file} {info.state_text or 'printing'}")
            try:
                stats = client.file_info(remote_file)
            except PrinterNotFound:
                stats = None
            if stats is not None and stats.prints_success + stats.prints_failure > 0:
                return SendVerdict(SENT, f"the printer recorded a print of {remote_file}")
            if stats is not None:
                try:
                    client.delete_file(remote_file)
                except PrinterConflict:
                    pass  # in use: it is starting; ask again
                except PrinterNotFound:
                    pass
                else:
                    return SendVerdict(NOT_SENT, f"{remote_file} arrived but was not started; it was removed")
            elif time.monotonic() >= deadline:
                return SendVerdict(NOT_SENT, f"the printer has no file {remote_file}")
        except PrinterError as err:
            return SendVerdict(UNKNOWN, f"the printer could not be asked: {err.message}")
        if time.monotonic() >= deadline + settle_s:  # a file that stays "in use" but never runs: undecided
            return SendVerdict(UNKNOWN, f"{remote_file} is on the printer, in use, but not shown printing")
        time.sleep(ASK_POLL_S)
