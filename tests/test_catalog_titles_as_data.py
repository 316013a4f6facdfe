"""A part's title is data: brackets in it (``Connector [see note]``, or ``[/]`` in a hostile catalog) must be
shown as written by `catalog list` and `catalog show`, never parsed as markup (``[/]`` made both exit 70)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_brackets_in_a_title_are_shown_as_written(cli, tmp_path):
    catalog = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", catalog)
    part = catalog / "EAR-SAVER" / "part.yaml"
    data = yaml.safe_load(part.read_text())
    data["title"] = "Ear [/] saver [b]x"
    part.write_text(yaml.safe_dump(data, sort_keys=False))
    for args in (("catalog", "list"), ("catalog", "show", "EAR-SAVER")):
        out = cli("--catalog", catalog, *args)
        assert out.exit_code == 0, out.stdout + out.stderr
        assert "Ear [/] saver [b]x" in out.stdout
