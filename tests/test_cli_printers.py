"""`hospfab printers`: status over real OctoPrint servers, add/remove/load editing the fleet file, spool changes
in the journal (`printers history`)."""

from __future__ import annotations

import getpass

import pytest
import yaml

from hospfab.octoprint.localserver import free_port


def add_args(name, url, env="HOSPFAB_KEY_A", *extra):
    return ("printers", "add", name, "--url", url, "--api-key-env", env, "--profile", "virtual-test",
            "--material", "pla", *extra)


def test_empty_fleet_gives_a_hint(cli, hospfab_home):
    out = cli("printers")
    assert out.exit_code == 0
    text = " ".join(out.stdout.split())  # the hint wraps at the terminal width, wherever the path ends
    assert "no fleet file at" in text and "hospfab printers add" in text
    doc = cli("printers", "status", "--json").json()
    assert doc["ok"] and doc["data"]["printers"] == [] and "no fleet file" in doc["data"]["hint"]


def test_add_load_remove_edit_the_fleet_file(cli, hospfab_home):
    out = cli(*add_args("mk4-01", "http://127.0.0.1:5000", "HOSPFAB_KEY_A", "--lot", "L-1", "--site", "icu",
                        "--tag", "ward-3", "--tag", "spare"), "--json")
    assert out.exit_code == 0, out.stdout
    fleet_file = hospfab_home / "fleet.yaml"
    saved = yaml.safe_load(fleet_file.read_text())["printers"][0]
    assert saved == {"name": "mk4-01", "url": "http://127.0.0.1:5000", "api_key_env": "HOSPFAB_KEY_A",
                     "profile": "virtual-test", "material": "pla", "material_lot": "L-1", "site": "icu",
                     "tags": ["ward-3", "spare"], "bed_clearing": "manual"}

    dup = cli(*add_args("mk4-01", "http://127.0.0.1:5000"))
    assert dup.exit_code == 2 and "Error: printer mk4-01: already in the fleet file" in dup.stderr

    doc = cli("printers", "load", "mk4-01", "--material", "petg", "--lot", "L-2", "--json").json()
    assert doc["ok"] and doc["data"]["before"] == {"material": "pla", "material_lot": "L-1"}
    assert doc["data"]["after"] == {"material": "petg", "material_lot": "L-2"}
    saved = yaml.safe_load(fleet_file.read_text())["printers"][0]
    assert (saved["material"], saved["material_lot"]) == ("petg", "L-2")

    unknown = cli("printers", "load", "mk4-01", "--material", "unobtainium", "--lot", "X")
    assert unknown.exit_code == 2 and "material profile unobtainium" in unknown.stderr

    assert cli("printers", "remove", "mk4-01").exit_code == 0
    assert yaml.safe_load(fleet_file.read_text())["printers"] == []
    gone = cli("printers", "remove", "mk4-01")
    assert gone.exit_code == 2 and "printer mk4-01: not in the fleet file" in gone.stderr


def test_load_records_every_spool_change_in_the_journal(cli, hospfab_home, monkeypatch):
    from hospfab.journal import Journal

    assert cli(*add_args("mk4-01", "http://127.0.0.1:5000", "HOSPFAB_KEY_A", "--lot", "L-1")).exit_code == 0
    monkeypatch.setenv("HOSPFAB_OPERATOR", "Night Tech")
    doc = cli("printers", "load", "mk4-01", "--material", "petg", "--lot", "L-2", "--json").json()
    assert doc["ok"] and doc["data"]["load"]["operator"] == "Night Tech"
    out = cli("printers", "load", "mk4-01", "--material", "pla", "--lot", " L-3 ", "--operator", "A. Martin")
    assert out.exit_code == 0 and "by A. Martin" in out.stdout
    monkeypatch.delenv("HOSPFAB_OPERATOR")
    assert cli("printers", "load", "mk4-01", "--material", "pla", "--lot", "L-4").exit_code == 0
    refused = cli("printers", "load", "mk4-01", "--material", "unobtainium", "--lot", "X")
    assert refused.exit_code == 2  # refused changes are not recorded
    assert cli("printers", "load", "ghost", "--material", "pla", "--lot", "X").exit_code == 2

    with Journal(hospfab_home / "journal.sqlite3") as journal:
        loads = journal.material_loads("mk4-01", newest_first=False)
    assert [(m.material, m.lot, m.operator) for m in loads] == [
        ("petg", "L-2", "Night Tech"), ("pla", "L-3", "A. Martin"), ("pla", "L-4", getpass.getuser())]
    history = cli("printers", "history", "mk4-01", "--json").json()["data"]
    assert [m["lot"] for m in history["material_loads"]] == ["L-4", "L-3", "L-2"]
    assert history["material_loads"][0]["at"] == loads[-1].at
    table = cli("printers", "history", "mk4-01")
    assert table.exit_code == 0 and "3 spool change(s) on mk4-01" in table.stdout and "Night Tech" in table.stdout
    assert cli("printers", "history", "other", "--json").json()["data"]["material_loads"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (add_args("p1", "ftp://host"), "--url: must be an http:// or https:// URL"),
        (("printers", "add", "p1", "--url", "http://h", "--profile", "virtual-test", "--material", "pla"),
         "give exactly one of --api-key-env or --api-key-file"),
        (add_args("p1", "http://h", "HOSPFAB_KEY_A", "--bed-clearing", "robot"), "--bed-clearing"),
        (("printers", "add", "p1", "--url", "http://h", "--api-key-env", "K", "--profile", "nope",
          "--material", "pla"), "printer profile nope: not in"),
    ],
)
def test_add_refuses_bad_input_in_one_line(cli, hospfab_home, args, message):
    out = cli(*args)
    assert out.exit_code == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stdout + out.stderr
    assert not (hospfab_home / "fleet.yaml").exists()


