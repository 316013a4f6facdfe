"""``hospfab demo``: print a seed reference on a real local OctoPrint Virtual Printer, end to end.

Starts OctoPrint (from ``.octoprint-venv``, ``make octoprint``) on 127.0.0.1 with its Virtual Printer, writes a
demo fleet and a demo trust store in a fresh hospfab home (temp folder, kept afterwards so the journal can be
looked at), prints a REAL validated recipe of a seed reference (e.g. EAR-SAVER's prusa-mini PETG G-code) on the
Virtual Printer, declared in the demo fleet as a test printer of that profile, with a progress bar, shows the
journal, and stops the server.

Trust: the demo home's trust store pins the catalog's shipped demo validator key only if its fingerprint is
:data:`DEMO_KEY_ID` (plus whatever the site's own trust store already trusts); nothing else is trusted.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit

if TYPE_CHECKING:
    from rich.console import Console

DEMO_PRINTER = "virtual-1"
DEMO_REF = "EAR-SAVER"
#: Fingerprint of the seed catalog's demo validator key (``catalog/keys/demo-validator.pub``): the only key
#: the demo pins from the catalog folder. Regenerating the seed catalog with another key changes it here.
DEMO_KEY_ID = "145aa30f010f1e1f"
DEMO_KEY_FILE = "keys/demo-validator.pub"


def pin_demo_key(catalog_dir: Path, site_trust: Path, demo_trust: Path) -> Path:
    """The demo home's trust store: the site's own entries, plus the catalog's demo key when (and only when)
    its fingerprint is :data:`DEMO_KEY_ID`."""
    import shutil

    from hospfab.catalog.signing import fingerprint, load_public_key
    from hospfab.settings import make_private_dir
    from hospfab.trust import TrustStore

    make_private_dir(demo_trust.parent)
    if site_trust.is_file():
        shutil.copyfile(site_trust, demo_trust)
    store = TrustStore.load(demo_trust)
    shipped = catalog_dir / DEMO_KEY_FILE
    if shipped.is_file() and fingerprint(load_public_key(shipped)) == DEMO_KEY_ID and store.entry(DEMO_KEY_ID) is None:
        store.trust(shipped, name="Demo Validator", roles=["biomedical engineer (demo key)"])
    return store.save()


def pick_recipe(catalog: Any, wanted: str | None) -> tuple[str, Any]:
    """(spec, recipe): ``wanted`` (or EAR-SAVER, else the first validated reference) and its recipe with the
    smallest G-code file (the shortest demo). Only real printer recipes exist in validated revisions."""
    from hospfab.errors import NotFoundError

    refs = [wanted] if wanted else [DEMO_REF] + [r for r in catalog.refs() if r != DEMO_REF]
    for ref in refs:
        try:
            part = catalog.get(ref)
        except NotFoundError:
            if wanted:
                raise
            continue
        latest = part.latest_validated
        if latest is not None and latest.recipes:
            return latest.spec, min(latest.recipes, key=lambda r: (r.build_file.stat().st_size, r.printer))
        signed = [r for r in part.revisions if r.signed and r.recipes]
        if signed and (wanted or ref == DEMO_REF):  # not printable here: let the print path say why (exit 4)
            return signed[-1].spec, signed[-1].recipes[0]
    raise NotFoundError(f"catalog {catalog.root}: no validated reference with a recipe to print in the demo")


def write_demo_fleet(home: Path, server: Any, profile: str, material: str) -> Path:
    """A one-printer fleet: the Virtual Printer declared as a test printer of ``profile``. The API key goes
    to a 0600 file next to it (never in the fleet file)."""
    from hospfab.fleet import Fleet, PrinterConfig

    key_file = home / "virtual-1.key"
    key_file.touch(mode=0o600)
    key_file.write_text(server.api_key + "\n")
    fleet = Fleet(printers=[PrinterConfig(
        name=DEMO_PRINTER, url=server.url, api_key_file=key_file.name, profile=profile, material=material,
        material_lot="DEMO-LOT-1", site="demo", bed_clearing="automatic", test_printer=True,
    )])  # fmt: skip
    return fleet.save(home / "fleet.yaml")


def demo(
    ctx: typer.Context,
    ref: Annotated[
        str | None, typer.Option("--ref", help="Reference to print (default: EAR-SAVER, its shortest recipe).")
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

        from hospfab.cli.print_ import outcome_result, wait_for_job
        from hospfab.journal import Journal
        from hospfab.octoprint.localserver import start_server
        from hospfab.printing import PrintOptions, print_reference
        from hospfab.printing.send import resolve_for_print
        from hospfab.settings import Settings

        base = settings(ctx)
        home = Path(tempfile.mkdtemp(prefix="hospfab-demo-"))
        config = Settings(home, home, base.catalog_dir, base.profiles_dir, home / "fleet.yaml",
                          home / "trust" / "trust.yaml")
        pin_demo_key(base.catalog_dir, base.trust_store_path, config.trust_store_path)
        catalog = config.catalog()
        spec, recipe = pick_recipe(catalog, ref)
        revision, _ = resolve_for_print(catalog, spec, allow_draft=False)
        server_dir = Path(tempfile.mkdtemp(prefix="hospfab-demo-octoprint-"))
        say = _say(json_)
        say(f"Starting a local OctoPrint with its Virtual Printer (hospfab home: {home}) ...")
        server = start_server(server_dir, octoprint=octoprint)
        try:
            say(f"OctoPrint is up at {server.url}; demo fleet written to {config.fleet_path}")
            write_demo_fleet(home, server, recipe.printer, recipe.material)
            say(f"Printing {revision.spec} ({recipe.printer} / {recipe.material} recipe, validated G-code) on the "
                f"Virtual Printer, declared as a test printer of profile {recipe.printer}")
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

