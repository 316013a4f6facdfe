"""What a queue runner shares with the other runners through the database.

- **its lease** (:mod:`hospfab.queue.leases`): taken on start, renewed every round, released on exit. A plate
  whose runner's lease has expired is an orphan: any runner reconciles it from the printers' own statistics.
- **its site**: ``queue run --site S`` dispatches only to S's printers; orphans are reconciled on any printer
  the runner's fleet file knows.
- **the printers' runtime state** (:mod:`hospfab.journal.printer_state`), read fresh every round: material and
  lot loaded (the newest spool change, from any workstation), disabled printers left out with their reason.
- **patience with the database**: :class:`Backoff` spaces retries while the server is unreachable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hospfab.journal.db import Connection
from hospfab.journal.printer_state import PrinterStates, with_shared_state
from hospfab.queue.leases import DEFAULT_LEASE_S, RunnerLeases


class Backoff:
    """Waits of ``first_s``, doubling up to ``max_s``; :meth:`reset` after a success."""

    def __init__(self, first_s: float = 1.0, max_s: float = 60.0) -> None:
        self.first_s, self.max_s = first_s, max_s
        self.next_s = first_s

    def next(self) -> float:
        wait, self.next_s = self.next_s, min(self.max_s, self.next_s * 2)
        return wait

    def reset(self) -> None:
        self.next_s = self.first_s


class Coordination:
    def __init__(self, conn: Connection, runner: str, fleet: list[Any], *, site: str | None = None,
                 lease_s: float = DEFAULT_LEASE_S, log: Callable[[str], None] | None = None) -> None:
        self.runner, self.site, self.lease_s = runner, site, lease_s
        self.fleet = {p.name: p for p in fleet}
        self.leases = RunnerLeases(conn)
        self.states = PrinterStates(conn)
        self.log = log or (lambda message: None)
        self._alive: dict[str, bool] = {}

    # ---- the lease ---------------------------------------------------------------------------------------

    def start(self) -> None:
        self.leases.acquire(self.runner, site=self.site, lease_s=self.lease_s)

    def heartbeat(self) -> None:
        """Renew the lease (re-taking it, with a log line, if it had expired: this runner was paused)."""
        self._alive.clear()
        if not self.leases.heartbeat(self.runner, lease_s=self.lease_s):
            self.log(f"runner {self.runner}: lease had expired (paused longer than {self.lease_s:g} s); taken again")
            self.leases.acquire(self.runner, site=self.site, lease_s=self.lease_s)

    def stop(self) -> None:
        self.leases.release(self.runner)

    def gone(self, runner: str | None) -> bool:
        """True when ``runner`` holds no live lease (dead, stopped, or never had one); read once per round."""
        if runner == self.runner:
            return False
        if not runner:
            return True
        if runner not in self._alive:
            self._alive[runner] = self.leases.alive(runner)
        return not self._alive[runner]

    def mine_to_watch(self, plate: Any) -> bool:
        """Plates this runner observes: its own, and orphans (their runner is gone)."""
        return plate.runner == self.runner or self.gone(plate.runner)

    # ---- printers ----------------------------------------------------------------------------------------

    def printers(self, waiting: dict[str, str]) -> dict[str, Any]:
        """This runner's printers now: of its site, enabled, with the material and lot the database says are
        loaded. Disabled ones are put in ``waiting`` with their reason."""
        mine = {n: p for n, p in self.fleet.items() if self.site is None or getattr(p, "site", None) == self.site}
        states = self.states.current(list(mine))
        out = {}
        for name, printer in sorted(mine.items()):
            state = states.get(name)
            if state is not None and not state.enabled:
                waiting[name] = f"disabled{': ' + state.reason if state.reason else ''}"
                continue
            out[name] = with_shared_state(printer, state)
        return out

    def any_printer(self, name: str) -> Any:
        """A printer of the whole fleet file (to reconcile an orphan on another site), with its state."""
        printer = self.fleet.get(name)
        if printer is None:
            return None
        return with_shared_state(printer, self.states.current([name]).get(name))
