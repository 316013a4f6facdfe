"""With CI set, a test whose OctoPrint, prusa-slicer or PostgreSQL is missing fails instead of skipping."""

from __future__ import annotations

import pytest
from octoprint_fixtures import DEPENDENCY_MARKERS, pytest_runtest_setup, skip_or_fail

pytest_plugins = ["pytester"]


def test_without_ci_a_missing_dependency_skips(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="prusa-slicer not installed"):
        skip_or_fail("prusa-slicer not installed")


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_with_ci_a_missing_dependency_fails(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="OctoPrint not installed .CI is set"):
        skip_or_fail("OctoPrint not installed")


def test_an_empty_ci_variable_is_not_ci(monkeypatch):
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        skip_or_fail("x")


class _Item:
    def __init__(self, *markers: str) -> None:
        self.markers = set(markers)

    def get_closest_marker(self, name: str):
        return name if name in self.markers else None


@pytest.mark.parametrize("marker", sorted(DEPENDENCY_MARKERS))
def test_marked_tests_go_through_the_helper(monkeypatch, marker):
    monkeypatch.setitem(DEPENDENCY_MARKERS, marker, (lambda: False, f"{marker} missing"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"{marker} missing"):
        pytest_runtest_setup(_Item(marker))
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        pytest_runtest_setup(_Item(marker))
    pytest_runtest_setup(_Item("other"))  # unmarked tests are never touched


def test_a_present_dependency_runs(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setitem(DEPENDENCY_MARKERS, "slicer", (lambda: True, "never"))
    pytest_runtest_setup(_Item("slicer"))


def test_octoprint_fixture_fails_in_ci_without_octoprint(pytester, monkeypatch):
    """The real fixture, in a separate pytest run with no OctoPrint to be found."""
    import octoprint_fixtures

    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(octoprint_fixtures.REPO / 'tests')!r})\n"
                          "pytest_plugins = ['octoprint_fixtures']\n")
    pytester.makepyfile(test_x="def test_needs(octoprint_server):\n    pass\n")
    monkeypatch.setattr(octoprint_fixtures, "octoprint_executable", lambda: None)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert "CI is set" in result.stdout.str()
    monkeypatch.delenv("CI")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(skipped=1)
