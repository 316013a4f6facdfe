"""hospfab.fileio: atomic writes, YAML mappings, one-line validation messages."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hospfab.errors import ConfigError, NotFoundError
from hospfab.fileio import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    describe_validation_error,
    read_yaml_mapping,
)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_creates_folders_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    atomic_write_text(target, "one\r\n")
    assert target.read_bytes() == b"one\r\n"
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_mode_is_set_kept_or_umask_default(tmp_path):
    secret = tmp_path / "key.pem"
    atomic_write_bytes(secret, b"s", mode=0o600)
    assert _mode(secret) == 0o600
    atomic_write_bytes(secret, b"s2")  # no mode: keeps the replaced file's mode
    assert _mode(secret) == 0o600
    old = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.txt"
        atomic_write_bytes(fresh, b"x")
    finally:
        os.umask(old)
    assert _mode(fresh) == 0o640


def test_failed_write_leaves_no_temp_file_and_old_content(tmp_path):
    target = tmp_path / "out.gcode"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target, mode=0o644) as tmp:
            tmp.write_bytes(b"half")
            assert _mode(tmp) == 0o600, "private while being written"
            raise RuntimeError("check failed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.gcode"]


def test_write_error_leaves_nothing(tmp_path):
    target = tmp_path / "new.txt"
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_read_yaml_mapping(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("a: 1\nb: [x, y]\n")
    assert read_yaml_mapping(good) == {"a": 1, "b": ["x", "y"]}
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert read_yaml_mapping(empty) == {}


def test_broken_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("a: 1\nb: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        read_yaml_mapping(path, what="fleet file")
    message = caught.value.message
    assert message.startswith(f"{path}: line 3, column 1: broken YAML")
    assert "\n" not in message


def test_non_mapping_and_missing_are_refused(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"list.yaml: expected a mapping .* profile, got a list"):
        read_yaml_mapping(path, what="profile")
    with pytest.raises(NotFoundError, match="nope.yaml: profile not found"):
        read_yaml_mapping(tmp_path / "nope.yaml", what="profile")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigError, match="bin.yaml: the file is not UTF-8 text"):
        read_yaml_mapping(binary)


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    speed_mm_s: float = Field(50, ge=1, le=300)
    url: str = ""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[_Item] = []
    title: str


def _error(data: dict) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        _Doc.model_validate(data)
    return caught.value


def test_validation_message_names_key_value_and_range():
    data = {"title": "t", "items": [{"name": "a"}, {"name": "fast", "speed_mm_s": 900}]}
    message = describe_validation_error(_error(data), "doc.yaml", model=_Doc, data=data)
    assert message.startswith("doc.yaml: key 'items[1] (fast).speed_mm_s': ")
    assert message.endswith(", got 900 (allowed: 1 to 300)")


def test_validation_message_unknown_and_missing_keys():
    data = {"items": [{"name": "a", "colour": "red"}]}
    message = describe_validation_error(_error(data), "doc.yaml", model=_Doc, data=data)
    assert "unknown key 'items[0] (a).colour' (known keys: name, speed_mm_s, url)" in message
    assert "missing required key 'title'" in message
    assert "\n" not in message


def test_validation_message_never_echoes_text_and_caps_errors():
    data = {"title": 5, "items": [{"name": "a", "url": ["http://u:secret@h"]}] + [{"x": i} for i in range(4)]}
    message = describe_validation_error(_error(data), "doc.yaml", model=_Doc, data=data)
    assert "secret" not in message
    assert message.count(";") == 2 and message.endswith("more)")


def test_importing_fileio_stays_cheap():
    code = "import sys, hospfab.fileio; print(any(m in sys.modules for m in ('yaml', 'pydantic', 'typer', 'rich')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("text, shown", [("?", "None"), ("1: x", "1"), ("yes: x", "True"),
                                         ("2024-01-01: x", "datetime.date(2024, 1, 1)")])
def test_top_level_keys_that_are_not_names_are_refused_in_one_line(tmp_path, text, shown):
    """YAML gives `? x` a null key, `1:` a number and `yes:` a bool: no setting has such a name, and the
    profile store once passed them on as keyword arguments (a traceback, found by the YAML fuzzer)."""
    from hospfab.fileio import read_yaml_mapping

    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_yaml_mapping(path, what="profile")
    assert info.value.message == f"{path}: top-level keys of the profile must be names, not {shown}"
