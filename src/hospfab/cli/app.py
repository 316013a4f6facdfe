"""The typer application: global options and command registration."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from hospfab import __version__
from hospfab.settings import Settings

# Command modules, each exposing register(app). Order is the order of `hospfab --help`.
COMMAND_MODULES = (
    "check",
    "profiles",
    "slice",
    "gcode",
    "catalog",
    "keys",
    "printers",
    "print_",
    "jobs",
    "batch",
    "demo",
)

app = typer.Typer(
    name="hospfab",
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


for _name in COMMAND_MODULES:
    importlib.import_module(f"hospfab.cli.{_name}").register(app)


def main() -> None:
    app()