def test_broken_fleet_file_is_a_config_error(cli, hospfab_home):
    (hospfab_home / "fleet.yaml").write_text("printers:\n  - name: a\n    url: http://h\n    material: [\n")
    out = cli("printers", "--json")
    doc = out.json()
    assert out.exit_code == 2 and doc["errors"][0]["code"] == "invalid_config"
    assert "fleet.yaml" in doc["errors"][0]["message"]


@pytest.mark.octoprint
def test_status_over_real_printers(cli, hospfab_home, octoprint_server_factory, monkeypatch):
    a, b = octoprint_server_factory(2)
    bad_key = "BAD-KEY-7f3e9a"
    monkeypatch.setenv("HOSPFAB_KEY_A", a.api_key)
    monkeypatch.setenv("HOSPFAB_KEY_B", b.api_key)
    assert cli(*add_args("alpha", a.url, "HOSPFAB_KEY_A", "--site", "icu"), "--check").exit_code == 0
    assert cli(*add_args("beta", b.url, "HOSPFAB_KEY_B", "--lot", "LOT-9")).exit_code == 0

    out = cli("printers")
    assert out.exit_code == 0, out.stderr
    assert "alpha" in out.stdout and "beta" in out.stdout and "Operational" in out.stdout
    assert "LOT-9" in out.stdout and out.stderr == ""
    doc = cli("printers", "status", "--json").json()
    assert doc["ok"] and [p["state"] for p in doc["data"]["printers"]] == ["operational", "operational"]

    # one printer down, one with a refused key: the others still answer, exit 3, the key never shown
    monkeypatch.setenv("HOSPFAB_KEY_BAD", bad_key)
    assert cli(*add_args("gamma", f"http://127.0.0.1:{free_port()}")).exit_code == 0
    assert cli(*add_args("delta", b.url, "HOSPFAB_KEY_BAD")).exit_code == 0
    out = cli("printers", "status", "--timeout", "3")
    assert out.exit_code == 3
    assert "unreachable" in out.stdout and "key refused" in out.stdout and "Operational" in out.stdout
    assert "Error: printer gamma: cannot reach" in out.stderr
    assert "Error: printer delta: the API key was refused" in out.stderr
    doc = cli("printers", "--json").json()
    assert doc["exit_code"] == 3
    states = {p["name"]: p["state"] for p in doc["data"]["printers"]}
    assert states == {"alpha": "operational", "beta": "operational", "gamma": "unreachable", "delta": "unreachable"}
    assert {e["code"] for e in doc["errors"]} == {"printer_unreachable", "printer_auth_refused"}
    for text in (out.stdout, out.stderr, str(doc), (hospfab_home / "fleet.yaml").read_text()):
        assert bad_key not in text and a.api_key not in text and b.api_key not in text


@pytest.mark.octoprint
def test_add_check_refuses_an_unreachable_printer(cli, hospfab_home, monkeypatch):
    monkeypatch.setenv("HOSPFAB_KEY_A", "whatever")
    out = cli(*add_args("ghost", f"http://127.0.0.1:{free_port()}"), "--check")
    assert out.exit_code == 3 and "Error: printer ghost: cannot reach" in out.stderr
    assert not (hospfab_home / "fleet.yaml").exists()
