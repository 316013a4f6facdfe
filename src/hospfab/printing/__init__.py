"""``hospfab print``: resolve and verify a revision, choose a printer, claim it, upload, start, record.

- :func:`print_reference` (``send``): the whole print, returning a :class:`PrintResult`;
- :func:`assess_printers` (``choose``): why each printer can or cannot take a revision;
- :func:`reconcile_job`, :func:`reconcile_active`, :func:`watch_job`, :func:`cancel_job` (``reconcile``):
  outcomes from OctoPrint, so a job started by a process that has exited still gets its outcome.
"""

from __future__ import annotations

from hospfab.printing.choose import Assessment, NoPrinterAvailable, assess_printers
from hospfab.printing.reconcile import cancel_job, reconcile_active, reconcile_job, watch_job
from hospfab.printing.send import PrintOptions, PrintResult, default_operator, print_reference

__all__ = [
    "Assessment", "NoPrinterAvailable", "PrintOptions", "PrintResult", "assess_printers", "cancel_job",
    "default_operator", "print_reference", "reconcile_active", "reconcile_job", "watch_job",
]  # fmt: skip
