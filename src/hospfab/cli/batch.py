"""``hospfab batch``, the ``queue`` group (run, status, list, cancel, retry, prioritize) and the ``lots`` group."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hospfab.cli.options import JsonOpt, OperatorOpt, settings
from hospfab.cli.output import CommandResult, emit

if TYPE_CHECKING:
    from rich.console import Console

queue_app = typer.Typer(help="The batch queue: run it, see it, change it.", no_args_is_help=True)
lots_app = typer.Typer(help="Lots: what was made, sampling, release, device history record.", no_args_is_help=True)



def _operator(value: str | None) -> str:
    from hospfab.printing import default_operator

    return value or default_operator()


def _table(console: Console, title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    id_width = max([len(columns[0])] + [len(str(row[0])) for row in rows])
    table.add_column(columns[0], no_wrap=True, min_width=id_width)  # the first column is an id: never shortened
    for column in columns[1:]:
        table.add_column(column, overflow="fold", min_width=min(len(column), 8))
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def _busy_seconds(printers: list[Any]) -> tuple[dict[str, float], dict[str, str]]:
    """Seconds until each printer is free (from its current job), and the printers that cannot be asked."""
    from concurrent.futures import ThreadPoolExecutor

    from hospfab.errors import HospfabError

    def ask(printer: Any) -> tuple[float | None, str | None]:
        try:
            with printer.client() as client:
                state = client.printer_state()
                if state.is_idle:
                    return 0.0, None
                if state.is_busy:
                    left = client.job().print_time_left_s
                    return float(left if left is not None else 3600.0), None
                return None, f"not operational: {state.text or state.state.value}"
        except HospfabError as err:
            return None, err.message

    busy, down = {}, {}
    if printers:
        with ThreadPoolExecutor(max_workers=min(16, len(printers))) as pool:
            for printer, (seconds, problem) in zip(printers, pool.map(ask, printers)):
                if seconds is None:
                    down[printer.name] = problem or "unavailable"
                else:
                    busy[printer.name] = seconds
    return busy, down


def batch(
    ctx: typer.Context,
    spec: Annotated[str, typer.Argument(help="Reference, optionally @revision (default: latest validated).")],
    quantity: Annotated[int, typer.Option("--quantity", "-n", min=1, help="Units wanted.")],
    printer: Annotated[list[str] | None, typer.Option("--printer", help="Only these printers (repeatable).")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Only printers of this site.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Deadline, local time HH:MM.")] = None,
    priority: Annotated[int, typer.Option("--priority", help="Higher prints first.")] = 0,
    plan_only: Annotated[bool, typer.Option("--plan", help="Show the plan only; create no lot.")] = False,
    chart: Annotated[Path | None, typer.Option("--chart", help="Write the plan timeline as a PNG.")] = None,
    max_attempts: Annotated[int, typer.Option("--max-attempts", min=1, help="Attempts per plate.")] = 3,
    stagger: Annotated[float, typer.Option("--stagger", min=0, help="Seconds between starts on a site.")] = 0.0,
    staff_rounds: Annotated[float | None, typer.Option(
        "--staff-rounds", min=1, envvar="HOSPFAB_STAFF_ROUNDS",
        help="Minutes within which staff clear a manual printer's bed (default: nobody clears at night).")] = None,
    operator: OperatorOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Plan a lot of N units over the compatible printers and enqueue its plates.

    Units per plate come from the revision's recipes, plate times from their estimates, and each printer
    starts when its current job ends. Unreachable printers are left out of the plan. A manual-clearing
    printer is planned for at most the plate it can start now, unless --staff-rounds says how soon someone
    clears its bed; the plan says how many units are ready by the deadline under that assumption.

    Example: hospfab batch VISOR-HEADBAND --quantity 300 --by 07:00 --chart plan.png
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.catalog import Catalog
        from hospfab.cli.print_ import load_printers
        from hospfab.errors import NotFoundError, PrinterError
        from hospfab.journal import Journal
        from hospfab.printing.send import resolve_for_print
        from hospfab.queue.chart import draw_timeline
        from hospfab.queue.lots import create_lot, parse_deadline, plan_for_revision
        from hospfab.queue.store import QueueStore

        revision, _ = resolve_for_print(Catalog(config.catalog_dir), spec, allow_draft=False)
        printers = load_printers(config)
        if printer:
            unknown = sorted(set(printer) - {p.name for p in printers})
            if unknown:
                raise NotFoundError(f"printer {unknown[0]}: not in the fleet file {config.fleet_path}")
            printers = [p for p in printers if p.name in printer]
        if site:
            printers = [p for p in printers if p.site == site]
        compatible = [p for p in printers if revision.recipe_for(p.profile, p.material) is not None]
        busy, down = _busy_seconds(compatible)
        usable = [p for p in compatible if p.name in busy]
        with Journal(config.database_target) as journal:
            bed_clear = {p.name: journal.bed_clear(p.name) for p in usable}
        if compatible and not usable:
            raise PrinterError(f"no compatible printer can be reached for {revision.spec}: "
                               + "; ".join(f"{k}: {v}" for k, v in down.items()))  # fmt: skip
        proposal = plan_for_revision(revision, usable, quantity, busy_s=busy, priority=priority,
                                     deadline=parse_deadline(by), stagger_s=stagger, bed_clear=bed_clear,
                                     clearing_delay_s=staff_rounds * 60 if staff_rounds else None)  # fmt: skip
        data = proposal.as_dict()
        data["unavailable"] = down
        data["lot_id"] = None
        if chart is not None:
            draw_timeline(proposal.lot_plan.plan, chart, title=f"{revision.spec} x {quantity}",
                          deadline_s=proposal.lot_plan.deadline_s)  # fmt: skip
            data["chart"] = str(chart)
        if not plan_only:
            with QueueStore(config.database_target) as store:
                lot = create_lot(store, proposal, revision.meta.sampling, operator=_operator(operator),
                                 priority=priority, max_attempts=max_attempts)  # fmt: skip
            data["lot_id"] = lot.id
            data["sampling"] = lot.sampling
        return CommandResult(data=data, render=lambda c: _render_plan(c, data))

    emit("batch", json_, work)


def _render_plan(console: Console, data: dict[str, Any]) -> None:
    rows = [[p["printer"], p["profile"], p["material"], _clearing(p), p["free_at"][11:], p["plates"], p["units"],
             p["finish_at"][11:] if p["plates"] else "-"] for p in data["plan"]]  # fmt: skip
    _table(console, f"{data['ref']}@{data['revision']}: {data['quantity']} units, {data['units_per_plate']} per "
                    f"plate, {data['plates']} plates", ["printer", "profile", "material", "bed", "free at",
                                                       "plates", "units", "done at"], rows)  # fmt: skip
    clearing = data.get("bed_clearing") or {}
    if clearing.get("manual_printers"):
        console.print(f"Bed clearing: {clearing['assumption']}.")
    if data.get("plates_unscheduled"):
        console.print(f"[bold yellow]{data['units_scheduled']} units scheduled[/] by {data['finish_at']}; "
                      f"{data['plates_unscheduled']} plates wait for someone to clear a bed "
                      "(--staff-rounds MIN to plan with staff rounds).")  # fmt: skip
    else:
        console.print(f"All done at {data['finish_at']} ({data['units']} units).")
    if data["deadline"] is not None:
        if data["deadline_met"]:
            console.print(f"[green]Deadline {data['deadline'][11:16]} met.[/]")
        else:
            console.print(f"[bold red]Deadline {data['deadline'][11:16]} cannot be met:[/] "
                          f"{data['units_by_deadline']} of {data['quantity']} units by then.")  # fmt: skip
    for name, problem in data.get("unavailable", {}).items():
        console.print(f"[yellow]Left out[/] {name}: {problem}")
    if data.get("lot_id"):
        console.print(f"Lot [bold]{data['lot_id']}[/] queued: run `hospfab queue run`.")
    else:
        console.print("Plan only: no lot created.")


def _clearing(printer: dict[str, Any]) -> str:
    if printer.get("bed_clearing") != "manual":
        return "auto"
    return "manual" if printer.get("bed_clear_now", True) else "manual, waits"


@queue_app.command("run")
def queue_run(
    ctx: typer.Context,
    until_empty: Annotated[bool, typer.Option("--until-empty", help="Stop when nothing is queued or printing.")] = False,
    until: Annotated[str | None, typer.Option("--until", help="Stop dispatching at HH:MM (local).")] = None,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between rounds.")] = 2.0,
    stagger: Annotated[float, typer.Option("--stagger", min=0, help="Seconds between starts on a site.")] = 0.0,
    lost_after: Annotated[float, typer.Option("--lost-after", min=0, help="Seconds a printer may be unreachable "
                                              "while printing before its plate is lost.")] = 60.0,
    site: Annotated[str | None, typer.Option("--site", help="Dispatch only to this site's printers (several "
                                             "runners, one per site, share the lots).")] = None,
    lease: Annotated[float, typer.Option("--lease", min=1, help="Seconds without a heartbeat after which other "
                                         "runners take over this runner's plates.")] = 120.0,
    operator: OperatorOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Run the queue: dispatch plates to free printers, wait for outcomes, requeue failures.

    Safe to kill at any moment: on start it reconciles every plate that was being sent or printed with what
    the printers report. Manual-clearing printers wait for `hospfab printers cleared NAME`.

    Example: hospfab queue run --site north --until 07:00 --stagger 120
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.catalog import Catalog
        from hospfab.cli.print_ import load_printers
        from hospfab.queue.lots import parse_deadline
        from hospfab.queue.runner import QueueRunner, RunnerOptions

        from hospfab.alerts.deliver import AlertHook, runner_stopped

        log = (lambda m: None) if json_ else _printer_log()
        printers = load_printers(config)
        alerts = AlertHook(config.database_target, config.config_dir, printers, log=log)
        options = RunnerOptions(poll_s=poll, stagger_s=stagger, lost_after_s=lost_after, until_empty=until_empty,
                                until=parse_deadline(until), operator=_operator(operator),
                                on_round=alerts, site=site, lease_s=lease)  # fmt: skip
        with QueueRunner(config.database_target, printers, catalog=Catalog(config.catalog_dir),
                         options=options, log=log) as runner:  # fmt: skip
            try:
                summary = runner.run()
            except KeyboardInterrupt:
                runner.summary.stopped = "interrupted"
                raise
            finally:
                runner_stopped(config.database_target, config.config_dir, runner.id, runner.summary)
                alerts.join(timeout=15.0)
        data = summary.as_dict()
        return CommandResult(data=data, render=lambda c: c.print(
            f"Stopped ({data['stopped']}): {data['dispatched']} plates started, {data['done']} done, "
            f"{data['requeued']} requeued, {data['failed']} failed."))

    emit("queue run", json_, work)


def _printer_log():
    from datetime import datetime

    from hospfab.cli.output import stdout_console

    console = stdout_console()
    return lambda message: console.print(f"{datetime.now():%H:%M:%S} {message}", markup=False)


@queue_app.command("status")
def queue_status(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Plates per state and what is printing now.

    Example: hospfab queue status
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.queue.store import ACTIVE, QueueStore

        with QueueStore(config.database_target) as store:
            plates = store.plates()
            open_lots = [lot.summary() for lot in store.lots() if lot.state == "open" and not lot.finished]
        counts: dict[str, int] = {}
        for plate in plates:
            counts[plate.state] = counts.get(plate.state, 0) + 1
        active = [{"plate": p.id, "printer": p.printer, "state": p.state, "attempt": p.attempts} for p in plates
                  if p.state in ACTIVE]  # fmt: skip
        data = {"counts": counts, "active": active, "open_lots": open_lots}

        def render(console: Console) -> None:
            console.print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "The queue is empty.")
            if active:
                _table(console, "On printers", ["plate", "printer", "state", "attempt"],
                       [[a["plate"], a["printer"], a["state"], a["attempt"]] for a in active])  # fmt: skip

        return CommandResult(data=data, render=render)

    emit("queue status", json_, work)


@queue_app.command("list")
def queue_list(
    ctx: typer.Context,
    state: Annotated[list[str] | None, typer.Option("--state", help="Only plates in this state (repeatable).")] = None,
    lot: Annotated[str | None, typer.Option("--lot", help="Only plates of this lot.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List plates, highest priority first.

    Example: hospfab queue list --state queued --state failed
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.queue.store import QueueStore

        with QueueStore(config.database_target) as store:
            lot_id = store.lot(lot).id if lot else None
            plates = store.plates(lot_id=lot_id, states=tuple(state) if state else None)
        rows = [p.as_dict() for p in plates]
        return CommandResult(data={"plates": rows}, render=lambda c: _table(
            c, f"{len(rows)} plates", ["plate", "state", "priority", "attempts", "printer", "units", "reason"],
            [[p["id"], p["state"], p["priority"], f"{p['attempts']}/{p['max_attempts']}", p["printer"], p["units"],
              p["reason"]] for p in rows]))  # fmt: skip

    emit("queue list", json_, work)


def _change(config: Any, command: str, action: Any) -> Any:
    """A command body applying ``action(store) -> changed plates``."""

    def work() -> CommandResult:
        from hospfab.errors import InputError
        from hospfab.queue.store import QueueStore

        with QueueStore(config.database_target) as store:
            changed = action(store)
        if not changed:
            raise InputError(f"{command}: nothing to change (see `hospfab queue list`)")
        data = {"changed": [p.as_dict() for p in changed]}
        return CommandResult(data=data, render=lambda c: c.print(
            f"{len(changed)} plates: " + ", ".join(f"{p.id} {p.state} (priority {p.priority})" for p in changed)))

    return work


@queue_app.command("cancel")
def queue_cancel(ctx: typer.Context, ident: Annotated[str, typer.Argument(help="Plate or lot id.")],
                 operator: OperatorOpt = None, json_: JsonOpt = False) -> None:
    """Cancel a queued plate, or every queued plate of a lot.

    Example: hospfab queue cancel L20250611-031502-3f9a
    """
    emit("queue cancel", json_, _change(settings(ctx), "queue cancel", lambda s: s.cancel(ident, by=_operator(operator))))


@queue_app.command("retry")
def queue_retry(ctx: typer.Context, ident: Annotated[str, typer.Argument(help="Plate or lot id.")],
                operator: OperatorOpt = None, json_: JsonOpt = False) -> None:
    """Queue failed or cancelled plates again (one more attempt each).

    Example: hospfab queue retry L20250611-031502-3f9a-004
    """
    emit("queue retry", json_, _change(settings(ctx), "queue retry", lambda s: s.retry(ident, by=_operator(operator))))


@queue_app.command("prioritize")
def queue_prioritize(ctx: typer.Context, ident: Annotated[str, typer.Argument(help="Plate or lot id.")],
                     priority: Annotated[int, typer.Argument(help="New priority (higher first).")],
                     json_: JsonOpt = False) -> None:
    """Change the priority of a plate or of a whole lot.

    Example: hospfab queue prioritize L20250611-031502-3f9a 10
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.errors import InputError
        from hospfab.queue.store import QueueStore

        with QueueStore(config.database_target) as store:
            changed = store.prioritize(ident, priority)
            ahead = [p for p in store.plates(states=("queued",)) if p.priority > priority]
        if not changed:
            raise InputError(f"queue prioritize: nothing to change (see `hospfab queue list`)")
        counts: dict[str, int] = {}
        for plate in changed:
            counts[plate.state] = counts.get(plate.state, 0) + 1
        data = {"ident": ident, "priority": priority, "plates": len(changed), "by_state": counts,
                "queued_ahead": len(ahead), "changed": [p.as_dict() for p in changed]}  # fmt: skip
        states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        return CommandResult(data=data, render=lambda c: c.print(
            f"{ident}: {len(changed)} plates now priority {priority} ({states}); {len(ahead)} queued plates of "
            "higher priority go first." if ahead else
            f"{ident}: {len(changed)} plates now priority {priority} ({states}); next to print.", markup=False,
            soft_wrap=True))

    emit("queue prioritize", json_, work)


