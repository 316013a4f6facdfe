"""`hospfab profiles list|show|check`: the printer, material and process profiles."""

from __future__ import annotations

from typing import Annotated

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit

profiles_app = typer.Typer(help="Printer, material and process profiles.", no_args_is_help=True)


def _store(ctx: typer.Context):
    return settings(ctx).profile_store()


@profiles_app.command("list")
def list_(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option("--kind", help="printer, material or process.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the shipped profiles.

    Example: hospfab profiles list --kind printer
    """

    def work() -> CommandResult:
        store = _store(ctx)
        entries = [e.to_dict() for e in store.list(kind)]

        def render(console) -> None:
            from rich.table import Table

            table = Table("profile", "inherits", "description", box=None)
            for e in entries:
                table.add_row(e["ref"], e["inherits"] or "", e["description"])
            console.print(table)

        return CommandResult(data={"profiles_dir": str(store.root), "profiles": entries}, render=render)

    emit("profiles list", as_json, work)


@profiles_app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="KIND/NAME, e.g. printer/prusa-mk4.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Show one profile with everything it inherits resolved.

    Example: hospfab profiles show process/airtight
    """

    def work() -> CommandResult:
        profile = _store(ctx).get_ref(ref)
        data = profile.model_dump(mode="json")

        def render(console) -> None:
            console.print(f"[bold]{profile.ref}[/]" + (f"  (inherits {profile.inherits})" if profile.inherits else ""))
            for key, value in data.items():
                if key in ("name", "kind", "inherits"):
                    continue
                if isinstance(value, str) and "\n" in value:
                    console.print(f"{key}:")
                    for line in value.rstrip("\n").splitlines():
                        console.print(f"    {line}", markup=False)
                else:
                    shown = ", ".join(map(str, value)) if isinstance(value, list) else value
                    console.print(f"{key}: {shown}", markup=False)

        return CommandResult(data=data, render=render)

    emit("profiles show", as_json, work)


@profiles_app.command("check")
def check(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Validate every profile file (exit 1 if any is invalid).

    Example: hospfab profiles check --json
    """

    def work() -> CommandResult:
        from hospfab.errors import ExitCode

        store = _store(ctx)
        results = [r.to_dict() for r in store.check_all()]
        bad = [r for r in results if not r["ok"]]

        def render(console) -> None:
            for r in results:
                mark = "[green]ok[/]" if r["ok"] else "[red]FAIL[/]"
                console.print(f"{mark}  {r['kind']}/{r['name']}")
            console.print(f"{len(results) - len(bad)} of {len(results)} profiles valid")

        return CommandResult(
            data={"profiles_dir": str(store.root), "results": results, "valid": len(results) - len(bad),
                  "invalid": len(bad)},
            exit_code=ExitCode.FAILED if bad or not results else ExitCode.OK,
            errors=[{"code": "invalid_config", "message": r["error"]} for r in bad]
            + ([] if results else [{"code": "no_profiles", "message": f"no profiles found in {store.root}"}]),
            render=render,
        )

    emit("profiles check", as_json, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(profiles_app, name="profiles")
