"""YAML aliases cannot blow a small file up ("billion laughs") nor make a document contain itself."""

from __future__ import annotations

import pytest

from hospfab.errors import ConfigError
from hospfab.fileio import load_yaml_text


def laughs(levels: int = 9) -> str:
    """A few hundred bytes whose aliases expand to 9**levels values."""
    names = [chr(ord("a") + i) for i in range(levels)]
    fields = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip(names, names[1:]):
        fields.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "{" + ", ".join(fields) + "}"


def test_billion_laughs_refused_by_the_shared_reader():
    with pytest.raises(ConfigError, match=r"x\.yaml: .*aliases \(\*name\) expand to \d+ values"):
        load_yaml_text(f"site: demo\nextra: {laughs()}\n", source="x.yaml")


def test_recursive_alias_refused():
    with pytest.raises(ConfigError, match="refers to a value that contains it"):
        load_yaml_text("a: &a [x, *a]\n", source="x.yaml")


def test_a_few_aliases_still_read():
    data = load_yaml_text("base: &b {nozzle: 0.4}\none: *b\ntwo: *b\n", source="x.yaml")
    assert data["one"] == data["two"] == {"nozzle": 0.4}


def test_config_show_with_laughs_in_the_alerts_section_is_one_error_line(cli, tmp_path):
    """The site configuration's alerts section was walked value by value: the command never ended."""
    conf = tmp_path / "config.yaml"
    conf.write_text("alerts:\n  channels: [{id: webhook-1, type: webhook, target: 'https://x.org/a', "
                    f"extra: {laughs()}}}]\n")
    out = cli("config", "show", "--json", env={"HOSPFAB_CONFIG": str(conf)})
    assert out.exit_code == 2, out.stdout
    [error] = out.json()["errors"]
    assert "config.yaml" in error["message"] and "aliases" in error["message"]
