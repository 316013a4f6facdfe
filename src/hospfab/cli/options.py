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
    """The Settings of this run: root options (``--catalog``, ``--profiles``, ``--fleet``) > environment >
    site configuration > defaults, resolved on first use (``Settings.resolve``)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        request = root.obj
        root.obj = request.resolve() if hasattr(request, "resolve") else Settings.resolve()
    return root.obj


def root_flags(ctx: typer.Context) -> dict:
    """The root options as given on the command line (None when not given)."""
    request = ctx.find_root().obj
    return dict(getattr(request, "flags", {}))
