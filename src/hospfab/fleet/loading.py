"""The fleet as every command, page and runner sees it: the printers of the fleet file, each with the material
and lot the shared database says are loaded now (the newest spool change, from any workstation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hospfab.errors import ConfigError, HospfabError, NotFoundError

if TYPE_CHECKING:
    from hospfab.fleet.model import PrinterConfig
    from hospfab.settings import Settings


def load_printers(settings: Settings, *, required: bool = True) -> list[PrinterConfig]:
    """The printers of ``settings``' fleet file with their shared state. With ``required=False`` a missing or
    broken fleet gives [] (pages and alert passes still run); otherwise it raises ConfigError naming the file."""
    from hospfab.fleet.model import Fleet

    try:
        fleet = Fleet.load(settings.fleet_path)
    except HospfabError:
        if required:
            raise
        return []
    if required and not fleet.printers:
        raise ConfigError(fleet.hint or f"{settings.fleet_path}: no printers")
    return shared_printers(settings, fleet.printers)


def shared_printers(settings: Settings, printers: list[PrinterConfig]) -> list[PrinterConfig]:
    """``printers`` with the material and lot the database says are loaded now (whoever recorded the spool
    change, on whichever workstation)."""
    if not printers:
        return []
    from hospfab.journal.printer_state import read_shared_states, with_shared_state

    now = read_shared_states(settings.database_target, [p.name for p in printers])  # read only: nothing migrated
    return [with_shared_state(p, now.get(p.name)) for p in printers]


def printer_named(printers: list[PrinterConfig], name: str | None) -> PrinterConfig:
    for printer in printers:
        if printer.name == name:
            return printer
    raise NotFoundError(f"printer {name}: not in the fleet file")
