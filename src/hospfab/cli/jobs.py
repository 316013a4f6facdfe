"""``hospfab jobs list|show|cancel|watch``, ``hospfab history`` and ``hospfab printers cleared NAME``.

Listing and showing jobs first reconciles active jobs with their printers, so a job started by a process
that has since exited still gets its outcome.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hospfab.cli.options import JsonOpt, OperatorOpt, settings
from hospfab.cli.output import CommandResult, emit, plain
from hospfab.cli.print_ import GIVE_UP_DEFAULT_S, GiveUpOpt, outcome_result, wait_for_job
from hospfab.fleet.loading import load_printers, printer_named
from hospfab.errors import ExitCode

if TYPE_CHECKING:
    from rich.console import Console

jobs_app = typer.Typer(help="Jobs recorded in the journal: list, show, cancel, watch.", no_args_is_help=True)

OUTCOME_COLOURS = {"done": "green", "failed": "red", "lost": "red", "cancelled": "yellow", "printing": "cyan",
                   "unknown": "magenta", "damaged": "red"}
HISTORY_COLUMNS = (
    "id", "ref", "revision", "sha256", "build_file", "printer", "printer_url", "printer_profile", "material",
    "material_lot", "operator", "created_at", "started_at", "ended_at", "outcome", "reason", "overrides",
    "remote_file", "lot_id", "plate_id",
)  # fmt: skip


def _reconcile(journal: Any, config: Any, printer: str | None = None) -> dict[str, str]:
    from hospfab.printing import reconcile_active

    if not journal.active_jobs(printer):
        return {}
    return reconcile_active(journal, load_printers(config, required=False), only=printer)


def _outcome(job: dict[str, Any]) -> str:
    colour = OUTCOME_COLOURS.get(job["outcome"], "white")
    return f"[{colour}]{plain(job['outcome'])}[/]"


def _render_jobs(console: Console, jobs: list[dict[str, Any]], problems: dict[str, str]) -> None:
    from rich.table import Table

    from rich import box

    table = Table(title=f"{len(jobs)} job(s) (details: hospfab jobs show ID)", title_justify="left", box=box.SIMPLE, pad_edge=False)
    columns = ["id", "created UTC", "ref", "printer", "lot", "outcome"]
    with_reason = any(job["reason"] for job in jobs)  # the column only when some job has one
    id_width = max([len(column) for column in columns[:1]] + [len(job["id"]) for job in jobs])
    table.add_column(columns[0], no_wrap=True, min_width=id_width)  # ids are never shortened
    for column in columns[1:]:
        table.add_column(column, overflow="fold", min_width=len(column))
    if with_reason:
        table.add_column("reason", overflow="fold")
    for job in jobs:
        row = [
            plain(job["id"]), job["created_at"][5:16].replace("T", " "), plain(f"{job['ref']}@{job['revision']}"),
            plain(job["printer"] or "-"), plain(job["material_lot"] or "-"), _outcome(job),
        ]  # fmt: skip
        table.add_row(*row, *([plain(job["reason"] or "")] if with_reason else []))
    console.print(table)
    for name, problem in problems.items():
        from rich.markup import escape

        console.print(f"[yellow]Note:[/] jobs on {name} not reconciled: {escape(problem)}", markup=True)
    damaged = [job["id"] for job in jobs if job["outcome"] == "damaged"]
    if damaged:
        console.print(f"[red]Damaged journal row(s):[/] {', '.join(damaged)} (see `hospfab journal check`)")


def _damaged(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": job["id"], "problem": job["reason"]} for job in jobs if job["outcome"] == "damaged"]


@jobs_app.command("list")
def list_jobs(
    ctx: typer.Context,
    printer: Annotated[str | None, typer.Option("--printer", "-p", help="Only this printer.")] = None,
    ref: Annotated[str | None, typer.Option("--ref", help="Only this reference.")] = None,
    active: Annotated[bool, typer.Option("--active", help="Only jobs not finished yet.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many (newest first).")] = 50,
    json_: JsonOpt = False,
) -> None:
    """List jobs, newest first, after reconciling active ones with their printers.

    Example: hospfab jobs list --printer mk4-01 --limit 20
    """

    def work() -> CommandResult:
        from hospfab.journal import ACTIVE_OUTCOMES, Journal

        config = settings(ctx)
        with Journal(config.database_target) as journal:
            problems = _reconcile(journal, config, printer)
            outcomes = ACTIVE_OUTCOMES if active else None
            jobs = [j.as_dict() for j in journal.jobs(ref=ref, printer=printer, outcomes=outcomes, limit=limit)]
        data = {"jobs": jobs, "not_reconciled": problems, "damaged": _damaged(jobs)}
        return CommandResult(data=data, render=lambda c: _render_jobs(c, jobs, problems))

    emit("jobs list", json_, work)


@jobs_app.command("show")
def show_job(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="Job id (or a unique prefix).", show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """Show one job in full, after asking its printer for the latest state.

    Example: hospfab jobs show 250611-3f9a2c1b
    """

    def work() -> CommandResult:
        from hospfab.journal import Journal

        config = settings(ctx)
        with Journal(config.database_target) as journal:
            job = journal.get(job_id)
            problems = _reconcile(journal, config, job.printer) if job.active else {}
            data = journal.get(job.id).as_dict()
        data["not_reconciled"] = problems

        def render(console: Console) -> None:
            from rich.table import Table

            table = Table(show_header=False, title=f"Job {data['id']}", title_justify="left")
            table.add_column("field", style="bold")
            table.add_column("value", overflow="fold")
            for key in HISTORY_COLUMNS:
                value = data[key]
                table.add_row(key, _outcome(data) if key == "outcome" else plain(value))
            console.print(table)

        return CommandResult(data=data, render=render)

    emit("jobs show", json_, work)


@jobs_app.command("cancel")
def cancel(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="Job id (or a unique prefix).", show_default=False)],
    operator: OperatorOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Cancel a running job on its printer and record who cancelled it.

    Example: hospfab jobs cancel 250611-3f9a2c1b --operator ana
    """

    def work() -> CommandResult:
        from hospfab.journal import Journal
        from hospfab.printing import cancel_job, default_operator

        config = settings(ctx)
        with Journal(config.database_target) as journal:
            job = journal.get(job_id)
            printer = printer_named(load_printers(config), job.printer)
            before = job.outcome
            job = cancel_job(journal, job.id, printer, operator or default_operator())
        data = job.as_dict()
        if job.outcome != "cancelled" or before not in ("printing", "uploading"):
            message = f"job {job.id} had already ended: {job.outcome}"
            return CommandResult(data=data, exit_code=ExitCode.FAILED,
                                 errors=[{"code": "job_not_active", "message": message}])  # fmt: skip
        return CommandResult(data=data, render=lambda c: c.print(f"Job {job.id} on {job.printer}: cancelled"))

    emit("jobs cancel", json_, work)


