"""A misspelt or lower-case reference names the closest ones ("did you mean TEST-BOX?"), exit 2, one line,
wherever a reference is resolved (print, catalog show, batch); it is never accepted in place of the real one."""

from __future__ import annotations

import pytest
from test_print_support import print_catalog, write_fleet  # noqa: F401 - fixture

from hospfab.catalog.store import close_refs
from hospfab.errors import ExitCode, NotFoundError

REFS = ["EAR-SAVER", "VISOR-HEADBAND", "TEST-BOX", "TEST-SLOW"]


def test_close_refs_is_case_insensitive_and_ranked():
    assert close_refs("ear-saver", REFS)[0] == "EAR-SAVER"
    assert close_refs("EAR-SAVR", REFS) == ["EAR-SAVER"]
    assert close_refs("visor_headband", REFS) == ["VISOR-HEADBAND"]
    assert close_refs("TEST-BXO", REFS)[0] == "TEST-BOX"
    assert close_refs("PUMP-CLIP", REFS) == []


@pytest.fixture
def env(print_catalog, monkeypatch, tmp_path):  # noqa: F811
    """The signed test catalog and a fleet whose only printer is never contacted (nothing listens there)."""
    monkeypatch.setenv("HOSPFAB_CATALOG", str(print_catalog))
    fleet = tmp_path / "fleet.yaml"
    monkeypatch.setenv("HOSPFAB_FLEET", str(fleet))
    monkeypatch.setenv("HOSPFAB_OPERATOR", "ana")
    write_fleet(fleet, ["http://127.0.0.1:9"], monkeypatch)
    return print_catalog


def one_error_line(out) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.mark.parametrize("command", [("print",), ("print", "--wait-for-printer"), ("catalog", "show"),
                                     ("batch", "--quantity", "4")])  # fmt: skip
@pytest.mark.parametrize("typed", ["test-box", "TEST-BXO", "Test-Box@1"])
def test_misspelt_reference_suggests_the_closest(cli, env, command, typed):
    args = [command[0], *command[1:2], typed, *command[2:]] if command[0] == "catalog" else \
        [command[0], typed, *command[1:]]
    out = cli(*args)
    assert out.exit_code == ExitCode.USAGE, out.stdout + out.stderr
    line = one_error_line(out)
    assert line.startswith("Error: reference") and "did you mean TEST-BOX" in line, line
    assert "Traceback" not in out.stderr
    as_json = cli(*args, "--json").json()
    assert as_json["exit_code"] == ExitCode.USAGE and as_json["errors"][0]["code"] == "not_found"
    assert as_json["errors"][0]["details"]["suggestions"][0] == "TEST-BOX"


def test_lower_case_reference_is_never_accepted(cli, env):
    out = cli("print", "test-box", "--json")
    assert out.exit_code == ExitCode.USAGE
    message = out.json()["errors"][0]["message"]
    assert "upper case" in message and "did you mean TEST-BOX" in message
    jobs = cli("jobs", "list", "--json").json()["data"]["jobs"]
    assert jobs == []  # nothing was recorded, let alone sent


def test_reference_like_nothing_in_the_catalog_is_plainly_not_found(cli, env):
    out = cli("print", "PUMP-CLIP")
    assert out.exit_code == ExitCode.USAGE
    line = one_error_line(out)
    assert "PUMP-CLIP not found" in line and "did you mean" not in line
    bad = cli("catalog", "show", "pump clip")  # not a reference at all: the syntax error stays
    assert bad.exit_code == ExitCode.USAGE and "invalid" in one_error_line(bad)


def test_library_resolution_raises_not_found_with_suggestions(env):
    from hospfab.catalog import Catalog

    catalog = Catalog(env)
    for spec in ("test-slow", "TEST-SLWO@1", "TEST-SLO"):
        with pytest.raises(NotFoundError) as caught:
            catalog.resolve(spec)
        assert caught.value.details["suggestions"][0] == "TEST-SLOW", spec
    assert catalog.resolve("TEST-SLOW").ref == "TEST-SLOW"
