"""``hospfab demo``: print a seed reference on a real local OctoPrint Virtual Printer, end to end.

Starts OctoPrint (from ``.octoprint-venv``, ``make octoprint``) on 127.0.0.1 with its Virtual Printer, writes a
demo fleet in a fresh hospfab home (temp folder, kept afterwards so the journal can be looked at), prints the
seed reference's ``virtual-test`` recipe with a progress bar, shows the journal, and stops the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit

if TYPE_CHECKING:
    from rich.console import Console

DEMO_PROFILE = "virtual-test"
DEMO_PRINTER = "virtual-1"


def pick_reference(catalog: Any, wanted: str | None) -> str:
    """``wanted``, or the first validated reference with a recipe for the virtual test printer."""
    from hospfab.errors import NotFoundError

    if wanted:
        return wanted
    for part in catalog.list():
        latest = part.latest_validated
        if latest is not None and any(r.printer == DEMO_PROFILE for r in latest.recipes):
            return part.ref
    raise NotFoundError(
        f"catalog {catalog.root}: no validated reference has a '{DEMO_PROFILE}' recipe to print in the demo"
    )


def write_demo_fleet(home: Path, server: Any, material: str) -> Path:
    """A one-printer fleet; the API key goes to a 0600 file next to it (never in the fleet file)."""
    from hospfab.fleet import Fleet, PrinterConfig

    key_file = home / "virtual-1.key"
    key_file.touch(mode=0o600)
    key_file.write_text(server.api_key + "\n")
    fleet = Fleet(printers=[PrinterConfig(
        name=DEMO_PRINTER, url=server.url, api_key_file=key_file.name, profile=DEMO_PROFILE, material=material,
        material_lot="DEMO-LOT-1", site="demo", bed_clearing="automatic",
    )])  # fmt: skip
    return fleet.save(home / "fleet.yaml")


def demo(
    ctx: typer.Context,
    ref: Annotated[
        str | None, typer.Option("--ref", help="Reference to print (default: the first with a virtual-test recipe).")
    ] = None,
    octoprint: Annotated[
        Path | None, typer.Option("--octoprint", help="octoprint executable (default: .octoprint-venv, PATH).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Print a seed part on a local OctoPrint Virtual Printer and show the journal (needs `make octoprint`).

    Everything runs on 127.0.0.1; the demo's fleet and journal go to a fresh temporary hospfab home, which is
    kept so you can look at it (`HOSPFAB_HOME=<home> hospfab jobs list`).

    Example: hospfab demo
    """

    def work() -> CommandResult:
        import shutil
        import tempfile

        from hospfab.catalog import Catalog
        from hospfab.cli.print_ import outcome_result, wait_for_job
        from hospfab.journal import Journal
        from hospfab.octoprint.localserver import start_server
        from hospfab.printing import PrintOptions, print_reference
        from hospfab.printing.send import resolve_for_print
        from hospfab.settings import Settings

        base = settings(ctx)
        catalog = Catalog(base.catalog_dir)
        spec = pick_reference(catalog, ref)
        revision, _ = resolve_for_print(catalog, spec, allow_draft=False)
        recipe = next((r for r in revision.recipes if r.printer == DEMO_PROFILE), None)
        if recipe is None:
            from hospfab.errors import NotFoundError

            raise NotFoundError(f"{revision.spec}: no '{DEMO_PROFILE}' recipe to print in the demo")
        home = Path(tempfile.mkdtemp(prefix="hospfab-demo-"))
        server_dir = Path(tempfile.mkdtemp(prefix="hospfab-demo-octoprint-"))
        config = Settings(home, home, base.catalog_dir, base.profiles_dir, home / "fleet.yaml")
        say = _say(json_)
        say(f"Starting a local OctoPrint with its Virtual Printer (hospfab home: {home}) ...")
        server = start_server(server_dir, octoprint=octoprint)
        try:
            say(f"OctoPrint is up at {server.url}; demo fleet written to {config.fleet_path}")
            write_demo_fleet(home, server, recipe.material)
            from hospfab.fleet import Fleet

            printers = Fleet.load(config.fleet_path).printers
            with Journal(config.database_target) as journal:
                options = PrintOptions(operator="demo", allow_draft=False)
                result = print_reference(catalog, printers, journal, revision.spec, options)
                job = result.job
                say(f"Job {job.id}: {job.ref}@{job.revision} sent to {job.printer} as {job.remote_file}")
                final, interrupted = wait_for_job(journal, job, result.printer, show=not json_)
                jobs = [j.as_dict() for j in journal.jobs()]
        finally:
            server.stop()
            shutil.rmtree(server_dir, ignore_errors=True)
        exit_code, errors = outcome_result(final, interrupted)
        if interrupted:
            errors = [{"code": "interrupted", "message": "demo interrupted: the server was stopped with the job"}]
        data = {"home": str(home), "server_url": server.url, "job": final.as_dict(), "journal": jobs}
        return CommandResult(data=data, exit_code=exit_code, errors=errors, render=lambda c: _render(c, data))

    emit("demo", json_, work)


def _say(as_json: bool):
    def say(message: str) -> None:
        if not as_json:
            from hospfab.cli.output import stdout_console

            stdout_console().print(message, markup=False)

    return say


def _render(console: Console, data: dict[str, Any]) -> None:
    from hospfab.cli.jobs import _render_jobs

    job = data["job"]
    colour = "green" if job["outcome"] == "done" else "red"
    console.print(f"Outcome: [{colour}]{job['outcome']}[/]" + (f" ({job['reason']})" if job["reason"] else ""))
    _render_jobs(console, data["journal"], {})
    console.print(f"The local OctoPrint was stopped. Journal kept: HOSPFAB_HOME={data['home']} hospfab history --csv")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("demo")(demo)