@jobs_app.command("watch")
def watch(
    ctx: typer.Context,
    job_id: Annotated[
        str | None, typer.Argument(help="Job id; default: every active job, one after another.", show_default=False)
    ] = None,
    give_up: GiveUpOpt = GIVE_UP_DEFAULT_S,
    json_: JsonOpt = False,
) -> None:
    """Follow jobs with a progress bar until done, failed or cancelled (exit 0 only if all are done).

    Ctrl-C stops watching; the prints go on. A printer silent for --give-up seconds ends the watch with
    exit 3 (the job is reconciled later).

    Example: hospfab jobs watch 250611-3f9a2c1b
    """

    def work() -> CommandResult:
        from hospfab.journal import Journal

        config = settings(ctx)
        printers = load_printers(config)
        finished: list[dict[str, Any]] = []
        exit_code, errors = ExitCode.OK, []
        with Journal(config.database_target) as journal:
            jobs = [journal.get(job_id)] if job_id else journal.active_jobs()
            for job in jobs:
                if not job.active:
                    final, interrupted = job, False
                else:
                    final, interrupted = wait_for_job(journal, job, printer_named(printers, job.printer),
                                                      show=not json_, give_up_s=give_up)  # fmt: skip
                finished.append(final.as_dict())
                code, errs = outcome_result(final, interrupted)
                errors += errs
                if code != ExitCode.OK and exit_code == ExitCode.OK:
                    exit_code = code
                if interrupted:
                    break
        data = {"jobs": finished}
        return CommandResult(data=data, exit_code=exit_code, errors=errors,
                             render=lambda c: _render_jobs(c, finished, {}))  # fmt: skip

    emit("jobs watch", json_, work)


