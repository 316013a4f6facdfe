"""OctoPrint REST client (httpx) and a local real-server launcher (``hospfab.octoprint.localserver``)."""

from hospfab.octoprint.client import FileInfo, JobInfo, OctoPrintClient, PrinterState, UploadResult
from hospfab.octoprint.exceptions import (
    NothingSelected,
    PrinterAuthRefused,
    PrinterConflict,
    PrinterNotFound,
    PrinterProtocolError,
    PrinterUnreachable,
)
from hospfab.octoprint.states import (
    BUSY_STATES,
    DISCONNECTED_STATES,
    ERROR_STATES,
    IDLE_STATES,
    OPERATIONAL_STATES,
    State,
    parse_state,
)

__all__ = [
    "BUSY_STATES",
    "DISCONNECTED_STATES",
    "ERROR_STATES",
    "IDLE_STATES",
    "OPERATIONAL_STATES",
    "FileInfo",
    "JobInfo",
    "NothingSelected",
    "OctoPrintClient",
    "PrinterAuthRefused",
    "PrinterConflict",
    "PrinterNotFound",
    "PrinterProtocolError",
    "PrinterState",
    "PrinterUnreachable",
    "State",
    "UploadResult",
    "parse_state",
]
