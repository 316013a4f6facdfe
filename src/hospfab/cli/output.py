"""Result objects and the one place where results and errors reach the user.

Every command builds a :class:`CommandResult` (data for scripts, a render function for people) inside a
``work`` function and hands it to :func:`emit`. ``--json`` prints exactly one envelope on stdout::

    {"hospfab": "1", "command": "check", "ok": true, "exit_code": 0,
     "data": {...}, "errors": [{"code": "...", "message": "..."}]}

Without ``--json`` the render function draws rich output on stdout and each error is printed as one
``Error: ...`` line on stderr. A :class:`~hospfab.errors.HospfabError` raised by ``work`` becomes an error
entry and its exit code; anything else is a bug, reported as an internal error without a traceback unless
``HOSPFAB_DEBUG=1``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from hospfab.errors import ExitCode, HospfabError

if TYPE_CHECKING:
    from rich.console import Console

ENVELOPE_VERSION = "1"
_QUIET: ContextVar[bool] = ContextVar("hospfab_quiet", default=False)


def set_quiet(quiet: bool) -> None:
    """``hospfab --quiet``: human output is dropped when the command succeeds (errors and --json still print)."""
    _QUIET.set(quiet)


@dataclass
class CommandResult:
    data: dict[str, Any] = field(default_factory=dict)
    exit_code: int = ExitCode.OK
    errors: list[dict[str, Any]] = field(default_factory=list)
    render: Callable[[Console], None] | None = None


def plain(value: Any) -> str:
    """Free text (an operator, a lot number, a printer's message, a file name) as it must enter rich markup or a
    table cell: brackets escaped (``[/]`` is not a tag, ``L[red]1`` keeps its brackets) and control characters
    written as escapes (no terminal sequence from a printer reaches the terminal)."""
    from rich.markup import escape

    from hospfab.fileio import shown

    return escape(shown("" if value is None else value))


def stdout_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def envelope(command: str, result: CommandResult) -> dict[str, Any]:
    return {
        "hospfab": ENVELOPE_VERSION,
        "command": command,
        "ok": int(result.exit_code) == 0,
        "exit_code": int(result.exit_code),
        "data": result.data,
        "errors": result.errors,
    }


def _json_default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run_work(work: Callable[[], CommandResult]) -> CommandResult:
    """Run a command body, turning expected errors into a result. Bugs become an internal error."""
    try:
        return work()
    except HospfabError as err:
        return CommandResult(exit_code=err.exit_code, errors=[err.as_dict()])
    except KeyboardInterrupt:
        return CommandResult(exit_code=130, errors=[{"code": "interrupted", "message": "interrupted"}])
    except (typer.Exit, typer.Abort):
        raise
    except Exception as err:  # noqa: BLE001 - the one place where bugs are caught
        import sqlite3

        if isinstance(err, sqlite3.DatabaseError) and not os.environ.get("HOSPFAB_DEBUG"):
            message = f"the journal database cannot be read ({err}); run `hospfab journal check`"
            return CommandResult(exit_code=ExitCode.SAFETY, errors=[{"code": "journal_damaged", "message": message}])
        if os.environ.get("HOSPFAB_DEBUG"):
            raise
        message = f"internal error: {type(err).__name__}: {err} (set HOSPFAB_DEBUG=1 for a traceback)"
        return CommandResult(exit_code=ExitCode.INTERNAL, errors=[{"code": "internal", "message": message}])


def emit(command: str, as_json: bool, work: Callable[[], CommandResult]) -> NoReturn:
    """Run ``work``, print its result for a person or a script, and exit with its code."""
    result = run_work(work)
    if as_json:
        sys.stdout.write(json.dumps(envelope(command, result), default=_json_default, ensure_ascii=False))
        sys.stdout.write("\n")
        sys.stdout.flush()
    else:
        if result.render is not None and not (_QUIET.get() and int(result.exit_code) == 0):
            render = result.render
            result = run_work(lambda: (render(stdout_console()), result)[1])  # a bug while printing: one line
        if result.errors:
            from rich.markup import escape

            from hospfab.fileio import shown

            err_console = stderr_console()
            for error in result.errors:
                # control characters (a hostile file name, a printer's text) escaped: one line, no forged output
                message = escape(shown(error["message"]))
                err_console.print(f"[bold red]Error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(int(result.exit_code))
