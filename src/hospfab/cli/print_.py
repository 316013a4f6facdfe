"""``hospfab print REF[@REV]``: send a validated part to a printer of the fleet (and optionally wait)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hospfab.cli.options import JsonOpt, OperatorOpt, settings
from hospfab.cli.output import CommandResult, emit
from hospfab.errors import ExitCode
from hospfab.fleet.loading import load_printers

if TYPE_CHECKING:
    from rich.console import Console

    from hospfab.journal import Job, Journal

INTERRUPTED = 130


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


GiveUpOpt = Annotated[
    float,
    typer.Option("--give-up", min=1.0, max=86400.0,
                 help="With --wait: stop waiting (exit 3) after the printer stayed silent this many seconds; "
                      "the job is left to reconciliation."),
]  # fmt: skip
GIVE_UP_DEFAULT_S = 120.0


def wait_for_job(journal: Journal, job: Job, printer: Any, *, show: bool,
                 give_up_s: float = GIVE_UP_DEFAULT_S) -> tuple[Job, bool]:
    """Follow ``job`` until its outcome, with a progress bar when ``show``. Returns (job, interrupted).

    A silent printer shows as such on the bar within seconds; after ``give_up_s`` of silence the wait ends
    with :class:`~hospfab.printing.reconcile.WaitAbandoned` (exit 3). Ctrl-C stops waiting only: the print
    goes on and the journal keeps it as printing."""
    from hospfab.printing import watch_job
    from hospfab.printing.reconcile import ASK_TIMEOUT_S

    def follow(on_update: Any) -> Job:
        with printer.client(read_timeout=ASK_TIMEOUT_S, retries=0) as client:
            return watch_job(journal, job.id, client, on_update, give_up_s=give_up_s)

    try:
        if not show:
            return follow(None), False
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        from hospfab.cli.output import stdout_console

        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[state]} · left {task.fields[left]}"),
        )
        with Progress(*columns, console=stdout_console(), transient=False) as bar:
            task = bar.add_task(f"{job.ref}@{job.revision} on {job.printer}", total=100, state="printing", left="--")

            def on_update(current: Job, info: Any, silent_s: float = 0.0) -> None:
                completion = current.progress if info is None else info.completion
                if current.outcome == "done":
                    completion = 100.0
                left = _duration(info.print_time_left_s) if info is not None else "--"
                state = current.outcome
                if silent_s > 0:
                    state = f"[red]printer not answering for {silent_s:.0f} s (giving up at {give_up_s:g} s)[/]"
                bar.update(task, completed=completion or 0, state=state, left=left)

            return follow(on_update), False
    except KeyboardInterrupt:
        return journal.get(job.id), True


def outcome_result(job: Job, interrupted: bool) -> tuple[int, list[dict[str, Any]]]:
    """Exit code and errors for a waited-for job: 0 only on done."""
    if interrupted:
        return INTERRUPTED, []
    if job.outcome == "done":
        return ExitCode.OK, []
    message = f"job {job.id} on {job.printer}: {job.outcome}" + (f" ({job.reason})" if job.reason else "")
    return ExitCode.FAILED, [{"code": f"print_{job.outcome}", "message": message}]


WAIT_TIMEOUT_DEFAULT_MIN = 60.0
WAIT_POLL_DEFAULT_S = 10.0


class WaitLine:
    """The progress line of ``--wait-for-printer``: a live status line on a terminal, otherwise one printed line
    each time what it waits for changes."""

    def __init__(self) -> None:
        from hospfab.cli.output import stdout_console

        self.console = stdout_console()
        self.status: Any = None
        self.shown = ""

    def __call__(self, waiting: Any) -> None:
        from rich.markup import escape

        what = "; ".join(f"{p['printer']} {p['reason']}" + (f" ({_duration(p['time_left_s'])} left)"
                                                          if p.get("time_left_s") is not None else "")
                         for p in waiting.printers)
        eta = f"first free in ~{_duration(waiting.eta_s)}" if waiting.eta_s is not None else "no estimate yet"
        line = (f"Waiting for a printer for [bold]{escape(waiting.spec)}[/]: {escape(what)} · {eta} · "
                f"giving up in {_duration(waiting.remaining_s)}")
        if self.console.is_terminal:
            if self.status is None:
                self.status = self.console.status(line)
                self.status.start()
            else:
                self.status.update(line)
            return
        key = "; ".join(f"{p['printer']} {p['reason']}" for p in waiting.printers)
        if key != self.shown:
            self.shown = key
            self.console.print(line)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def render_assessments(console: Console, rows: list[dict[str, Any]], title: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("printer", "profile", "material", "state", "verdict"):
        table.add_column(column)
    for row in rows:
        verdict = "[green]can print[/]" if row["eligible"] else f"[red]{row['reason']}[/]"
        table.add_row(row["printer"], row["profile"], row["material"], row["state"] or "-", verdict)
    console.print(table)


def print_command(
    ctx: typer.Context,
    spec: Annotated[str, typer.Argument(help="Reference, optionally pinned: REF or REF@REV.", show_default=False)],
    printer: Annotated[str | None, typer.Option("--printer", "-p", help="Print on this printer only.")] = None,
    operator: OperatorOpt = None,
    material_lot: Annotated[
        str | None, typer.Option("--material-lot", help="Material lot (default: the fleet file's).")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the print until done, failed or cancelled.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Choose a printer, send nothing.")] = False,
    allow_draft: Annotated[
        bool, typer.Option("--allow-draft", help="Allow a draft or retired revision (recorded as an override).")
    ] = False,
    give_up: GiveUpOpt = GIVE_UP_DEFAULT_S,
    wait_for_printer: Annotated[
        bool, typer.Option("--wait-for-printer",
                           help="When no compatible printer is free, wait for one instead of exiting 3.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.05, max=1440.0,
                            help="With --wait-for-printer: give up (exit 3) after this many minutes.")
    ] = WAIT_TIMEOUT_DEFAULT_MIN,
    poll: Annotated[
        float, typer.Option("--poll", min=1.0, max=600.0,
                            help="With --wait-for-printer: seconds between two looks at the fleet.")
    ] = WAIT_POLL_DEFAULT_S,
    json_: JsonOpt = False,
) -> None:
    """Print a catalog reference on a printer that has its recipe and material, and record the job.

    Verifies the manifest and signature (exit 4 on any mismatch, or for a draft or retired revision without
    --allow-draft); exit 3 with a table of reasons when no printer can take it. With --wait, exits 0 only
    when the print is done; Ctrl-C stops waiting and leaves the print running; a printer silent for
    --give-up seconds ends the wait with exit 3 (the job is reconciled later).

    A send whose answer is lost is never taken as a failure: the printer is asked. Printing: exit 0. Not
    started: exit 3, "not sent", safe to retry. Printer cannot be asked: exit 3, the job is "unknown" and the
    printer stays reserved; check the printer before any retry.

    With --wait-for-printer, waits (a progress line with an ETA from the busy printers) until a compatible
    printer is free, then prints as above; exit 3 at once when no printer could ever take it, or after
    --timeout minutes; Ctrl-C stops waiting (exit 130, nothing sent).

    Example: hospfab print VISOR-HEADBAND --operator ana --wait
    """

    def work() -> CommandResult:
        from hospfab.journal import Journal
        from hospfab.journal.db import JournalError
        from hospfab.printing import NoPrinterAvailable, PrintOptions, print_reference
        from hospfab.printing.wait import WaitTimedOut, print_when_free

        config = settings(ctx)
        options = PrintOptions(printer, operator, material_lot, allow_draft, dry_run)
        try:
            printers = load_printers(config)  # the spool loaded is read from the database
            journal_db = Journal(config.database_target)
        except JournalError as err:
            raise type(err)(f"{err.message}; nothing was sent to any printer", code=err.code) from None
        with journal_db as journal:
            catalog = config.catalog()
            line = WaitLine() if wait_for_printer and not json_ else None
            try:
                if wait_for_printer:
                    result = print_when_free(catalog, printers, journal, spec, options, timeout_s=timeout * 60,
                                             poll_s=poll, on_wait=line)
                else:
                    result = print_reference(catalog, printers, journal, spec, options)
            except NoPrinterAvailable as err:
                rows = err.details.get("printers", [])
                lead = (f"no compatible printer became free for {spec} in {timeout:g} min"
                        if isinstance(err, WaitTimedOut) else f"no printer can take {spec}")
                return CommandResult(
                    data={"spec": spec, "printers": rows},
                    exit_code=err.exit_code,
                    errors=[{"code": err.code, "message": err.message if len(rows) <= 3 or json_ else
                             f"{lead} (see the table above)"}],
                    render=lambda c: render_assessments(c, rows, lead[:1].upper() + lead[1:]),
                )
            finally:
                if line is not None:
                    line.close()
            data = result.as_dict()
            exit_code, errors, interrupted = ExitCode.OK, [], False
            if result.job is not None:
                _show_started(result, json_)
            if wait and result.job is not None:
                final, interrupted = wait_for_job(journal, result.job, result.printer, show=not json_,
                                                  give_up_s=give_up)
                data.update(state=final.outcome, reason=final.reason, ended_at=final.ended_at)
                data["waiting"] = "interrupted" if interrupted else "finished"
                exit_code, errors = outcome_result(final, interrupted)
        return CommandResult(data=data, exit_code=exit_code, errors=errors, render=lambda c: _render(c, data))

    emit("print", json_, work)


def _show_started(result: Any, as_json: bool) -> None:
    """Say at once which job went where (before a long --wait)."""
    if as_json:
        return
    from hospfab.cli.output import stdout_console

    job = result.job
    note = f" [yellow](override: {job.overrides})[/]" if job.overrides else ""
    console = stdout_console()
    console.print(
        f"Job [bold]{job.id}[/]: {job.ref}@{job.revision} sent to [bold]{job.printer}[/] as {job.remote_file} "
        f"({job.material} lot {job.material_lot or '-'}, operator {job.operator}){note}",
        markup=True,
    )
    if job.reason:  # the answer to the upload was lost; the printer confirmed the print
        from rich.markup import escape

        console.print(f"[yellow]Note:[/] {escape(job.reason)}")


def _render(console: Console, data: dict[str, Any]) -> None:
    if data["job_id"] is None:
        console.print(
            f"Dry run: {data['ref']}@{data['revision']} would print on [bold]{data['printer']}[/] "
            f"({Path(data['build_file']).name}, sha256 {data['sha256'][:12]}...)"
        )
        render_assessments(console, data["printers"], "Printers")
        return
    if data.get("waiting") == "interrupted":
        console.print(
            f"[yellow]Stopped waiting: job {data['job_id']} is still printing on {data['printer']}.[/] "
            f"Follow it with `hospfab jobs watch {data['job_id']}`."
        )
    elif data.get("waiting") == "finished":
        colour = "green" if data["state"] == "done" else "red"
        console.print(f"Job {data['job_id']}: [{colour}]{data['state']}[/]")
    else:
        console.print(f"Job {data['job_id']} is {data['state']}. Follow it with `hospfab jobs watch {data['job_id']}`.")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("print")(print_command)
