"""`hospfab config show`: the settings in effect and where each comes from."""

from __future__ import annotations

import typer

from hospfab.cli.options import JsonOpt, settings
from hospfab.cli.output import CommandResult, emit, plain

config_app = typer.Typer(help="The site configuration (written by `hospfab init`).", no_args_is_help=True)


@config_app.command("show")
def show(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Show every setting, its value and where it comes from (option, environment, config file, default).

    Secrets are masked: a database URL's password, any key-, token- or password-like alert setting.

    Example: hospfab config show
    """

    def work() -> CommandResult:
        shown = settings(ctx).shown()

        def render(console) -> None:
            from rich.table import Table

            table = Table("setting", "value", "from", box=None)
            for name, entry in shown.items():
                value = entry["value"]
                table.add_row(name, "(none)" if value is None else plain(str(value)), plain(entry["source"]))
            console.print(table)

        return CommandResult(data={"settings": shown}, render=render)

    emit("config show", json_, work)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(config_app, name="config")
