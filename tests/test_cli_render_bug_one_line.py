"""A bug while a command prints its result for a person is reported like any other bug: one `Error: internal
error` line and exit 70, never a raw traceback with exit 1."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from hospfab.cli.output import CommandResult, emit
from hospfab.errors import ExitCode


def make_app(as_json: bool) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        def render(console) -> None:
            console.print("half a table")
            raise ValueError("renderer broke")

        emit("boom", as_json, lambda: CommandResult(data={"x": 1}, render=render))

    return app


def test_render_bug_is_one_error_line_exit_70(monkeypatch):
    monkeypatch.delenv("HOSPFAB_DEBUG", raising=False)
    result = CliRunner().invoke(make_app(False), [])
    assert result.exit_code == ExitCode.INTERNAL, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "internal error: ValueError: renderer broke" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("as_json", [True])
def test_json_output_is_unchanged(as_json):
    result = CliRunner().invoke(make_app(as_json), [])
    assert result.exit_code == 0 and '"x": 1' in result.stdout
