"""The printer fleet: YAML model (printers, API key sources, material loaded) and concurrent status."""

from hospfab.fleet.model import FLEET_FILE_VERSION, Fleet, PrinterConfig
from hospfab.fleet.status import PrinterStatus, printer_status, status_all, status_sequential

__all__ = [
    "FLEET_FILE_VERSION",
    "Fleet",
    "PrinterConfig",
    "PrinterStatus",
    "printer_status",
    "status_all",
    "status_sequential",
]
