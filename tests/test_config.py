"""The site configuration: one precedence (option > environment > file > default), unknown keys refused,
secrets masked, `hospfab init` (folder or a real `git clone`), validated results cached by content hash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _write(home: Path, text: str) -> Path:
    path = home / "config.yaml"
    path.write_text(text)
    return path


def _shown(cli, *args, env=None) -> dict:
    out = cli(*args, "config", "show", "--json", env=env)
    assert out.exit_code == 0, out.stderr
    return out.json()["data"]["settings"]


def test_precedence_option_over_environment_over_file_over_default(cli, hospfab_home, tmp_path):
    for name in ("from-file", "from-env", "from-flag"):
        (tmp_path / name).mkdir()
    _write(hospfab_home, "catalog: ../from-file-rel\nfleet: fleet-here.yaml\nsite: icu\n")
    shown = _shown(cli)
    assert shown["catalog"] == {"value": str(hospfab_home.parent / "from-file-rel"), "source": "config"}
    assert shown["fleet"]["value"] == str(hospfab_home / "fleet-here.yaml")  # relative to the file's folder
    assert shown["site"] == {"value": "icu", "source": "config"}
    assert shown["profiles"]["source"] == "default"
    env = {"HOSPFAB_CATALOG": str(tmp_path / "from-env"), "HOSPFAB_SITE": "ward-3"}
    shown = _shown(cli, env=env)
    assert shown["catalog"] == {"value": str(tmp_path / "from-env"), "source": "HOSPFAB_CATALOG"}
    assert shown["site"]["value"] == "ward-3"
    shown = _shown(cli, "--catalog", tmp_path / "from-flag", env=env)
    assert shown["catalog"] == {"value": str(tmp_path / "from-flag"), "source": "--catalog"}


def test_unknown_key_is_refused_naming_the_file_and_key(cli, hospfab_home):
    path = _write(hospfab_home, "catalgo: /srv/catalog\n")
    out = cli("config", "show")
    assert out.exit_code == 2
    assert str(path) in out.stderr and "catalgo" in out.stderr and "known keys" in out.stderr
    assert "Traceback" not in out.stderr


def test_hospfab_config_naming_a_missing_file_is_an_error(cli, tmp_path):
    out = cli("config", "show", env={"HOSPFAB_CONFIG": str(tmp_path / "typo.yaml")})
    assert out.exit_code == 2 and "typo.yaml" in out.stderr


def test_secrets_are_masked(cli, hospfab_home):
    _write(hospfab_home, "database: postgresql://hospfab:S3cret-pw@db.lan:5432/journal\n"
                         "alerts:\n  smtp:\n    host: mail.lan\n    password: hunter2\n  webhook_token: abc123\n")
    out = cli("config", "show", "--json")
    assert "S3cret-pw" not in out.stdout and "hunter2" not in out.stdout and "abc123" not in out.stdout
    shown = out.json()["data"]["settings"]
    assert shown["database"]["value"] == "postgresql://hospfab:***@db.lan:5432/journal"
    assert shown["alerts"]["value"]["smtp"] == {"host": "mail.lan", "password": "***"}
    human = cli("config", "show")
    assert "S3cret-pw" not in human.stdout and "hunter2" not in human.stdout


def test_mask_secrets_keeps_where_a_secret_is():
    from hospfab.settings import mask_secrets

    assert mask_secrets({"api_key_file": "/k", "api_key": "x"}) == {"api_key_file": "/k", "api_key": "***"}
    assert mask_secrets("postgresql://u@h/db?password=pw&sslmode=require") == \
        "postgresql://u@h/db?password=***&sslmode=require"
    assert mask_secrets("sqlite:////var/lib/j.sqlite3") == "sqlite:////var/lib/j.sqlite3"


def test_every_config_field_is_documented():
    from hospfab.config import site_config_model

    model = site_config_model()
    assert {"site", "catalog", "fleet", "database", "trust_store", "site_profiles", "alerts"} <= set(
        model.model_fields)
    assert all(f.description for f in model.model_fields.values())


def test_init_writes_a_file_it_reads_back_and_refuses_to_overwrite(cli, hospfab_home, tmp_path):
    (tmp_path / "cat").mkdir()
    out = cli("init", "--catalog", tmp_path / "cat", "--site", "icu",
              "--database", "postgresql://u:pw@db/j", "--json")
    assert out.exit_code == 0, out.stderr
    assert "pw@" not in out.stdout
    path = hospfab_home / "config.yaml"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    shown = _shown(cli)
    assert shown["catalog"]["value"] == str(tmp_path / "cat") and shown["site"]["value"] == "icu"
    again = cli("init", "--site", "other")
    assert again.exit_code == 2 and "--force" in again.stderr
    assert cli("init", "--site", "other", "--force").exit_code == 0
    assert _shown(cli)["site"]["value"] == "other"


def test_init_refuses_a_missing_catalog_folder(cli, tmp_path):
    out = cli("init", "--catalog", tmp_path / "nope")
    assert out.exit_code == 2 and "nope" in out.stderr


def test_init_clones_the_catalog_repository(cli, hospfab_home, tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    origin = tmp_path / "origin"
    shutil.copytree(REPO / "catalog" / "keys", origin / "keys")
    git = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(origin)], check=True)
    subprocess.run([*git, "-C", str(origin), "add", "."], check=True)
    subprocess.run([*git, "-C", str(origin), "commit", "-qm", "keys"], check=True)
    url = f"file://{origin}"
    out = cli("init", "--catalog", url, "--clone-to", tmp_path / "clone", "--json")
    assert out.exit_code == 0, out.stderr
    assert (tmp_path / "clone" / ".git").is_dir() and (tmp_path / "clone" / "keys").is_dir()
    shown = _shown(cli)
    assert shown["catalog"]["value"] == str(tmp_path / "clone")
    # pointing at the same repository again reuses the clone; a failing clone says why in one line
    assert cli("init", "--catalog", url, "--clone-to", tmp_path / "clone", "--force").exit_code == 0
    bad = cli("init", "--catalog", f"file://{tmp_path}/missing.git", "--clone-to", tmp_path / "c2", "--force")
    assert bad.exit_code == 2 and "git clone" in bad.stderr


def test_alerts_is_accepted_as_a_mapping_only(cli, hospfab_home):
    _write(hospfab_home, "alerts: [1, 2]\n")
    out = cli("config", "show")
    assert out.exit_code == 2 and "alerts" in out.stderr


def test_validated_config_and_profiles_are_served_from_the_cache_without_pydantic(hospfab_home, tmp_path):
    _write(hospfab_home, "site: icu\n")
    gcode = tmp_path / "two.gcode"
    gcode.write_text("G28\nG1 X10 Y10 Z0.2 F3000\n")
    code = (
        "import sys\n"
        "from hospfab.settings import Settings\n"
        "s = Settings.resolve()\n"
        "store = s.profile_store()\n"
        "p = store.view('printer', 'prusa-mk4'); m = store.view('material', 'petg')\n"
        "print(s.site, p.build_volume_mm, m.first_layer_temp_c, 'pydantic' in sys.modules, 'yaml' in sys.modules)\n"
    )
    env = {**os.environ, "HOSPFAB_HOME": str(hospfab_home)}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert first.stdout.split()[-2:] == ["True", "True"]
    assert second.stdout.split()[-2:] == ["False", "False"]
    assert first.stdout.split()[:-2] == second.stdout.split()[:-2]
    # a changed file misses the cache and is validated again
    _write(hospfab_home, "site: icu\nunknown: 1\n")
    third = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert third.returncode != 0 and "unknown" in third.stderr


def test_site_profile_change_is_seen_through_the_cache(cli, hospfab_home, tmp_path):
    site = tmp_path / "site"
    (site / "printers").mkdir(parents=True)
    mk4 = site / "printers" / "prusa-mk4.yaml"
    mk4.write_text("inherits: prusa-mk4\nbuild_volume_mm: [200, 200, 200]\n")
    _write(hospfab_home, f"site_profiles: {site}\n")
    stl = REPO / "catalog" / "EAR-SAVER" / "rev-1" / "model.stl"
    first = cli("check", stl, "--printer", "prusa-mk4", "--json").json()
    mk4.write_text("inherits: prusa-mk4\nbuild_volume_mm: [20, 20, 20]\ntravel_y_mm: [-4, 20]\n")
    second = cli("check", stl, "--printer", "prusa-mk4", "--json")
    assert first["exit_code"] == 0 and second.exit_code == 1
    assert "exceeds_build_volume" in json.dumps(second.json()["errors"])


def test_kind_folders_match_the_models():
    from hospfab.profiles.models import KIND_DIRS as MODEL_KINDS
    from hospfab.profiles.store import KIND_DIRS

    assert KIND_DIRS == MODEL_KINDS


def test_init_asks_for_each_value(cli, hospfab_home, tmp_path):
    (tmp_path / "cat").mkdir()
    answers = f"{tmp_path / 'cat'}\nicu\n\n\n\n"
    out = cli("init", "--interactive", input=answers)
    assert out.exit_code == 0, out.stderr
    assert "Catalog folder or git URL" in out.stdout and "Site name" in out.stdout
    shown = _shown(cli)
    assert shown["catalog"]["value"] == str(tmp_path / "cat") and shown["site"]["value"] == "icu"
    assert shown["database"]["source"] == "default"


@pytest.mark.parametrize("command", [["printers"], ["queue", "status"], ["lots", "list"], ["jobs", "list"],
                                     ["batch", "EAR-SAVER", "--quantity", "3", "--plan"], ["profiles", "list"]])
def test_a_broken_configuration_is_one_error_line_for_every_command(cli, hospfab_home, command):
    path = _write(hospfab_home, "bogus: 1\n")
    out = cli(*command)
    assert out.exit_code == 2, out.stdout
    assert out.stderr.strip() == f"Error: {path}: unknown key 'bogus' (known keys: version, site, catalog, " \
        "catalog_repository, fleet, database, trust_store, site_profiles, alerts)"


def test_trust_store_option_beats_the_environment_and_is_the_store_used(cli, hospfab_home, tmp_path):
    from hospfab.catalog.signing import generate_key_pair

    _key, public, _ = generate_key_pair("alice", tmp_path / "keys")
    from_env, from_flag = tmp_path / "env-trust.yaml", tmp_path / "flag-trust.yaml"
    env = {"HOSPFAB_TRUST_STORE": str(from_env)}
    shown = _shown(cli, "--trust-store", from_flag, env=env)
    assert shown["trust_store"] == {"value": str(from_flag), "source": "--trust-store"}
    out = cli("keys", "trust", public, "--name", "Alice", "--role", "biomedical engineer", "--trust-store", from_flag,
              env=env)
    assert out.exit_code == 0, out.stderr
    assert from_flag.is_file() and not from_env.exists()
    listed = cli("keys", "list", "--json", "--trust-store", from_flag, env=env)
    assert [k["name"] for k in listed.json()["data"]["keys"]] == ["Alice"]
    assert cli("keys", "list", "--json", env=env).json()["data"]["keys"] == []
