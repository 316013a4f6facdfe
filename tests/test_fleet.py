"""The fleet file: loading, validation messages, atomic saving, API key sources."""

from __future__ import annotations

import os
import stat

import pytest

from hospfab.errors import ConfigError, ExitCode, InputError, NotFoundError
from hospfab.fleet import Fleet, PrinterConfig

GOOD = """\
version: 1
printers:
  - name: mk4-01
    url: http://octopi-01.lan/
    api_key_env: HOSPFAB_TEST_KEY
    profile: prusa-mk4
    material: petg
    material_lot: LOT-1
    site: building-b
    tags: [icu, ventilation]
  - name: mini-02
    url: https://octopi-02.lan:8443
    api_key_file: keys/mini-02.key
    profile: prusa-mini
    material: pla
    bed_clearing: automatic
"""


def write(tmp_path, text, name="fleet.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_good_fleet(tmp_path):
    fleet = Fleet.load(write(tmp_path, GOOD))
    assert [p.name for p in fleet.printers] == ["mk4-01", "mini-02"]
    first, second = fleet.printers
    assert first.url == "http://octopi-01.lan" and first.bed_clearing == "manual" and first.tags == ["icu", "ventilation"]
    assert second.bed_clearing == "automatic" and second.material_lot is None
    assert second.key_file_path() == tmp_path / "keys" / "mini-02.key"
    assert fleet.hint is None and fleet.exists


def test_missing_file_is_an_empty_fleet_with_a_hint(tmp_path):
    fleet = Fleet.load(tmp_path / "nope.yaml")
    assert fleet.printers == [] and not fleet.exists
    assert "no fleet file at" in fleet.hint and "nope.yaml" in fleet.hint and "hospfab printers add" in fleet.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("printers: [\n", "line 2"),
        ("- a\n- b\n", "expected a mapping of keys to values"),
        (GOOD.replace("http://octopi-01.lan/", "ftp://x"), "key 'printers[0] (mk4-01).url': must be an http"),
        (GOOD.replace("http://octopi-01.lan/", "http://u:p@x"), "key 'printers[0] (mk4-01).url': must not contain credentials"),
        (GOOD.replace("    site: building-b", "    colour: red"), "unknown key 'printers[0] (mk4-01).colour' (known keys: name, url"),
        (GOOD.replace("    profile: prusa-mini\n", ""), "missing required key 'printers[1] (mini-02).profile'"),
        (GOOD.replace("bed_clearing: automatic", "bed_clearing: robot"), "printers[1] (mini-02).bed_clearing"),
        (GOOD.replace("    api_key_env: HOSPFAB_TEST_KEY\n", ""), "key 'printers[0] (mk4-01)': give exactly one of"),
        (GOOD.replace("mini-02", "mk4-01"), "appears twice"),
        (GOOD.replace("version: 1", "version: 9"), "key 'version': is 9, newer than this hospfab"),
        (GOOD.replace("name: mk4-01", "name: 'bad name'"), "key 'printers[0] (bad name).name': must be"),
    ],
)
def test_broken_fleet_names_file_and_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        Fleet.load(path)
    assert str(path) in caught.value.message and expected in caught.value.message
    assert "u:p@" not in caught.value.message, "text values (possibly secrets) are never echoed"
    assert caught.value.exit_code == ExitCode.USAGE
    assert "\n" not in caught.value.message


def test_save_is_atomic_and_round_trips(tmp_path):
    fleet = Fleet.load(write(tmp_path, GOOD))
    fleet.add(
        PrinterConfig(name="new-1", url="http://h:5000", api_key_env="K", profile="prusa-mk4", material="pla")
    )
    fleet.get("mk4-01").material_lot = "LOT-2"
    target = tmp_path / "sub" / "out.yaml"
    fleet.save(target)
    again = Fleet.load(target)
    assert [p.model_dump() for p in again.printers] == [p.model_dump() for p in fleet.printers]
    assert again.get("mk4-01").material_lot == "LOT-2"
    assert sorted(os.listdir(target.parent)) == ["out.yaml"]  # no temp file left behind
    assert "apikey" not in target.read_text().lower().replace("api_key_", "")


def test_add_duplicate_and_remove_unknown(tmp_path):
    fleet = Fleet.load(write(tmp_path, GOOD))
    with pytest.raises(InputError, match="mk4-01: already in the fleet"):
        fleet.add(PrinterConfig(name="mk4-01", url="http://h", api_key_env="K", profile="p", material="m"))
    with pytest.raises(NotFoundError, match="printer ghost: not in the fleet file"):
        fleet.remove("ghost")
    assert fleet.remove("mk4-01").name == "mk4-01" and [p.name for p in fleet.printers] == ["mini-02"]


def test_api_key_from_env(tmp_path, monkeypatch):
    printer = Fleet.load(write(tmp_path, GOOD)).get("mk4-01")
    monkeypatch.delenv("HOSPFAB_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="mk4-01: environment variable HOSPFAB_TEST_KEY"):
        printer.api_key()
    monkeypatch.setenv("HOSPFAB_TEST_KEY", " secret-123 \n")
    assert printer.api_key() == "secret-123"


def test_api_key_file_refused_unless_private(tmp_path):
    printer = Fleet.load(write(tmp_path, GOOD)).get("mini-02")
    key = tmp_path / "keys" / "mini-02.key"
    with pytest.raises(ConfigError, match="mini-02: cannot read api_key_file"):
        printer.api_key()
    key.parent.mkdir()
    key.write_text("FILE-SECRET\n")
    key.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        printer.api_key()
    assert "mode 0644" in caught.value.message and "chmod 600" in caught.value.message
    assert "FILE-SECRET" not in caught.value.message
    key.chmod(0o600)
    assert printer.api_key() == "FILE-SECRET"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_client_repr_never_shows_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("HOSPFAB_TEST_KEY", "TOPSECRET-KEY")
    printer = Fleet.load(write(tmp_path, GOOD)).get("mk4-01")
    with printer.client() as client:
        assert "TOPSECRET" not in repr(client) and client.name == "mk4-01"
    assert "TOPSECRET" not in repr(printer)
