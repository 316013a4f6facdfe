"""The queue runner: dispatch queued plates to free compatible printers, watch them, requeue failures.

One round (:meth:`QueueRunner.step`):

1. **observe** every plate that is dispatching or printing and is this runner's, or an orphan (its runner's
   lease in the database has expired: kill -9, power loss, network cut, on any host): its attempt's journal
   job is reconciled with the printer (``hospfab.printing.reconcile_job``: unique remote file, print statistics);
   done -> the plate is done with the units of its recipe; failed, cancelled or lost -> the plate is queued
   again avoiding that printer, until its attempts run out. A printer that stays unreachable for
   ``lost_after_s`` while printing a plate makes its job ``unknown``: it may still be printing (a network
   fault does not stop OctoPrint), so the plate is never given back until the printer answers and its file
   statistics decide. An orphan's attempt left half-way (uploading with no file on the printer) ends at once
   as not sent, so a runner dying (``kill -9``) neither loses nor repeats a plate.
2. **dispatch**: printers that are idle, have no active journal job, have a confirmed clear bed (unless the
   fleet says ``bed_clearing: automatic``) and whose site has not started a plate in the last ``stagger_s``
   (read from the journal's start times of the site's printers, so a restarted runner keeps the gap) each get
   the plate the planner chooses for them (priority first; a plate avoids printers it failed on while another
   compatible printer exists). The plate and the printer are claimed in ONE transaction (the plate's
   conditional update and the attempt's journal job; the database refuses a second active job on a
   printer), then the build file (staged, sha256 checked) is uploaded with ``print=true`` under the
   attempt's unique name, and ``effectivePrint`` is checked. Every claim consumes an attempt (its number and
   remote name are never reused): a send that ends "not sent" queues the plate again avoiding that printer,
   and a plate that cannot be sent ``max_attempts`` times in a row fails with the last reason (logged), so
   one plate never starves the later ones. An ambiguous send is settled by asking the printer
   (``hospfab.printing.confirm``): printing, not sent, or ``unknown`` (printer kept, plate kept).

Printers are those of the runner's site (``site``), with the material and lot loaded and the enabled flag
read from the database every round (``hospfab.queue.coordination``). When the database cannot be reached,
:meth:`QueueRunner.run` waits with backoff and carries on; nothing is uploaded unless its claim was committed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hospfab.errors import HospfabError, PrinterError
from hospfab.journal import DONE, FAILED, PRINTING, UNKNOWN, UPLOADING, Job, Journal, new_job_id, now_iso
from hospfab.journal.db import DatabaseBusy, DatabaseUnavailable
from hospfab.queue.coordination import Backoff, Coordination
from hospfab.queue.leases import DEFAULT_LEASE_S
from hospfab.queue.planner import PlanPlate, PlanPrinter, PlateOption, choose_plate
from hospfab.queue.store import ACTIVE, DISPATCHING, PENDING, QUEUED, Lot, Plate, QueueStore

DEFAULT_PLATE_S = 3600.0  # plate duration assumed when a recipe has no print_time_s estimate


@dataclass
class RunnerOptions:
    poll_s: float = 2.0
    stagger_s: float = 0.0  # minimum gap between two plate starts on one site
    lost_after_s: float = 60.0  # a printer silent this long while printing a plate: its job becomes unknown
    until_empty: bool = False  # stop when no plate is queued or printing
    until: datetime | None = None  # stop dispatching after this time, stop when the running plates end
    operator: str = "queue"
    site: str | None = None  # dispatch only to this site's printers (None: every printer of the fleet)
    lease_s: float = DEFAULT_LEASE_S  # the runner is considered gone this long after its last heartbeat
    on_round: Callable[[], None] | None = None  # called after each round (alerts: must return at once)


@dataclass
class RunSummary:
    dispatched: int = 0
    done: int = 0
    requeued: int = 0
    failed: int = 0
    not_sent: int = 0  # attempts that ended without starting a print (each one consumed)
    unknown: int = 0  # sends whose outcome the printer could not confirm (printer and plate kept)
    waiting: dict[str, str] = field(default_factory=dict)  # printer -> why it gets nothing now
    stopped: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class LotBuilds:
    """The build file of each lot recipe, staged privately and checked against the sha256 in the lot.

    With a catalog, the lot's revision is first resolved and verified (manifest and signature) and the
    recipe is taken from it; without one (tests), the build file recorded in the lot is used.
    """

    def __init__(self, catalog: Any = None) -> None:
        self.catalog = catalog
        self.folder = Path(tempfile.mkdtemp(prefix="hospfab-queue-"))
        self.cache: dict[tuple[str, str, str], Path] = {}

    def path(self, lot: Lot, recipe: dict[str, Any]) -> Path:
        from types import SimpleNamespace

        from hospfab.printing.send import resolve_for_print, stage_build_file

        key = (lot.id, recipe["printer"], recipe["material"])
        if key not in self.cache:
            source = SimpleNamespace(build_file=recipe["build_file"], sha256=recipe["sha256"])
            if self.catalog is not None:
                revision, _ = resolve_for_print(self.catalog, lot.spec, allow_draft=False)
                match = revision.recipe_for(recipe["printer"], recipe["material"])
                if match is None or match.sha256 != recipe["sha256"]:
                    raise HospfabError(f"lot {lot.id}: {lot.spec} no longer has the recipe the lot was planned with")
                source = match
            folder = self.folder / f"{len(self.cache)}"
            folder.mkdir()
            self.cache[key] = stage_build_file(source, folder)
        return self.cache[key]

    def verify_queued(self, store: Any) -> None:
        """Resolve and verify the revision of every lot with plates still to print, before any printer is
        contacted: a tampered, rolled-back or unsigned catalog stops the run (IntegrityError/SafetyError)."""
        from hospfab.printing.send import resolve_for_print

        if self.catalog is None:
            return
        for lot_id in sorted({p.lot_id for p in store.plates(states=PENDING)}):
            resolve_for_print(self.catalog, store.lot(lot_id).spec, allow_draft=False)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def recipe_for(lot: Lot, profile: str, material: str | None) -> dict[str, Any] | None:
    for recipe in lot.recipes:
        if recipe["printer"] == profile and recipe["material"] == material:
            return recipe
    return None


def plate_options(lot: Lot) -> tuple[PlateOption, ...]:
    return tuple(
        PlateOption(r["printer"], r["material"], float(r.get("print_time_s") or DEFAULT_PLATE_S), int(r["copies"]))
        for r in lot.recipes
    )


class QueueRunner:
    def __init__(
        self,
        journal_path: Path | str,
        printers: list[Any],
        *,
        catalog: Any = None,
        options: RunnerOptions | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options or RunnerOptions()
        self.log = log or (lambda message: None)
        self.store = QueueStore(journal_path)  # one connection for every component of the runner
        self.journal = Journal(self.store.conn)
        self.id = runner_id()
        self.shared = Coordination(self.store.conn, self.id, printers, site=self.options.site,
                                   lease_s=self.options.lease_s, log=self.log)  # fmt: skip
        self.summary = RunSummary()
        self.printers = self.shared.printers(self.summary.waiting)
        self.shared.start()
        self.builds = LotBuilds(catalog)
        self._clients: dict[str, Any] = {}  # short timeouts: status and job questions
        self._senders: dict[str, Any] = {}  # the printer's own timeout: uploads
        self._unreachable_since: dict[str, float] = {}
        self._send_failures: dict[str, int] = {}  # plate -> consecutive sends that started nothing
        self._lots: dict[str, Lot] = {}
        self._rounds = 0
        self._waits_logged: dict[str, str] = {}

    def close(self) -> None:
        for client in (*self._clients.values(), *self._senders.values()):
            client.close()
        self.builds.close()
        try:
            self.shared.stop()
        except HospfabError:
            pass  # the database is down: the lease simply expires
        self.journal.close()
        self.store.close()

    def __enter__(self) -> QueueRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the loop ---------------------------------------------------------------------------------------

    def run(self, *, max_rounds: int | None = None) -> RunSummary:
        self.builds.verify_queued(self.store)
        rounds, backoff = 0, Backoff(max_s=max(self.options.poll_s, 60.0))
        while True:
            try:
                self.step()
                stopped = self._stop_reason()
            except (DatabaseUnavailable, DatabaseBusy) as err:  # wait for the database; nothing is sent meanwhile
                wait_s = backoff.next()
                self.log(f"database: {err.message}; retrying in {wait_s:g} s")
                time.sleep(wait_s)
                continue
            backoff.reset()
            rounds += 1
            if stopped:
                self.summary.stopped = stopped
                break
            if max_rounds is not None and rounds >= max_rounds:
                self.summary.stopped = "round limit"
                break
            time.sleep(self.options.poll_s)
        return self.summary

    def _stop_reason(self) -> str:
        """Why the run should end after this round ("" to go on); reads the database."""
        pending = self.store.plates(states=PENDING)
        active = [p for p in pending if p.state in ACTIVE]
        dispatching_over = self.options.until is not None and datetime.now().astimezone() >= self.options.until
        if dispatching_over and not active:
            return "time limit reached"
        if self.options.until_empty:
            if not pending:
                return "queue empty"
            stuck = [p for p in pending if p.state == QUEUED and not self._compatible_printers(p)]
            if not active and len(stuck) == len(pending):
                return f"{len(stuck)} queued plates have no compatible printer in the fleet"
        return ""

    def step(self) -> None:
        self._lots.clear()
        self.shared.heartbeat()
        self.printers = self.shared.printers(self.summary.waiting)  # fresh: spool changes, disabled printers
        first, self._rounds = self._rounds == 0, self._rounds + 1
        active = [p for p in self.store.plates(states=ACTIVE) if self.shared.mine_to_watch(p)]  # own + orphans
        if first:
            self.log(f"on start: {len(active)} plates were being sent or printed; reconciling with the printers"
                     if active else "on start: no plate was being sent or printed")
        for plate in active:
            try:
                self.observe(plate)
            except HospfabError as err:
                self.log(f"plate {plate.id}: {err.message}")
            if first:
                now = self.store.plate(plate.id)
                self.log(f"on start: plate {plate.id} on {plate.printer or '-'}: {plate.state} -> {now.state}")
        dispatching_over = self.options.until is not None and datetime.now().astimezone() >= self.options.until
        if not dispatching_over:
            self.dispatch()
        for name, why in self.summary.waiting.items():
            if self._waits_logged.get(name) != why.split(" (")[0]:
                self.log(f"{name} waits: {why}")
        self._waits_logged = {name: why.split(" (")[0] for name, why in self.summary.waiting.items()}
        if self.options.on_round is not None:
            self.options.on_round()

    # ---- observing plates on printers ---------------------------------------------------------------------

    def observe(self, plate: Plate) -> None:
        from hospfab.errors import NotFoundError
        from hospfab.printing.reconcile import reconcile_job

        try:
            job = self.journal.get(plate.job_id) if plate.job_id else None
        except NotFoundError:
            job = None
        if job is None or job.id != plate.job_id:
            # claimed by an older hospfab (plate claim and job were two transactions): its runner is gone
            if plate.state == DISPATCHING and self.shared.gone(plate.runner):
                self._end_unsent(plate, None, "claimed but never sent to the printer", plate.printer)
            return
        printer = self.printers.get(job.printer or "") or self.shared.any_printer(job.printer or "")
        if job.active and printer is None:
            return  # not in this fleet: cannot ask; leave it as recorded
        if job.active:
            client = self._client(printer)
            try:
                info = client.job()
            except PrinterError as err:
                self._silent(printer.name, job, err)
                return
            else:
                if self._unreachable_since.pop(printer.name, None) is not None:
                    self.log(f"printer {printer.name} answers again")
                if job.outcome == UPLOADING and self.shared.gone(plate.runner):
                    if self._abandoned_upload(client, job, info):
                        self._end_unsent(plate, job, "upload interrupted (runner stopped); nothing printed",
                                         printer.name)
                        return
                job = reconcile_job(self.journal, job, client)
        self._settle(plate, job)

    def _silent(self, name: str, job: Job, err: PrinterError) -> None:
        """A printer with a plate on it does not answer: say so at once; after ``lost_after_s`` its job is
        ``unknown`` (it may be printing: the plate is kept until the printer answers)."""
        now = time.monotonic()
        since = self._unreachable_since.get(name)
        if since is None:
            self._unreachable_since[name] = now
            self.log(f"printer {name} not answering ({err.message}); job {job.id} left as {job.outcome}")
            return
        if now - since >= self.options.lost_after_s and job.outcome != UNKNOWN:
            self.journal.update(job.id, outcome=UNKNOWN, reason=(
                f"printer {name} silent for {self.options.lost_after_s:g} s ({err.message}); it may still be "
                "printing: the plate stays on it until the printer answers"))  # fmt: skip
            self.summary.unknown += 1
            self.log(f"printer {name} silent for {self.options.lost_after_s:g} s: job {job.id} is unknown; "
                     "the plate stays on it until the printer answers")  # fmt: skip

    def _abandoned_upload(self, client: Any, job: Job, info: Any) -> bool:
        """An upload whose runner died: True (and the stray file removed) if that attempt printed nothing."""
        from hospfab.octoprint.exceptions import PrinterNotFound

        if info.file_name == job.remote_file and info.state.value not in ("operational", "offline"):
            return False
        try:
            stats = client.file_info(job.remote_file)
        except PrinterNotFound:
            return True
        if stats.prints_success + stats.prints_failure:
            return False
        try:
            client.delete_file(job.remote_file)
        except HospfabError:
            return False
        return True

    def _settle(self, plate: Plate, job: Job) -> None:
        if job.outcome == PRINTING and plate.state == DISPATCHING:
            self.store.mark_printing(plate.id, job.id)
            return
        if job.active:
            return
        # Several runners may settle the same attempt: only the one whose transaction changed the plate counts
        # it (the store's connection counts its own writes), so the summaries of several runners add up.
        changes = self.store.conn.total_changes
        if job.outcome == DONE:
            lot = self._lot(plate.lot_id)
            recipe = recipe_for(lot, job.printer_profile or "", job.material) or {"copies": plate.planned_units}
            self.store.finish_attempt(plate.id, job.id, ok=True, units=int(recipe["copies"]))
            if self.store.conn.total_changes == changes:
                return  # another runner settled it first
            self.summary.done += 1
            self.log(f"plate {plate.id}: done on {job.printer} ({recipe['copies']} units)")
            return
        reason = f"{job.outcome} on {job.printer}: {job.reason or 'no reason given'}"
        after = self.store.finish_attempt(plate.id, job.id, ok=False, reason=reason)
        if self.store.conn.total_changes == changes:
            return
        if after.state == QUEUED:
            self.summary.requeued += 1
            self.log(f"plate {plate.id}: attempt {after.attempts} {reason}; queued again")
        else:
            self.summary.failed += 1
            self.log(f"plate {plate.id}: attempt {after.attempts} {reason}; no attempt left, failed")

    def _end_unsent(self, plate: Plate, job: Job | None, reason: str, printer: str | None) -> None:
        """An attempt that started nothing: recorded as not sent; the attempt stays consumed (never given
        back), the plate is queued again avoiding that printer, or fails once its attempts are used."""
        if job is not None and job.active:
            self.journal.finish(job.id, FAILED, f"not sent: {reason}")
        after = self.store.finish_attempt(plate.id, plate.job_id or "", ok=False, reason=f"not sent: {reason}")
        count = self._send_failures[plate.id] = self._send_failures.get(plate.id, 0) + 1
        self.summary.not_sent += 1
        where = f" to {printer}" if printer else ""
        if after.state == QUEUED:
            self.log(f"plate {plate.id}: attempt {after.attempts} of {after.max_attempts} not sent{where}: {reason}"
                     f" ({count} in a row); queued again")  # fmt: skip
        elif after.state == "failed":
            self.summary.failed += 1
            self.log(f"plate {plate.id}: attempt {after.attempts} of {after.max_attempts} not sent{where}: {reason}"
                     f" ({count} in a row); no attempt left, plate failed")  # fmt: skip

    # ---- dispatching ---------------------------------------------------------------------------------------

    def dispatch(self) -> None:
        queued = self.store.plates(states=(QUEUED,))
        if not queued:
            return
        free = self._free_printers()
        if not free:
            return
        candidates = [PlanPrinter(p.name, p.profile, p.material, getattr(p, "site", None), 0.0) for p in free]
        for printer in free:
            site = getattr(printer, "site", None)
            wait_s = self._stagger_wait_s(site)
            if wait_s > 0:
                self.summary.waiting[printer.name] = (
                    f"stagger: site {site or '(none)'} started a plate less than {self.options.stagger_s:g} s ago "
                    f"(next start in {wait_s:.1f} s)"
                )
                continue
            plates = self._plan_plates(queued, printer)
            choice = choose_plate(printer.name, candidates, plates) or self._avoided_elsewhere(
                queued, plates, printer.name, [c.name for c in candidates])
            if choice is None:
                continue
            plate = next(p for p in queued if p.id == choice)
            if self._send(plate, printer):
                queued.remove(plate)
                opts = {(o.profile, o.material): o for o in plate_options(self._lot(plate.lot_id))}
                busy = opts.get((printer.profile, printer.material))
                candidates = [
                    PlanPrinter(c.name, c.profile, c.material, c.site, busy.duration_s if busy else 0.0)
                    if c.name == printer.name else c
                    for c in candidates
                ]

    def _avoided_elsewhere(self, queued: list[Plate], plates: list[PlanPlate], name: str,
                           free: list[str]) -> str | None:
        """A plate the plan gives to another free printer that the plate avoids (it failed there): this
        printer takes it, highest priority first (the plan itself knows nothing of avoid lists)."""
        by_id = {p.id: p for p in queued}
        for option in sorted(plates, key=lambda p: -p.priority):
            plate = by_id[option.key]
            others = [n for n in free if n != name and n in self._compatible_printers(plate)]
            if plate.avoid and others and all(n in plate.avoid for n in others):
                return plate.id
        return None

    def _stagger_wait_s(self, site: str | None) -> float:
        """Seconds before a printer of ``site`` may start a plate (0: now). The last start on the site is the
        journal's latest start among the site's printers (printers with no site count as one site), whoever
        started it: this runner, one before a restart, another runner or `hospfab print`."""
        if self.options.stagger_s <= 0:
            return 0.0
        names = [name for name, p in self.shared.fleet.items() if getattr(p, "site", None) == site]
        since = self.journal.seconds_since_last_start(names)  # on the database server's clock
        return 0.0 if since is None else max(0.0, self.options.stagger_s - since)

    def _plan_plates(self, queued: list[Plate], printer: Any) -> list[PlanPlate]:
        out = []
        for plate in queued:
            lot = self._lot(plate.lot_id)
            if printer.name in plate.avoid and any(n not in plate.avoid for n in self._compatible_printers(plate)):
                continue
            out.append(PlanPlate(plate.id, lot.ref, plate_options(lot), plate.priority))
        return out

    def _compatible_printers(self, plate: Plate) -> list[str]:
        lot = self._lot(plate.lot_id)
        return [n for n, p in self.printers.items() if recipe_for(lot, p.profile, p.material) is not None]

    def _free_printers(self) -> list[Any]:
        """Printers that can start a plate now: no active journal job, bed clear (or automatic), idle."""
        static = []
        for name, printer in sorted(self.printers.items()):
            busy = self.journal.active_on(name)
            if busy is not None:
                continue
            if getattr(printer, "bed_clearing", "manual") != "automatic" and not self.journal.bed_clear(name):
                self.summary.waiting[name] = f"bed not confirmed clear (run `hospfab printers cleared {name}`)"
                continue
            static.append(printer)

        def idle(printer: Any) -> bool:
            try:
                return self._client(printer).printer_state().is_idle
            except HospfabError:
                return False

        if not static:
            return []
        with ThreadPoolExecutor(max_workers=min(16, len(static))) as pool:
            states = list(pool.map(idle, static))
        free = [p for p, ok in zip(static, states) if ok]
        for p in free:
            self.summary.waiting.pop(p.name, None)
        return free

    def _send(self, plate: Plate, printer: Any) -> bool:
        """Claim ``plate``, claim ``printer`` in the journal, upload and start. True when the printer is now
        taken (printing, or an unknown outcome that keeps it)."""
        from hospfab.printing.send import PrintNotSent, PrintOutcomeUnknown, send_attempt

        lot = self._lot(plate.lot_id)
        recipe = recipe_for(lot, printer.profile, printer.material)
        if recipe is None:
            return False
        try:
            staged = self.builds.path(lot, recipe)
        except HospfabError as err:
            self.summary.waiting[printer.name] = err.message
            self.log(f"lot {lot.id}: {err.message}")
            return False
        job_id = new_job_id()
        job = Job(
            id=job_id, ref=lot.ref, revision=lot.revision, build_file=Path(recipe["build_file"]).name,
            sha256=recipe["sha256"], printer=printer.name, printer_url=printer.url, printer_profile=printer.profile,
            material=printer.material, material_lot=getattr(printer, "material_lot", None),
            operator=self.options.operator, created_at=now_iso(), outcome=UPLOADING, lot_id=lot.id, plate_id=plate.id,
        )  # fmt: skip
        manual = getattr(printer, "bed_clearing", "manual") != "automatic"
        try:  # the plate and the printer, in one transaction: both or neither
            claimed = self.store.claim(plate.id, runner=self.id, printer=printer.name, job_id=job_id, job=job,
                                       require_bed_clear=manual)  # fmt: skip
        except PrinterError as err:
            self.summary.waiting[printer.name] = err.message
            return False
        if claimed is None:
            return False  # another runner took it
        if not self.shared.leases.heartbeat(self.id, lease_s=self.options.lease_s):
            # paused past the lease: another runner may already be settling this attempt; never upload it
            self.journal.finish(job_id, FAILED, "not sent: runner lease expired before the upload")
            self.store.unclaim(plate.id, job_id, "runner lease expired before the upload")
            self.shared.start()
            return False
        userdata = {"hospfab": {"job_id": job_id, "lot_id": lot.id, "plate_id": plate.id,
                                "attempt": claimed.attempts, "ref": lot.ref, "revision": lot.revision,
                                "sha256": recipe["sha256"]}}  # fmt: skip
        try:
            job = send_attempt(self.journal, job, printer, self._sender(printer), staged, userdata)
        except PrintNotSent as err:
            self._end_unsent(claimed, None, err.details.get("reason") or err.message, printer.name)
            return False
        except PrintOutcomeUnknown as err:
            self.summary.unknown += 1
            self.log(f"plate {plate.id}: attempt {claimed.attempts}: {err.message}")
            return True  # the printer stays claimed by the unknown job
        self._send_failures.pop(plate.id, None)
        self.store.mark_printing(plate.id, job_id)
        self.summary.dispatched += 1
        note = f" ({job.reason})" if job.reason else ""
        self.log(f"plate {plate.id}: attempt {claimed.attempts} started on {printer.name} ({job.remote_file}){note}")
        return True

    # ---- helpers ---------------------------------------------------------------------------------------

    def _client(self, printer: Any) -> Any:
        """For questions: a short answer timeout, no retry (a silent printer must not stall the round)."""
        from hospfab.printing.reconcile import ASK_TIMEOUT_S

        if printer.name not in self._clients:
            self._clients[printer.name] = printer.client(read_timeout=ASK_TIMEOUT_S, retries=0)
        return self._clients[printer.name]

    def _sender(self, printer: Any) -> Any:
        """For uploads: the printer's own answer timeout."""
        if printer.name not in self._senders:
            self._senders[printer.name] = printer.client()
        return self._senders[printer.name]

    def _lot(self, lot_id: str) -> Lot:
        if lot_id not in self._lots:
            self._lots[lot_id] = self.store.lot(lot_id)
        return self._lots[lot_id]
