"""The typer application: global options and command registration."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup
from typer.main import get_group

from hospfab import __version__
from hospfab.settings import Settings

if TYPE_CHECKING:
    from typer.core import TyperCommand

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
    # jobs adds `printers cleared`, printers_set `printers set`, printers_enable `printers disable|enable`
    "printers": ("printers", "jobs", "printers_set", "printers_enable"),
    "print": ("print_",),
    "jobs": ("jobs",),
    "history": ("jobs",),
    "journal": ("journal",),
    "batch": ("batch",),
    "queue": ("batch",),
    "lots": ("batch",),
    "inspect": ("inspect",),
    "serve": ("serve",),
    "alerts": ("alerts",),
    "demo": ("demo",),
    "db": ("db",),
    "init": ("init",),
    "config": ("config",),
    "doctor": ("doctor",),
}


class LazyGroup(TyperGroup):
    """The root group: knows its commands by name and builds each from its module on first use."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_root_options(list(args)))

    def invoke(self, ctx: typer.Context):
        """An expected error raised before a command's body runs (e.g. a broken site configuration read
        while a command sets up) is printed like any other: one ``Error:`` line, its exit code."""
        from hospfab.errors import HospfabError

        try:
            return super().invoke(ctx)
        except HospfabError as err:
            from hospfab.cli.output import stderr_console

            stderr_console().print(f"[bold red]Error:[/] {err.message}", markup=True, highlight=False)
            raise typer.Exit(int(err.exit_code)) from None

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*LAZY_COMMANDS, *(name for name in self.commands if name not in LAZY_COMMANDS)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            holder = typer.Typer()
            for module in LAZY_COMMANDS[cmd_name]:
                importlib.import_module(f"hospfab.cli.{module}").register(holder)
            for name, command in get_group(holder).commands.items():
                _reflow_all(command)
                self.commands.setdefault(name, command)
        return self.commands.get(cmd_name)


#: Root options also accepted after the command (`hospfab catalog verify --catalog DIR`, `... -q`), unless
#: the command has an option of that name itself (`hospfab init --catalog URL`).
ROOT_OPTIONS = ("--catalog", "--profiles", "--fleet", "--trust-store")
ROOT_FLAGS = ("--quiet", "-q")
OWN_ROOT_OPTIONS = {"init": ("--catalog", "--fleet", "--trust-store")}


def hoist_root_options(args: list[str]) -> list[str]:
    """``[cmd, ..., --catalog, X, ...]`` -> ``[--catalog, X, cmd, ...]`` (stops at ``--``)."""
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        i += 2 if args[i] in ROOT_OPTIONS else 1
    if i >= len(args):
        return args
    own = OWN_ROOT_OPTIONS.get(args[i], ())
    head, rest, moved = args[:i], [], []
    tail = args[i:]
    j = 0
    while j < len(tail):
        arg = tail[j]
        if arg == "--":
            rest += tail[j:]
            break
        name = arg.split("=", 1)[0]
        if arg in ROOT_FLAGS:
            moved.append(arg)
            j += 1
            continue
        if name in ROOT_OPTIONS and name not in own:
            if "=" in arg:
                moved.append(arg)
                j += 1
            else:
                moved += tail[j:j + 2]
                j += 2
            continue
        rest.append(arg)
        j += 1
    return [*head, *moved, *rest]


def reflow(text: str | None) -> str | None:
    """Docstring paragraphs as single lines, so the terminal wraps them at its own width (typer keeps the
    source's line breaks, which cut sentences in the middle at 80 columns). Indented lines stay as they are."""
    if not text:
        return text
    paragraphs = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if any(line.startswith((" ", "- ", "* ")) for line in lines[1:]):
            paragraphs.append(block)
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)


def _reflow_all(command) -> None:
    command.help = reflow(command.help)
    for sub in getattr(command, "commands", {}).values():
        _reflow_all(sub)


app = typer.Typer(
    name="hospfab",
    cls=LazyGroup,
    help="Print validated hospital spare parts safely, from a versioned catalog to a fleet of printers.",
    no_args_is_help=True,
    add_completion=True,
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
        Path | None,
        typer.Option("--catalog", help="Catalog folder (env HOSPFAB_CATALOG).", show_default=False),
    ] = None,
    profiles: Annotated[
        Path | None,
        typer.Option("--profiles", help="Profiles folder (env HOSPFAB_PROFILES).", show_default=False),
    ] = None,
    fleet: Annotated[
        Path | None, typer.Option("--fleet", help="Fleet YAML file (env HOSPFAB_FLEET).", show_default=False)
    ] = None,
    trust_store: Annotated[
        Path | None,
        typer.Option("--trust-store", help="The site's trust store of validators' keys (env HOSPFAB_TRUST_STORE).",
                     show_default=False),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Shared database: postgresql://user@host/db (password from ~/.pgpass, HOSPFAB_DATABASE or "
            "HOSPFAB_DATABASE_FILE), or an SQLite file. Default: the SQLite journal in the data directory.",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No output on success, errors only (for scripts).")
    ] = False,
) -> None:
    """hospfab: check, slice, catalog and print hospital spare parts.

    Settings: option > environment > site configuration (hospfab init) > default; see `hospfab config show`.

    Exit codes: 0 ok, 1 check or validation failed, 2 usage error or unreadable input,
    3 printer unavailable, 4 refused for safety (integrity or validation), 5 database unreachable or busy.
    """
    from hospfab.cli.output import set_quiet

    set_quiet(quiet)
    ctx.call_on_close(lambda: set_quiet(False))
    if ctx.resilient_parsing:  # shell completion: no settings needed
        return
    ctx.obj = SettingsRequest(catalog=catalog, profiles=profiles, fleet=fleet, trust_store=trust_store,
                              database=database)


class SettingsRequest:
    """The root options, resolved into :class:`Settings` only when a command asks for them (so that a
    broken site configuration does not stop `hospfab config show` or `hospfab init` from running)."""

    def __init__(self, **flags: Path | str | None) -> None:
        self.flags = flags

    def resolve(self) -> Settings:
        return Settings.resolve(**self.flags)


def main() -> None:
    app()
