"""Secrets never printed nor stored, and hostile inputs (keys, URLs, YAML): exit 2 with one line, never 70.

Every CLI call of the test run is also searched for the test keys by the ``cli`` fixture (conftest).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TEST_SECRETS

from hospfab.errors import ExitCode

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBVq2AN3zvVdX6W9F0kQ2Kf2cXHq7mC3Xq1u8b8ZJ3ZyQAAAJiP0yRwj9Mk\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
SECRET_IN_URL = "S3CRETAPIKEY0123456789"


@pytest.fixture(autouse=True)
def register_secrets():
    TEST_SECRETS.update(line for line in PRIVATE_KEY.splitlines() if "-----" not in line)
    TEST_SECRETS.add(SECRET_IN_URL)
    yield


def fleet_with(home: Path, **printer) -> Path:
    entry = {"name": "p1", "url": "http://127.0.0.1:9", "profile": "virtual-test", "material": "pla",
             "api_key_env": "HOSPFAB_TEST_KEY_HOSTILE"}  # fmt: skip
    entry.update(printer)
    entry = {k: v for k, v in entry.items() if v is not None}
    path = home / "fleet.yaml"
    path.write_text(yaml.safe_dump({"printers": [entry]}))
    return path


def one_error(out) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stdout + out.stderr
    assert "internal error" not in lines[0] and "Traceback" not in out.stdout + out.stderr
    return lines[0]


def assert_hidden(out, *secrets: str) -> None:
    for secret in secrets:
        for line in secret.splitlines():
            if len(line) >= 8 and "-----" not in line:
                assert line not in out.stdout + out.stderr


@pytest.mark.parametrize(
    "value, why",
    [
        ("abc\ndef0123456789", "several lines"),
        ("abc\x1b[31mdef0123456789", "control or non-ASCII"),
        ("clé-0123456789abcdef", "control or non-ASCII"),
        ("k" * 300, "longer than 256"),
    ],
)
def test_hostile_key_in_the_environment_exit_2_never_shown(cli, hospfab_home, monkeypatch, value, why):
    fleet_with(hospfab_home)
    monkeypatch.setenv("HOSPFAB_TEST_KEY_HOSTILE", value)
    for args in (("printers", "status"), ("printers", "status", "--json")):
        out = cli(*args)
        assert out.exit_code == ExitCode.USAGE
        message = out.json()["errors"][0]["message"] if "--json" in args else one_error(out)
        assert why in message and "HOSPFAB_TEST_KEY_HOSTILE" in message and "not shown" in message
        assert value.split("\n")[0] not in out.stdout + out.stderr or len(value.split("\n")[0]) < 8


def test_a_private_key_file_as_api_key_file_is_never_printed(cli, hospfab_home):
    key = hospfab_home / "id_ed25519"
    key.write_text(PRIVATE_KEY)
    key.chmod(0o600)
    fleet_with(hospfab_home, api_key_env=None, api_key_file=str(key))
    out = cli("printers", "status")
    assert out.exit_code == ExitCode.USAGE and "several lines" in one_error(out)
    assert_hidden(out, PRIVATE_KEY)
    out = cli("printers", "add", "p2", "--url", "http://127.0.0.1:9", "--api-key-file", str(key), "--profile",
              "virtual-test", "--material", "pla", "--check")  # fmt: skip
    assert out.exit_code == ExitCode.USAGE
    assert_hidden(out, PRIVATE_KEY)


def test_a_fifo_or_huge_key_file_exit_2_without_hanging(cli, hospfab_home):
    fifo = hospfab_home / "key.fifo"
    os.mkfifo(fifo, 0o600)
    fleet_with(hospfab_home, api_key_env=None, api_key_file=str(fifo))
    out = cli("printers", "status")
    assert out.exit_code == ExitCode.USAGE and "not a regular file (a FIFO)" in one_error(out)
    nul = hospfab_home / "nul.key"
    nul.write_bytes(b"abcdef\x00ghijklmnop\n")
    nul.chmod(0o600)
    fleet_with(hospfab_home, api_key_env=None, api_key_file=str(nul))
    out = cli("printers", "status")
    assert out.exit_code == ExitCode.USAGE and "control or non-ASCII" in one_error(out)
    huge = hospfab_home / "huge.key"
    huge.write_bytes(b"A" * (1 << 20))
    huge.chmod(0o600)
    fleet_with(hospfab_home, api_key_env=None, api_key_file=str(huge))
    out = cli("printers", "status")
    assert out.exit_code == ExitCode.USAGE and "larger than 4096 bytes" in one_error(out)


def test_the_client_never_echoes_a_key_httpx_refuses():
    from hospfab.errors import PrinterError
    from hospfab.octoprint.client import OctoPrintClient

    secret = "line1SECRETSECRET\r\nline2SECRET"
    with OctoPrintClient("http://127.0.0.1:9", secret, retries=0) as client:
        with pytest.raises(PrinterError) as caught:
            client.version()
        with pytest.raises(PrinterError) as upload:
            client.upload(__file__, "x.gcode")
    for err in (caught.value, upload.value):
        assert "SECRET" not in err.message and "Illegal header" not in err.message


@pytest.mark.parametrize(
    "url, why",
    [
        (f"http://octo.lan/?apikey={SECRET_IN_URL}", "api_key_env or api_key_file"),
        (f"http://admin:{SECRET_IN_URL}@octo.lan", "credentials"),
        (f"http://octo.lan/#{SECRET_IN_URL}", "api_key_env or api_key_file"),
        ("http://octo.lan/\r\nX-Injected: 1", "printable ASCII"),
        ("http://octo.lan/" + "a" * 3000, "longer than 2048"),
    ],
)
def test_urls_with_credentials_or_control_characters_are_refused(cli, hospfab_home, url, why):
    out = cli("printers", "add", "p1", "--url", url, "--api-key-env", "K", "--profile", "virtual-test",
              "--material", "pla")  # fmt: skip
    assert out.exit_code == ExitCode.USAGE and why in one_error(out)
    assert not (hospfab_home / "fleet.yaml").exists()
    fleet_with(hospfab_home, url=url)  # the same URL written in the fleet file by hand
    out = cli("printers", "status")
    assert out.exit_code == ExitCode.USAGE and why in one_error(out)
    assert "X-Injected" not in out.stderr


def test_files_and_folders_created_are_private_whatever_the_umask(tmp_path):
    home = tmp_path / "new" / "home"
    code = (
        "import os, sys; os.umask(0);"
        "from hospfab.cli import app;"
        "sys.argv = ['hospfab', 'printers', 'add', 'p1', '--url', 'http://127.0.0.1:9', '--api-key-env', 'K',"
        " '--profile', 'virtual-test', '--material', 'pla'];"
        "app()"
    )
    env = dict(os.environ, HOSPFAB_HOME=str(home))
    env.pop("HOSPFAB_FLEET", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700 and stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "fleet.yaml").stat().st_mode) == 0o600


# -- hostile YAML through the real commands ----------------------------------------------------------------


@pytest.fixture
def profiles_copy(tmp_path, monkeypatch):
    root = Path(__file__).resolve().parents[1] / "profiles"
    copy = tmp_path / "profiles"
    shutil.copytree(root, copy)
    monkeypatch.setenv("HOSPFAB_PROFILES", str(copy))
    return copy


def test_a_duplicated_key_is_refused_naming_both_lines(cli, profiles_copy):
    target = profiles_copy / "printers" / "prusa-mk4.yaml"
    target.write_text(target.read_text() + "max_nozzle_temp_c: 450\n")
    # `profiles check` is a check: an invalid profile fails it (exit 1); `profiles show` cannot read it (exit 2)
    for args, code in ((("profiles", "check"), ExitCode.FAILED), (("profiles", "show", "printer/prusa-mk4"),
                                                                 ExitCode.USAGE)):  # fmt: skip
        out = cli(*args)
        assert out.exit_code == code, out.stdout + out.stderr
        line = one_error(out)
        assert "duplicate key 'max_nozzle_temp_c' (first on line 8, again on line" in line and "prusa-mk4.yaml" in line
        assert "450" not in out.stdout


@pytest.mark.parametrize(
    "text, why",
    [
        ("name: x\nnested: " + "[" * 200 + "]" * 200 + "\n", "deep"),
        ("name: x\nmax_nozzle_temp_c: " + "9" * 5000 + "\n", "digits"),
    ],
)
def test_deep_nesting_and_huge_integers_exit_2(cli, profiles_copy, hospfab_home, text, why):
    (profiles_copy / "printers" / "prusa-mk4.yaml").write_text(text)
    out = cli("profiles", "check")
    assert out.exit_code == ExitCode.FAILED and why in one_error(out).lower()
    out = cli("profiles", "show", "printer/prusa-mk4")
    assert out.exit_code == ExitCode.USAGE and why in one_error(out).lower()
    (hospfab_home / "fleet.yaml").write_text(text.replace("name: x", "version: 1"))
    out = cli("printers", "status")
    assert out.exit_code == ExitCode.USAGE and why in one_error(out).lower() and "fleet.yaml" in out.stderr


def test_duplicated_key_in_the_fleet_file(cli, hospfab_home):
    (hospfab_home / "fleet.yaml").write_text(
        "printers:\n  - name: p1\n    url: http://127.0.0.1:9\n    api_key_env: K\n    profile: virtual-test\n"
        "    material: pla\n    material: petg\n"
    )
    for args in (("printers", "status"), ("printers", "remove", "p1")):
        out = cli(*args)
        assert out.exit_code == ExitCode.USAGE and "material" in one_error(out) and "fleet.yaml" in out.stderr


def test_control_characters_in_a_file_name_are_escaped_in_the_message(cli, tmp_path):
    out = cli("check", str(tmp_path / "evil\nError: forged\x1b[31m.stl"))
    assert out.exit_code == ExitCode.USAGE
    line = one_error(out)
    assert "\\n" in line and "\\x1b" in line