def history(
    ctx: typer.Context,
    ref: Annotated[str | None, typer.Option("--ref", help="Only this reference.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only jobs created on or after this date (YYYY-MM-DD[THH:MM]).")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout, one row per job, every field.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Export the device history: every job, oldest first, with revision, checksum, printer, lot and outcome.

    Example: hospfab history --ref VISOR-HEADBAND --since 2025-01-01 --csv > visors.csv
    """

    def work() -> CommandResult:
        from hospfab.journal import Journal

        config = settings(ctx)
        start = _parse_since(since)
        with Journal(config.database_target) as journal:
            problems = _reconcile(journal, config)
            jobs = [j.as_dict() for j in journal.jobs(ref=ref, since=start, newest_first=False)]
        data = {"ref": ref, "since": start, "jobs": jobs, "not_reconciled": problems, "damaged": _damaged(jobs)}
        if as_csv:
            return CommandResult(data=data, render=lambda c: c.file.write(history_csv(jobs)))
        return CommandResult(data=data, render=lambda c: _render_jobs(c, jobs, problems))

    emit("history", json_, work)


def history_csv(jobs: list[dict[str, Any]]) -> str:
    import json

    from hospfab.fileio import spreadsheet_safe

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for job in jobs:
        row = dict(job, overrides=json.dumps(job["overrides"], sort_keys=True))
        writer.writerow(["" if row[c] is None else spreadsheet_safe(row[c]) for c in HISTORY_COLUMNS])
    return out.getvalue()


def _parse_since(value: str | None) -> str | None:
    from datetime import datetime, timezone

    from hospfab.errors import InputError

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"--since {value!r}: expected a date YYYY-MM-DD or date-time YYYY-MM-DDTHH:MM") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def printers_cleared(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Printer name in the fleet file.", show_default=False)],
    operator: OperatorOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Confirm that a printer's bed is clear (needed before the next job when bed_clearing is manual).

    Example: hospfab printers cleared mk4-01 --operator ana
    """

    def work() -> CommandResult:
        from hospfab.journal import Journal
        from hospfab.printing import default_operator

        config = settings(ctx)
        printer_named(load_printers(config), name)
        with Journal(config.database_target) as journal:
            _reconcile(journal, config, name)
            record = journal.mark_bed_clear(name, operator or default_operator())
        data = {"printer": record.printer, "cleared_at": record.cleared_at, "operator": record.operator}
        return CommandResult(
            data=data, render=lambda c: c.print(f"Bed of {plain(name)} confirmed clear by {plain(record.operator)}.")
        )

    emit("printers cleared", json_, work)


def _printers_group(app: typer.Typer) -> typer.Typer:
    """The `printers` sub-app registered by cli/printers.py, or a new one if it has none yet."""
    for group in app.registered_groups:
        if group.name == "printers" and group.typer_instance is not None:
            return group.typer_instance
    group = typer.Typer(help="Printers of the fleet.", no_args_is_help=True)
    app.add_typer(group, name="printers")
    return group


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(jobs_app, name="jobs")
    app.command("history")(history)
    _printers_group(app).command("cleared")(printers_cleared)
