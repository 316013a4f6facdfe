"""The typer application: global options and command registration."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer
from typer import _click as click
from typer.core import TyperGroup
from typer.main import get_group

from hospfab import __version__
from hospfab.settings import Settings

# Top-level command name -> the command modules (each exposing register(app)) that define it. Modules are
# imported only when their command is run or listed, so `hospfab --version` and `hospfab check` do not pay
# for building every other command. Order here is the order of `hospfab --help`.
LAZY_COMMANDS: dict[str, tuple[str, ...]] = {
    "check": ("check",),
    "repair": ("check",),
    "profiles": ("profiles",),
    "slice": ("slice",),
    "gcode": ("gcode",),
    "catalog": ("catalog",),
    "keys": ("keys",),
    "printers": ("printers", "jobs"),  # jobs adds `printers cleared`
    "print": ("print_",),
    "jobs": ("jobs",),
    "history": ("jobs",),
    "batch": ("batch",),
    "queue": ("batch",),
    "lots": ("batch",),
    "inspect": ("inspect",),
    "demo": ("demo",),
}


class LazyGroup(TyperGroup):
    """The root group: knows its commands by name and builds each from its module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*LAZY_COMMANDS, *(name for name in self.commands if name not in LAZY_COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            holder = typer.Typer()
            for module in LAZY_COMMANDS[cmd_name]:
                importlib.import_module(f"hospfab.cli.{module}").register(holder)
            for name, command in get_group(holder).commands.items():
                self.commands.setdefault(name, command)
        return self.commands.get(cmd_name)


app = typer.Typer(
    name="hospfab",
    cls=LazyGroup,
    help="Print validated hospital spare parts safely, from a versioned catalog to a fleet of printers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hospfab {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    catalog: Annotated[
        Path | None, typer.Option("--catalog", envvar="HOSPFAB_CATALOG", help="Catalog folder.", show_default=False)
    ] = None,
    profiles: Annotated[
        Path | None,
        typer.Option("--profiles", envvar="HOSPFAB_PROFILES", help="Profiles folder.", show_default=False),
    ] = None,
    fleet: Annotated[
        Path | None, typer.Option("--fleet", envvar="HOSPFAB_FLEET", help="Fleet YAML file.", show_default=False)
    ] = None,
) -> None:
    """hospfab: check, slice, catalog and print hospital spare parts.

    Exit codes: 0 ok, 1 check or validation failed, 2 usage error or unreadable input,
    3 printer unavailable, 4 refused for safety (integrity or validation).
    """
    ctx.obj = Settings.resolve(catalog=catalog, profiles=profiles, fleet=fleet)


def main() -> None:
    app()
