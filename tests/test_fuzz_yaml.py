"""Fuzzing the YAML loaders: read_yaml_mapping, the profile store and the fleet file. Any text gives a value
or a HospfabError (a one-line message naming the file: exit 2 or 4 in the CLI), never another exception."""

from __future__ import annotations

import pytest
import yaml
from fuzzing import fuzz_settings, run_for_budget
from hypothesis import given
from hypothesis import strategies as st

from hospfab.errors import HospfabError
from hospfab.fileio import read_yaml_mapping
from hospfab.fleet.model import Fleet
from hospfab.profiles import ProfileStore

_KEYS = ["name", "build_volume_mm", "max_nozzle_temp_c", "max_bed_temp_c", "travel_y_mm", "inherits",
         "allowed_firmware_commands", "density_g_cm3", "nozzle_temp_min_c", "printers", "url", "version",
         "api_key_env", "profile", "material", "layer_height_mm", "<<", "?", "x"]
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["M500", "p", "../x", "http://h/?apikey=1", "1e999"]))
_value = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)),
                      max_leaves=12)
_document = st.dictionaries(st.sampled_from(_KEYS), _value, max_size=6).map(
    lambda d: yaml.safe_dump(d, allow_unicode=True))
_junk = st.sampled_from(["{", "[", "&a [*a]", "!!python/object:os.system x", "a: 1\na: 2\n", "- - - -", "%YAML 9",
                         "\t", "? [a]\n: b", "*undefined", "a: !!binary x", "a: " + "[" * 200, "\x00", "\ufeff"])
yaml_text = st.one_of(
    _document,
    st.tuples(_document, _junk, st.integers(0, 40)).map(lambda t: t[0][: t[2]] + t[1] + t[0][t[2]:]),
    st.text(max_size=200),
)

# Inputs that ever crashed a loader (replayed in every run); see fuzzing.py.
REGRESSIONS = ["a: " + "[" * 200, "a: 1\na: 2\n", "x: " + "9" * 5000, "printers: [{name: p, url: 'http://h\r\n'}]",
               "?", "1: x", "yes: x"]


def _load_everything(root, text: str) -> None:
    for folder in ("printers", "materials", "processes"):
        (root / folder).mkdir(exist_ok=True)
    targets = [root / "printers" / "p.yaml", root / "materials" / "p.yaml", root / "processes" / "p.yaml",
               root / "fleet.yaml"]
    for target in targets:
        target.write_text(text, encoding="utf-8", errors="surrogatepass")
    loads = [lambda: read_yaml_mapping(targets[0]), lambda: ProfileStore(root).printer("p"),
             lambda: ProfileStore(root).material("p"), lambda: ProfileStore(root).process("p"),
             lambda: Fleet.load(targets[3])]
    for load in loads:
        try:
            load()
        except HospfabError as err:
            assert "\n" not in err.message.strip(), err.message


@pytest.mark.parametrize("text", REGRESSIONS)
def test_yaml_regressions(tmp_path, text):
    _load_everything(tmp_path, text)


def test_fuzz_yaml_loaders(tmp_path):
    @fuzz_settings()
    @given(yaml_text)
    def fuzz(text: str) -> None:
        _load_everything(tmp_path, text)

    run_for_budget(fuzz)
