"""The print path's decisions that need no printer, pinned at their boundaries: which recipe a printer may
take (profile, test-only recipes, material), how every refusal is worded, and the staged build file's hash
check. Each test fails when one comparison or branch of ``hospfab.printing.choose`` or ``hospfab.printing.send``
is changed (found by mutation testing, ``make mutation``). The paths that talk to OctoPrint are tested with real
servers in test_print.py and test_faults_print.py."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hospfab.errors import IntegrityError
from hospfab.printing import choose, send


@dataclass
class Recipe:
    printer: str
    material: str
    test_only: bool = False
    build_file: Path = Path("build/x.gcode")
    sha256: str = ""


@dataclass
class Revision:
    recipes: list
    ref: str = "EAR-SAVER"
    rev: int = 2

    @property
    def spec(self) -> str:
        return f"{self.ref}@{self.rev}"


@dataclass
class Printer:
    name: str = "mk4-a"
    profile: str = "prusa-mk4"
    material: str = "petg"
    test_printer: bool = False
    url: str = "http://127.0.0.1:5000"
    material_lot: str | None = "LOT-1"
    bed_clearing: str = "manual"
    extra: dict = field(default_factory=dict)


def test_no_recipe_for_the_profile_names_the_recipes_there_are():
    rev = Revision([Recipe("prusa-mini", "pla"), Recipe("ender-3", "pla"), Recipe("prusa-mini", "petg")])
    assert choose._static_reason(Printer(), rev) == (
        None, "no recipe for profile prusa-mk4 in EAR-SAVER@2 (recipes: ender-3, prusa-mini)")
    assert choose._static_reason(Printer(), Revision([])) == (
        None, "no recipe for profile prusa-mk4 in EAR-SAVER@2 (recipes: none)")


def test_matching_material_is_chosen_among_recipes():
    pla, petg = Recipe("prusa-mk4", "pla"), Recipe("prusa-mk4", "petg")
    assert choose._static_reason(Printer(), Revision([pla, petg])) == (petg, None)
    assert choose._static_reason(Printer(material="abs"), Revision([petg, pla])) == (
        None, "material abs loaded, the recipe needs petg/pla")


def test_test_only_recipes_only_on_test_printers():
    test_recipe = Recipe("prusa-mk4", "petg", test_only=True)
    real = Recipe("prusa-mk4", "petg")
    assert choose._static_reason(Printer(), Revision([test_recipe])) == (
        None, "the recipe for prusa-mk4 is for a test-only profile: only a fleet printer marked test_printer "
              "may print it")
    assert choose._static_reason(Printer(test_printer=True), Revision([test_recipe])) == (test_recipe, None)
    assert choose._static_reason(Printer(), Revision([test_recipe, real])) == (real, None)
    # a real printer never falls back to the test-only recipe's material
    assert choose._static_reason(Printer(material="pla"),
                                 Revision([Recipe("prusa-mk4", "pla", test_only=True), real])) == (
        None, "material pla loaded, the recipe needs petg")


def test_objects_without_the_flags_are_real_printers_and_real_recipes():
    @dataclass
    class Plain:
        printer: str
        material: str

    class Bare:
        name, profile, material = "p", "prusa-mk4", "petg"

    recipe = Plain("prusa-mk4", "petg")
    assert choose._static_reason(Bare(), Revision([recipe])) == (recipe, None)
    # a printer that does not say it is a test printer is not one
    assert choose._static_reason(Bare(), Revision([Recipe("prusa-mk4", "petg", test_only=True)]))[0] is None


def test_assessment_eligibility_and_rendering():
    ok = choose.Assessment(Printer(), recipe="r", state="Operational")
    refused = choose.Assessment(Printer(name="mini"), reason="busy: Printing", state="Printing")
    assert ok.eligible and not refused.eligible
    assert ok.as_dict() == {"printer": "mk4-a", "profile": "prusa-mk4", "material": "petg", "state": "Operational",
                            "eligible": True, "reason": None}
    assert refused.as_dict()["eligible"] is False and refused.as_dict()["reason"] == "busy: Printing"
    err = choose.no_printer_error("EAR-SAVER@2", [refused, choose.Assessment(Printer(name="b"), reason="x")])
    assert err.message == "no printer can take EAR-SAVER@2: mini: busy: Printing; b: x"
    assert err.code == "no_printer_available" and err.exit_code == 3
    assert [p["printer"] for p in err.details["printers"]] == ["mini", "b"]
    assert choose.no_printer_error("A@1", []).message == "no printer can take A@1: the fleet has no printers"


def test_assess_printers_without_a_static_match_asks_no_printer(tmp_path):
    from hospfab.journal import Journal

    class Unreachable(Printer):
        def client(self, **kwargs):
            raise AssertionError("a printer without a matching recipe must not be asked")

    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        verdicts = choose.assess_printers(journal, [Unreachable(material="abs")],
                                          Revision([Recipe("prusa-mk4", "petg")]))
    finally:
        journal.close()
    assert [v.reason for v in verdicts] == ["material abs loaded, the recipe needs petg"]
    assert verdicts[0].printer.material == "abs" and verdicts[0].recipe is None and verdicts[0].state is None


# -- send: the staged file and the job -------------------------------------------------------------------

def test_stage_build_file_copies_and_checks_the_hash(tmp_path):
    data = b"G28\n" * (300_000)  # more than one 1 MiB block
    source = tmp_path / "a.gcode"
    source.write_bytes(data)
    (tmp_path / "stage").mkdir()
    recipe = Recipe("p", "m", build_file=source, sha256=hashlib.sha256(data).hexdigest())
    staged = send.stage_build_file(recipe, tmp_path / "stage")
    assert staged == tmp_path / "stage" / "a.gcode" and staged.read_bytes() == data
    recipe.sha256 = hashlib.sha256(data[:-1]).hexdigest()
    with pytest.raises(IntegrityError, match="a.gcode: sha256 differs from the validated recipe; refused"):
        send.stage_build_file(recipe, tmp_path / "stage")
    recipe.build_file = tmp_path / "missing.gcode"
    with pytest.raises(IntegrityError, match="missing.gcode: build file missing"):
        send.stage_build_file(recipe, tmp_path / "stage")
    recipe.build_file = tmp_path
    with pytest.raises(IntegrityError, match="build file unreadable"):
        send.stage_build_file(recipe, tmp_path / "stage")


def test_remote_name_and_new_job(monkeypatch):
    rev = Revision([])
    assert send.remote_name(rev, "abc123") == "EAR-SAVER-r2-abc123.gcode"
    recipe = Recipe("prusa-mk4", "petg", build_file=Path("/cat/rev-2/build/x.gcode"), sha256="s" * 64)
    verdict = choose.Assessment(Printer(), recipe=recipe)
    monkeypatch.setenv("HOSPFAB_OPERATOR", "night-nurse")
    job = send._new_job(rev, verdict.printer, recipe, send.PrintOptions(), {"allow_draft": True})
    assert (job.ref, job.revision, job.build_file, job.sha256) == ("EAR-SAVER", 2, "x.gcode", "s" * 64)
    assert (job.printer, job.printer_url, job.printer_profile, job.material) == (
        "mk4-a", "http://127.0.0.1:5000", "prusa-mk4", "petg")
    assert job.material_lot == "LOT-1" and job.operator == "night-nurse" and job.outcome == "uploading"
    assert job.overrides == {"allow_draft": True} and job.remote_file == f"EAR-SAVER-r2-{job.id}.gcode"
    job = send._new_job(rev, verdict.printer, recipe, send.PrintOptions(material_lot="LOT-9", operator="day"), {})
    assert job.material_lot == "LOT-9" and job.operator == "day" and job.overrides == {}
    monkeypatch.delenv("HOSPFAB_OPERATOR")
    import getpass

    assert send.default_operator() == getpass.getuser()


def test_assess_printers_asks_only_the_static_matches_and_keeps_their_answers(tmp_path):
    """Two printers pass the static checks and are asked (nothing listens on their ports: a real connection
    refusal); the third never is. Each live answer lands on its own printer, in fleet order."""
    import socket

    from hospfab.journal import Journal
    from hospfab.octoprint.client import OctoPrintClient

    def closed_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    class Real(Printer):
        def client(self, **kwargs):
            return OctoPrintClient(self.url, "0123456789abcdef0123", name=self.name, **kwargs)

    a = Real(name="a", url=f"http://127.0.0.1:{closed_port()}", bed_clearing="auto")
    b = Real(name="b", material="abs")
    c = Real(name="c", url=f"http://127.0.0.1:{closed_port()}", bed_clearing="auto")
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        verdicts = choose.assess_printers(journal, [a, b, c], Revision([Recipe("prusa-mk4", "petg")]))
    finally:
        journal.close()
    assert [v.printer.name for v in verdicts] == ["a", "b", "c"]
    assert [v.state for v in verdicts] == ["unreachable", None, "unreachable"]
    assert all(v.recipe is None and not v.eligible for v in verdicts)
    assert str(a.url.rsplit(":", 1)[1]) in verdicts[0].reason and str(c.url.rsplit(":", 1)[1]) in verdicts[2].reason
    assert verdicts[1].reason == "material abs loaded, the recipe needs petg"