@lots_app.command("list")
def lots_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List lots, newest first.

    Example: hospfab lots list --json
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.queue.store import QueueStore

        with QueueStore(config.database_target) as store:
            lots = [lot.summary() for lot in store.lots()]
        return CommandResult(data={"lots": lots}, render=lambda c: _table(
            c, f"{len(lots)} lots", ["lot", "reference", "status", "units made", "quantity", "plates done"],
            [[x["lot_id"], f"{x['ref']}@{x['revision']}", x["status"], x["units_made"], x["quantity"],
              f"{x['plates_done']}/{x['plates']}"] for x in lots]))  # fmt: skip

    emit("lots list", json_, work)


@lots_app.command("show")
def lots_show(ctx: typer.Context, lot_id: Annotated[str, typer.Argument(help="Lot id (or unique prefix).")],
              json_: JsonOpt = False) -> None:
    """Units planned, made and failed; plates per printer; revision and build-file checksums; sample.

    Example: hospfab lots show L20250611-031502-3f9a
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.journal import Journal
        from hospfab.queue.inspections import InspectionStore
        from hospfab.queue.record import device_history
        from hospfab.queue.store import QueueStore

        with QueueStore(config.database_target) as store, Journal(config.database_target) as journal, \
                InspectionStore(config.database_target) as inspections:  # fmt: skip
            record = device_history(store, journal, lot_id, inspections=inspections)
        per_printer: dict[str, dict[str, int]] = {}
        for plate in record["plates"]:
            if plate["printer"]:
                entry = per_printer.setdefault(plate["printer"], {"done": 0, "other": 0})
                entry["done" if plate["state"] == "done" else "other"] += 1
        data = {**record["summary"], "lot": record["lot"], "plates_per_printer": per_printer,
                "plates": record["plates"], "inspections": record["inspections"],
                "drawn": (record["lot"].get("sampling") or {}).get("units", [])}  # fmt: skip
        return CommandResult(data=data, render=lambda c: _render_lot(c, data))

    emit("lots show", json_, work)


def _render_lot(console: Console, data: dict[str, Any]) -> None:
    lot = data["lot"]
    console.print(f"[bold]{data['lot_id']}[/] {data['ref']}@{data['revision']}: {data['status']}")
    console.print(f"units: {data['quantity']} ordered, {data['units_planned']} planned, {data['units_made']} made; "
                  f"plates: {data['plates_done']} done, {data['plates_failed']} failed, {data['plates_pending']} "
                  f"pending")  # fmt: skip
    for recipe in lot.get("recipes", []):
        console.print(f"recipe {recipe['printer']}/{recipe['material']}: sha256 {recipe['sha256']}")
    for build in data["build_files"]:
        console.print(f"printed {build['printer']}/{build['material']}: sha256 {build['sha256']} "
                      f"({len(build['plates'])} plates)")
    for name, entry in sorted(data["plates_per_printer"].items()):
        console.print(f"  {name}: {entry['done']} plates done, {entry['other']} other")
    sample = lot.get("sampling") or {}
    done = {r["unit"]: r for r in data.get("inspections", [])}
    for draw in sample.get("plates", []):
        result = done.get(draw["unit"])
        state = f"{result['verdict'].upper()} ({result['method']}, {result['inspected_at']})" if result else "to do"
        console.print(f"inspect unit {draw['unit']}: plate {draw['plate']:03d}, copy {draw['copy']}: {state}")
    if lot.get("released_by"):
        console.print(f"{lot['state']} by {lot['released_by']} at {lot['released_at']} ({lot['inspection']}): "
                      f"{lot.get('note') or ''}")  # fmt: skip


@lots_app.command("release")
def lots_release(
    ctx: typer.Context,
    lot_id: Annotated[str, typer.Argument(help="Lot id.")],
    by: Annotated[str, typer.Option("--by", help="Who releases (name).")],
    scan: Annotated[list[str] | None, typer.Option("--scan", help="UNIT=FILE: a drawn unit's scan, measured "
                                                   "now against the lot's revision (repeatable).")] = None,
    manual: Annotated[list[str] | None, typer.Option("--manual", help="UNIT=FILE: a drawn unit's manual "
                                                     "measurement record, YAML (repeatable).")] = None,
    tolerance: Annotated[float | None, typer.Option("--tolerance", help="Surface tolerance in mm for --scan "
                         "(default: the revision's acceptance criteria).", show_default=False)] = None,
    reports: Annotated[Path | None, typer.Option("--reports", help="Folder for the HTML reports of --scan.",
                                                 show_default=False)] = None,
    reject: Annotated[bool, typer.Option("--reject", help="Reject (quarantine) the lot without inspection.")
                      ] = False,
    note: Annotated[str, typer.Option("--note", help="Note for the record.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Release a lot on evidence: every unit the sampling plan drew (see `lots show`) must be inspected,
    by scan or manual measurement. A failed unit rejects (quarantines) the lot: exit 1. A result for a unit
    that was not drawn is refused; a lot printed on a test-only printer profile is never released.

    Example: hospfab lots release L20250611-031502-3f9a --by "Dr Roy" --scan 37=unit-37.ply --reports reports/
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.errors import InputError
        from hospfab.journal import Journal
        from hospfab.queue import inspections as insp
        from hospfab.queue.store import QueueStore

        scans = insp.parse_unit_files(scan or [], "--scan")
        manuals = insp.parse_unit_files(manual or [], "--manual")
        with QueueStore(config.database_target) as store, Journal(config.database_target) as journal, \
                insp.InspectionStore(config.database_target) as results:  # fmt: skip
            lot = store.lot(lot_id)
            if reject:
                lot = store.release(lot.id, by=by, inspection="fail", note=note or "rejected without inspection")
                return _release_result(lot, None, [])
            insp.check_drawn(lot, [u for u, _ in scans + manuals])
            insp.check_open_and_finished(lot)
            blocked = insp.test_only_profiles([j for j in journal.jobs() if j.lot_id == lot.id],
                                              _test_only(config))  # fmt: skip
            if blocked:
                from hospfab.errors import SafetyError

                raise SafetyError(f"lot {lot.id}: printed on test-only printer profile {', '.join(blocked)}; such a "
                                  f"lot is never released (use --reject)", code="test_only_profile")  # fmt: skip
            recorded = [_manual_result(lot.id, unit, path, by) for unit, path in manuals]
            if scans:
                recorded += _scan_results(config, lot, scans, by, tolerance, reports)
            for item in recorded:
                results.add(item)
            if not scans and not manuals and not results.for_lot(lot.id):
                raise InputError(f"lot {lot.id}: no inspection result; give --scan UNIT=FILE or --manual UNIT=FILE "
                                 f"for drawn unit {', '.join(map(str, insp.check_drawn(lot, [])))}")  # fmt: skip
            lot, decision = insp.release_lot(store, results, lot.id, by=by, blocked_profiles=blocked, note=note)
            out = _release_result(lot, decision, [r.as_dict() for r in recorded])
            if decision.state == "rejected":
                err = insp.rejected_error(lot, decision)
                out.exit_code, out.errors = err.exit_code, [err.as_dict()]
            return out

    emit("lots release", json_, work)


def _test_only(config: Any) -> Any:
    from hospfab.profiles import ProfileStore

    profiles = ProfileStore(config.profiles_dir)

    def check(name: str) -> bool:
        try:
            return bool(getattr(profiles.printer(name), "test_only", False))
        except Exception:  # noqa: BLE001 - a profile that no longer loads cannot vouch for a release
            return True

    return check


def _manual_result(lot_id: str, unit: int, path: Path, by: str) -> Any:
    from hospfab.queue import inspections as insp

    verdict, figures = insp.read_manual_record(path)
    files = [{"role": "manual record", "path": str(path), "sha256": insp.sha256_file(path)}]
    return insp.new_inspection(lot_id, unit, insp.MANUAL, verdict, by=by, tolerance_mm=None, figures=figures,
                               files=files)  # fmt: skip


def _scan_results(config: Any, lot: Any, scans: list, by: str, tolerance: float | None, reports: Path | None
                  ) -> list[Any]:
    from hospfab.inspect.run import inspect_file, load_reference
    from hospfab.queue import inspections as insp

    reference = load_reference(lot.spec, config.catalog_dir)
    out = []
    for unit, path in scans:
        report = reports / f"{lot.id}-unit-{unit}.html" if reports else None
        result = inspect_file(path, reference, tolerance=tolerance, report=report, inspected_by=by)
        files = [{"role": "scan", "path": str(path), "sha256": result.scan_sha256},
                 {"role": "reference", "path": str(reference.path), "sha256": reference.sha256}]
        if report is not None:
            files.append({"role": "report", "path": str(report), "sha256": insp.sha256_file(report)})
        figures = {**result.figures, "findings": [f.as_dict() for f in result.findings],
                   "reference": reference.name, "tolerance_source": result.tolerance_source,
                   "dimensions": result.dimensions}  # fmt: skip
        out.append(insp.new_inspection(lot.id, unit, insp.SCAN, result.verdict, by=by,
                                       tolerance_mm=result.tolerance_mm, figures=figures, files=files))  # fmt: skip
    return out


def _release_result(lot: Any, decision: Any, recorded: list[dict[str, Any]]) -> CommandResult:
    data = lot.summary() | {"released_by": lot.released_by, "released_at": lot.released_at,
                            "inspection": lot.inspection, "recorded": recorded,
                            "drawn": decision.drawn if decision else [],
                            "failed_units": decision.failed if decision else []}  # fmt: skip

    def render(console: Console) -> None:
        for item in recorded:
            f = item["figures"]
            figures = (f"RMS {f['rms_mm']:.3f} mm, max {f['max_mm']:.3f} mm, {100 * f['within_tolerance_share']:.1f} % "
                       f"within tolerance" if item["method"] == "scan" else
                       f"{len(f['measurements'])} measurements")  # fmt: skip
            console.print(f"unit {item['unit']} ({item['method']}): {item['verdict'].upper()}, {figures}")
        console.print(f"Lot {lot.id} {lot.state} by {lot.released_by}: {lot.units_made} units.")

    return CommandResult(data=data, render=render)


@lots_app.command("export")
def lots_export(
    ctx: typer.Context,
    lot_id: Annotated[str, typer.Argument(help="Lot id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write: .csv, .json or .html.")],
    json_: JsonOpt = False,
) -> None:
    """Export the device history record of a lot (CSV, JSON, or a printable one-page HTML).

    Example: hospfab lots export L20250611-031502-3f9a -o dhr.html
    """
    config = settings(ctx)

    def work() -> CommandResult:
        from hospfab.journal import Journal
        from hospfab.queue.record import device_history, export
        from hospfab.queue.store import QueueStore

        from hospfab.queue.inspections import InspectionStore

        with QueueStore(config.database_target) as store, Journal(config.database_target) as journal, \
                InspectionStore(config.database_target) as inspections:  # fmt: skip
            record = device_history(store, journal, lot_id, inspections=inspections,
                                    revision=_revision_or_none(config, store.lot(lot_id).spec))
            path = export(record, output)
        return CommandResult(data={"path": str(path)}, render=lambda c: c.print(f"Wrote {path}"))

    emit("lots export", json_, work)


def _revision_or_none(config: Any, spec: str) -> Any:
    """The lot's catalog revision (for its validators), or None when the catalog no longer has it."""
    from hospfab.catalog import Catalog
    from hospfab.errors import HospfabError

    try:
        return Catalog(config.catalog_dir).resolve(spec)
    except HospfabError:
        return None


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("batch")(batch)
    app.add_typer(queue_app, name="queue")
    app.add_typer(lots_app, name="lots")
