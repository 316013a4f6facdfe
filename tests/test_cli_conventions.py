"""CLI conventions shared by every command: version, help, the JSON envelope, errors, light start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer

from hospfab import __version__
from hospfab.cli.output import CommandResult, emit, envelope
from hospfab.errors import ExitCode, InputError

ENVELOPE_KEYS = {"hospfab", "command", "ok", "exit_code", "data", "errors"}


def test_version(cli):
    out = cli("--version")
    assert out.exit_code == 0
    assert out.stdout.strip() == f"hospfab {__version__}"


def test_envelope_contract():
    env = envelope("demo", CommandResult(data={"a": 1}, exit_code=1, errors=[{"code": "x", "message": "m"}]))
    assert set(env) == ENVELOPE_KEYS
    assert env["hospfab"] == "1"
    assert env["ok"] is False and env["exit_code"] == 1
    assert env["errors"] == [{"code": "x", "message": "m"}]


def _emit_app(work):
    app = typer.Typer()

    @app.command()
    def run(json_: bool = typer.Option(False, "--json")) -> None:
        emit("probe", json_, work)

    return app


def test_expected_error_is_one_line_and_exit_code(capsys):
    def work():
        raise InputError("broken.stl: not an STL file")

    from typer.testing import CliRunner

    result = CliRunner().invoke(_emit_app(work), [])
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.strip() == "Error: broken.stl: not an STL file"
    assert "Traceback" not in result.stdout + result.stderr

    result = CliRunner().invoke(_emit_app(work), ["--json"])
    doc = json.loads(result.stdout)
    assert set(doc) == ENVELOPE_KEYS
    assert doc["ok"] is False and doc["exit_code"] == 2
    assert doc["errors"] == [{"code": "unreadable", "message": "broken.stl: not an STL file"}]


def test_bug_becomes_internal_error_without_traceback(monkeypatch):
    monkeypatch.delenv("HOSPFAB_DEBUG", raising=False)

    def work():
        raise ZeroDivisionError("boom")

    from typer.testing import CliRunner

    result = CliRunner().invoke(_emit_app(work), [])
    assert result.exit_code == ExitCode.INTERNAL
    assert "internal error: ZeroDivisionError: boom" in result.stderr
    assert "Traceback" not in result.stderr


def test_startup_does_not_import_heavy_libraries():
    code = (
        "import sys; import hospfab.cli; "
        "heavy = [m for m in ('numpy', 'trimesh', 'httpx', 'stl', 'yaml', 'pydantic', 'scipy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_library_core_does_not_import_typer():
    code = (
        "import sys, importlib, pathlib, hospfab\n"
        "root = pathlib.Path(hospfab.__path__[0])\n"
        "for f in sorted(root.rglob('*.py')):\n"
        "    rel = f.relative_to(root.parent).with_suffix('')\n"
        "    name = '.'.join(rel.parts).removesuffix('.__init__')\n"
        "    if not name.startswith(('hospfab.cli', 'hospfab.__main__')):\n"
        "        importlib.import_module(name)\n"
        "print('typer' in sys.modules, 'rich' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_every_command_has_help_with_an_example(cli):
    for path in _command_paths():
        out = cli(*path, "--help")
        assert out.exit_code == 0, path
        assert "Example" in out.stdout, f"`hospfab {' '.join(path)} --help` has no example"


def _command_paths():
    from typer.main import get_command

    from hospfab.cli import app

    def walk(cmd, path):
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(None):
                yield from walk(cmd.get_command(None, name), [*path, name])
        else:
            yield path

    return list(walk(get_command(app), []))


def test_every_command_appears_in_the_readme():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [" ".join(p) for p in _command_paths() if f"hospfab {' '.join(p)}" not in readme]
    # `printers status` is documented as the default of `hospfab printers`; `queue status` etc. in one line.
    missing = [m for m in missing if not _documented_in_a_group_line(readme, m)]
    assert missing == []


def _documented_in_a_group_line(readme: str, command: str) -> bool:
    group, _, sub = command.partition(" ")
    return bool(sub) and any(
        line.strip().startswith(f"hospfab {group} ") and f" {sub}" in line for line in readme.splitlines()
    )
