"""Typed printer errors raised by the OctoPrint client. All are :class:`hospfab.errors.PrinterError` (exit 3).

Messages name the printer and never contain its API key.
"""

from __future__ import annotations

from hospfab.errors import PrinterError


class PrinterUnreachable(PrinterError):
    """Connection refused, DNS failure, TLS failure or timeout."""

    code = "printer_unreachable"


class PrinterAuthRefused(PrinterError):
    """OctoPrint refused the API key (401/403)."""

    code = "printer_auth_refused"


class PrinterConflict(PrinterError):
    """OctoPrint answered 409: the printer is not operational, busy, or the file is in use or exists."""

    code = "printer_conflict"


class PrinterNotFound(PrinterError):
    """OctoPrint answered 404: no such file or resource on that printer."""

    code = "printer_not_found"


class NothingSelected(PrinterConflict):
    """`start` was asked while no file is selected: OctoPrint would answer 204 and do nothing."""

    code = "printer_nothing_selected"


class PrinterProtocolError(PrinterError):
    """An unexpected status or an unreadable answer from OctoPrint."""

    code = "printer_protocol_error"
