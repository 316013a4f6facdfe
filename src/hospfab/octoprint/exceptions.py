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


class SendUnconfirmed(PrinterError):
    """A request that acts (an upload with ``print=true``) may have reached OctoPrint, but its answer was lost
    or wrong: a timeout, a dropped connection, a truncated or unreadable body, a 5xx or a 409. Whether the
    printer acted is unknown until it is asked (:mod:`hospfab.printing.confirm`)."""

    code = "printer_send_unconfirmed"


class SendConflictUnconfirmed(SendUnconfirmed, PrinterConflict):
    """A 409 to an upload: the name exists (``noOverwrite``) or the printer is busy, or a proxy answered 409
    after OctoPrint acted. Both a conflict and unconfirmed: the printer must be asked."""

    code = "printer_send_unconfirmed"
