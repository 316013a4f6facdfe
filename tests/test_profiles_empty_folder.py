"""An empty profiles folder (a wheel whose package data lost the YAML files, a wrong HOSPFAB_PROFILES) is an
error naming the folder (exit 2), never an empty table with exit 0."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("layout", ["empty", "kinds without files"])
def test_profiles_folder_without_profiles_exits_2(cli, tmp_path, layout):
    folder = tmp_path / "profiles"
    folder.mkdir()
    if layout != "empty":
        for kind in ("printers", "materials", "processes"):
            (folder / kind).mkdir()
    for args in (("profiles", "list"), ("profiles", "check")):
        out = cli(*args, "--json", env={"HOSPFAB_PROFILES": str(folder)})
        assert out.exit_code == 2, (args, out.stdout)
        [error] = out.json()["errors"]
        assert error["code"] == "missing_profiles" and str(folder) in error["message"], error
