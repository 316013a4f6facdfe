"""The validation gate: every reason a draft revision may not be validated, listed together.

Refused: a recipe for a test-only printer profile; empty intended use, intended users or licence in
``part.yaml``; acceptance criteria without a surface tolerance or a named dimension (or with free-text
dimensions); no sampling plan; a model changed since the revision was made or failing the mesh check; no
recipe; a recipe whose build file is missing, differs from its sha256 or fails the G-code check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hospfab.catalog.files import sha256_file
from hospfab.errors import CheckFailed, HospfabError

if TYPE_CHECKING:
    from hospfab.catalog.model import PartMeta
    from hospfab.catalog.store import Catalog, Revision


def profile_test_only(checks: object, printer: str) -> bool:
    """Whether ``printer`` is a test-only profile. A checks object that cannot say is taken as test-only."""
    probe = getattr(checks, "profile_test_only", None)
    if probe is None:
        return True
    return bool(probe(printer))


def reasons(catalog: Catalog, revision: Revision, part_meta: PartMeta, *, free_text_ok: bool = False) -> list[str]:
    """Every reason ``revision`` may not be validated. ``free_text_ok``: old free-text acceptance dimensions
    count as criteria (re-signing an old-format revision)."""
    out: list[str] = []
    part_file = catalog.part_dir(revision.ref) / "part.yaml"
    for field in ("intended_use", "intended_users", "licence"):
        if not getattr(part_meta, field):
            out.append(f"{part_file}: {field} is empty")
    meta = revision.meta
    criteria = revision.acceptance_criteria
    if criteria.surface_tolerance_mm is None and not criteria.dimensions and not (free_text_ok and criteria.free_text):
        out.append(f"{revision.spec}: acceptance criteria are empty (give acceptance.surface_tolerance_mm or "
                   f"named acceptance.dimensions)")
    if criteria.free_text and not free_text_ok:
        out.append(f"{revision.spec}: acceptance.dimensions has free text ({criteria.free_text[0]!r}); give "
                   f"name, nominal_mm and tolerance_mm")
    if meta.sampling is None:
        out.append(f"{revision.spec}: no sampling plan (sampling: lot_size, sample_size, method)")
    if not revision.model_file.is_file() or sha256_file(revision.model_file) != meta.model.sha256:
        out.append(f"{revision.model_file}: changed or missing since the revision was made; revise instead")
    else:
        ok, _report = catalog.checks.mesh(revision.model_file)
        if not ok:
            out.append(f"{revision.model_file}: mesh check fails")
    if not revision.recipes:
        out.append(f"{revision.spec} has no recipe; run `hospfab catalog build {revision.spec} --printer P "
                   f"--material M` first")
    for recipe in revision.recipes:
        label = f"{recipe.printer}/{recipe.material}/{recipe.process}"
        if profile_test_only(catalog.checks, recipe.printer):
            out.append(f"recipe {label}: printer profile {recipe.printer} is test-only; remove the recipe "
                       f"(revise) or build for a real printer")
        if not recipe.build_file.is_file():
            out.append(f"{recipe.build_file}: build file missing for {label}")
            continue
        if sha256_file(recipe.build_file) != recipe.sha256:
            out.append(f"{recipe.build_file}: sha256 differs from its recipe; build it again")
            continue
        try:
            ok, report = catalog.checks.gcode(recipe.build_file, recipe.printer, recipe.material)
        except HospfabError as err:
            out.append(f"{recipe.build_file}: G-code check could not run: {err.message}")
            continue
        if not ok:
            errors = report.get("errors") or []
            first = errors[0] if errors else "see `hospfab gcode check`"
            first = first.get("message", first) if isinstance(first, dict) else first
            out.append(f"{recipe.build_file}: G-code check fails for {label}: {first}")
    return out


def require(catalog: Catalog, revision: Revision, part_meta: PartMeta) -> None:
    found = reasons(catalog, revision, part_meta)
    if found:
        raise CheckFailed(f"{revision.spec} cannot be validated: " + "; ".join(found),
                          code="validation_refused", details={"reasons": found})
