"""CLI conventions shared by every command: version, help, the JSON envelope, errors, light start-up."""

from __future__ import annotations

import json
import os
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


def test_library_core_never_imports_the_cli():
    """Use cases (batch planning, loading the fleet, releasing a lot) live in the core, so that a web page or a
    scheduler can call them: no module outside hospfab.cli imports it."""
    import ast

    import hospfab

    root = Path(hospfab.__path__[0])
    offenders = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "cli" or rel.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{rel}: {n}" for n in names if n == "hospfab.cli" or n.startswith("hospfab.cli.")]
    assert offenders == []


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


# -- installable-tool conventions: help at 80 columns, ids, --quiet, completion, no private typer -----------

HELP_WIDTH = 80


def _in_list(line: str) -> bool:
    """A line of a hand-made list in help text: ``- item`` or the item's continuation indented under it."""
    text = line.lstrip("│").removeprefix(" ")
    return text.startswith(("- ", "* ", "  ")) and not text.startswith("   ") and bool(text.strip())


def _cut_early(lines: list[str]) -> list[str]:
    """Lines broken before the terminal's width although the next line's first word would have fitted
    (a docstring line break kept by the help formatter cuts a sentence in the middle)."""
    bad = []
    for line, nxt in zip(lines, lines[1:]):
        body, next_body = line.rstrip(" │"), nxt.rstrip(" │")
        inner = nxt.lstrip("│")
        if not body.strip() or not next_body.strip() or "─" in nxt or "─" in line:
            continue
        if line.startswith("│") != nxt.startswith("│"):
            continue
        if nxt.lstrip("│ ").startswith(("- ", "* ")) or _in_list(line) or _in_list(nxt):
            continue  # a list laid out by hand: its items and their indented continuations
        # a continuation: the next line starts further right than where this line's text starts
        text_start = len(line) - len(line.lstrip("│ ").lstrip())
        if nxt.startswith("│"):
            cols = [i for i in range(1, len(inner)) if inner[i - 1] == " " and inner[i] != " "]
            if not cols or inner[: cols[0]].strip():
                continue
            text_start = cols[0] + 1
        next_word = next_body[text_start:].split()[0] if next_body[text_start:].split() else ""
        limit = HELP_WIDTH - 2 if line.startswith("│") else HELP_WIDTH - 1
        if next_word and next_body[:text_start].strip() == "" and len(body) + 1 + len(next_word) <= limit - 1:
            bad.append(f"{line!r} / {nxt!r}")
    return bad


def test_help_wraps_cleanly_at_80_columns(cli):
    problems = {}
    for path in [[], *_command_paths()]:
        out = cli(*path, "--help", env={"COLUMNS": str(HELP_WIDTH), "TERMINAL_WIDTH": str(HELP_WIDTH)})
        assert out.exit_code == 0, path
        lines = out.stdout.splitlines()
        too_long = [line for line in lines if len(line) > HELP_WIDTH]
        cut = _cut_early(lines)
        if too_long or cut:
            problems[" ".join(path) or "(root)"] = too_long + cut
    assert problems == {}


def test_ids_are_never_shortened_at_80_columns():
    from rich.console import Console

    from hospfab.cli.batch import _table
    from hospfab.cli.jobs import _render_jobs

    console = Console(width=HELP_WIDTH, record=True)
    plate = "L20261204-190101-ab12-017"
    _table(console, "plates", ["plate", "state", "priority", "attempts", "printer", "units", "reason"],
           [[plate, "failed", 10, "3/3", "creality-cr10-s5-ward3-01", 16, "offline after error: thermal runaway"]])
    job = {"id": "261204-1a2b3c4d", "created_at": "2026-12-04T19:01:00Z", "ref": "RESP-CONNECTOR-22M",
           "revision": 12, "printer": "creality-cr10-s5-ward3-01", "material_lot": "LOT-2026-117-BLUE",
           "outcome": "failed", "reason": "Printer offline after error: thermal runaway", "state": None}
    _render_jobs(console, [job], {})
    text = console.export_text()
    assert plate in text and job["id"] in text
    assert all(len(line) <= HELP_WIDTH for line in text.splitlines())


def test_quiet_prints_nothing_on_success_but_still_errors(cli, tmp_path):
    out = cli("--quiet", "profiles", "list")
    assert out.exit_code == 0 and out.stdout == ""
    assert cli("profiles", "list").stdout  # and the flag does not stick to the next command
    out = cli("-q", "--profiles", tmp_path / "none", "profiles", "list")
    assert out.exit_code == 2 and "Error:" in out.stderr
    assert cli("--quiet", "profiles", "list", "--json").json()["ok"] is True


def test_shell_completion_is_offered_and_completes_lazy_commands(cli):
    out = cli("--help")
    assert "--install-completion" in out.stdout and "--show-completion" in out.stdout
    exe = Path(sys.executable).with_name("hospfab")  # the installed entry point, as a shell calls it
    # the shell is detected from the calling process, as when a user types it in bash (not from make's sh)
    shown = subprocess.run(["bash", "-c", f"'{exe}' --show-completion; exit $?"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    script = shown.stdout
    assert "_HOSPFAB_COMPLETE=complete_bash" in script or "complete_bash" in script

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_HOSPFAB_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - 1)}
        return subprocess.run([exe], capture_output=True, text=True, env=env, check=True).stdout.split()

    assert complete("hospfab doc") == ["doctor"]
    assert complete("hospfab catalog ve") == ["verify"]


def test_no_private_typer_imports():
    src = Path(__file__).resolve().parents[1] / "src"
    offenders = [str(p) for p in src.rglob("*.py")
                 if any(token in p.read_text() for token in ("typer._", "from typer import _"))]
    assert offenders == []


def test_root_options_are_accepted_after_the_command(cli, tmp_path):
    from hospfab.cli.app import hoist_root_options

    assert hoist_root_options(["catalog", "verify", "--catalog", "D", "-q"]) == [
        "--catalog", "D", "-q", "catalog", "verify"]
    assert hoist_root_options(["init", "--catalog", "URL", "--profiles=P"]) == ["--profiles=P", "init",
                                                                                "--catalog", "URL"]
    assert hoist_root_options(["check", "--", "--catalog"]) == ["check", "--", "--catalog"]
    out = cli("catalog", "verify", "--catalog", tmp_path / "nowhere")
    assert out.exit_code == 2 and "nowhere" in out.stderr
    assert cli("profiles", "list", "-q").stdout == ""
