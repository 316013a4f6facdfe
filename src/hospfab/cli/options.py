"""Option types and context helpers shared by every command module."""

from __future__ import annotations

from typing import Annotated

import typer

from hospfab.settings import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON envelope on stdout (for scripts).")]
OperatorOpt = Annotated[
    str | None,
    typer.Option("--operator", envvar="HOSPFAB_OPERATOR", help="Who does it, for the record (default: login name)."),
]


def settings(ctx: typer.Context) -> Settings:
    """The Settings built by the top-level callback (``--catalog``, ``--profiles``, ``--fleet``, env)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings.resolve()
    return root.obj
