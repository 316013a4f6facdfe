"""OctoPrint printer states as an Enum with category sets (as OctoPrint's own ``comm.py`` does).

OctoPrint reports a human state string (``"Operational"``, ``"Printing from SD"``, ``"Offline after error"``)
and, on ``/api/printer``, a set of flags. :func:`parse_state` maps either to one :class:`State`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class State(str, Enum):
    """The state of one printer as hospfab sees it."""

    OFFLINE = "offline"  # not connected to the printer (serial closed)
    CONNECTING = "connecting"  # opening or detecting the serial connection
    OPERATIONAL = "operational"  # connected and idle: can take a job
    STARTING = "starting"
    PRINTING = "printing"
    PAUSING = "pausing"
    PAUSED = "paused"
    RESUMING = "resuming"
    CANCELLING = "cancelling"
    FINISHING = "finishing"
    TRANSFERRING = "transferring"  # sending a file to the printer's SD card
    ERROR = "error"  # firmware or communication error, still connected
    OFFLINE_AFTER_ERROR = "offline_after_error"  # the connection was closed by an error
    UNKNOWN = "unknown"


#: A job occupies the printer: a new job must not be sent.
BUSY_STATES = frozenset(
    {
        State.STARTING,
        State.PRINTING,
        State.PAUSING,
        State.PAUSED,
        State.RESUMING,
        State.CANCELLING,
        State.FINISHING,
        State.TRANSFERRING,
    }
)
#: Ready for a new job.
IDLE_STATES = frozenset({State.OPERATIONAL})
#: Connected to the printer (a job may be running).
OPERATIONAL_STATES = BUSY_STATES | IDLE_STATES
#: A job is running or about to end (used to decide that a job's outcome is not known yet).
JOB_ACTIVE_STATES = BUSY_STATES
#: The printer reported an error.
ERROR_STATES = frozenset({State.ERROR, State.OFFLINE_AFTER_ERROR})
#: Not connected: a `connect` is needed before anything can be printed.
DISCONNECTED_STATES = frozenset({State.OFFLINE, State.OFFLINE_AFTER_ERROR, State.CONNECTING})

# Prefixes of OctoPrint's state strings (octoprint/util/comm.py getStateString), most specific first.
_TEXT_PREFIXES: tuple[tuple[str, State], ...] = (
    ("offline after error", State.OFFLINE_AFTER_ERROR),
    ("closed with error", State.OFFLINE_AFTER_ERROR),
    ("offline", State.OFFLINE),
    ("closed", State.OFFLINE),
    ("opening serial", State.CONNECTING),
    ("detecting", State.CONNECTING),
    ("connecting", State.CONNECTING),
    ("operational", State.OPERATIONAL),
    ("starting", State.STARTING),
    ("printing", State.PRINTING),
    ("sending file to sd", State.TRANSFERRING),
    ("transferring", State.TRANSFERRING),
    ("pausing", State.PAUSING),
    ("paused", State.PAUSED),
    ("resuming", State.RESUMING),
    ("cancelling", State.CANCELLING),
    ("finishing", State.FINISHING),
    ("error", State.ERROR),
)


def parse_state(text: str | None, flags: dict[str, Any] | None = None) -> State:
    """Map OctoPrint's state string (and, when given, its flags) to a :class:`State`."""
    lowered = (text or "").strip().lower()
    for prefix, state in _TEXT_PREFIXES:
        if lowered.startswith(prefix):
            return state
    if flags:
        for flag, state in (
            ("cancelling", State.CANCELLING),
            ("pausing", State.PAUSING),
            ("paused", State.PAUSED),
            ("resuming", State.RESUMING),
            ("finishing", State.FINISHING),
            ("printing", State.PRINTING),
            ("error", State.ERROR),
            ("closedOrError", State.OFFLINE),
            ("operational", State.OPERATIONAL),
        ):
            if flags.get(flag):
                return state
    return State.UNKNOWN
