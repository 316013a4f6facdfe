"""Writing the catalog: new reference, new revision, recipes (build). Signing (validate, co-sign, retire) is
in :mod:`hospfab.catalog.signoff`, migration from the old format in :mod:`hospfab.catalog.migrate`.

Safety rules enforced here: only a draft revision can change; a validated revision is never touched except
by adding signed records. New references and revisions are assembled in a hidden staging folder and renamed
into place; single files are written atomically.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hospfab.catalog import manifest as mf
from hospfab.catalog.files import CATALOG_FILE_MODE, sha256_file, write_json, write_yaml
from hospfab.catalog.model import ModelFile, PartMeta, RecipeMeta, RevisionMeta, check_ref
from hospfab.catalog.paths import safe_path
from hospfab.catalog.store import PART_FILE, REVISION_FILE, Catalog, Revision, parse_spec
from hospfab.errors import CheckFailed, ConfigError, InputError, SafetyError
from hospfab.fileio import atomic_path

PART_FIELDS = set(PartMeta.model_fields) - {"format", "ref", "title", "model_script"}
REVISION_FIELDS = {"post_processing", "cleaning", "acceptance", "sampling"}
RESERVED = {PART_FILE, REVISION_FILE, mf.MANIFEST_NAME, mf.VALIDATION_NAME, mf.RETIREMENT_NAME,
            mf.SIGNATURES_DIR, "model.stl", "mesh-check.json", "mesh-check.png", "preview.png", "build"}


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(timezone.utc)).replace(microsecond=0)


def _split_meta(meta: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    meta = dict(meta or {})
    unknown = set(meta) - PART_FIELDS - REVISION_FIELDS
    if unknown:
        raise ConfigError(f"unknown metadata keys: {', '.join(sorted(unknown))} "
                          f"(allowed: {', '.join(sorted(PART_FIELDS | REVISION_FIELDS))})")
    return ({k: v for k, v in meta.items() if k in PART_FIELDS},
            {k: v for k, v in meta.items() if k in REVISION_FIELDS})


def _stl(model: Path) -> Path:
    if not model.is_file():
        raise InputError(f"{model}: model file not found")
    if model.suffix.lower() != ".stl":
        raise InputError(f"{model}: the model must be an STL file (millimetres)")
    return model


def _fill_revision(folder: Path, catalog: Catalog, *, ref: str, rev: int, model: Path, source: Path | None,
                   changelog: str, supersedes: int | None, instructions: dict[str, Any], now: datetime) -> RevisionMeta:
    """Populate a staging revision folder: STL, mesh report, source, preview, revision.yaml."""
    from hospfab.catalog.preview import render_preview

    shutil.copyfile(model, folder / "model.stl")
    ok, report = catalog.checks.mesh(folder / "model.stl")
    if isinstance(report, dict) and "path" in report:
        report = {**report, "path": "model.stl"}  # relative: the report travels with the revision
    write_json(folder / "mesh-check.json", report)
    source_name = None
    if source is not None:
        if not source.is_file():
            raise InputError(f"{source}: parametric source not found")
        source_name = source.name
        if source_name in RESERVED:
            raise InputError(f"{source}: the source file name {source_name!r} is reserved in a revision folder")
        shutil.copyfile(source, folder / source_name)
    render_preview(folder / "model.stl", folder / "preview.png")
    if isinstance(report, dict) and report.get("findings"):  # what the mesh check found, in a picture
        from hospfab.mesh.picture import picture_file

        picture_file(folder / "model.stl", folder / "mesh-check.png")
    try:
        meta = RevisionMeta(
            ref=ref, rev=rev, status="draft", created_at=now, changelog=changelog, supersedes=supersedes,
            model=ModelFile(sha256=sha256_file(folder / "model.stl"), source=source_name, mesh_ok=ok),
            **instructions,
        )
    except ValueError as err:
        raise ConfigError(f"invalid revision metadata for {ref}@{rev}: {err}") from None
    write_yaml(folder / REVISION_FILE, meta)
    return meta


def _staging(parent: Path, name: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.staging-"))
    staging.chmod(0o755)
    return staging


def _commit_dir(staging: Path, target: Path) -> None:
    try:
        os.rename(staging, target)  # fails if target exists: two writers cannot both create it
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(f"{target}: already exists") from None


def new(catalog: Catalog, ref: str, title: str, model: Path, *, meta: dict[str, Any] | None = None,
        source: Path | None = None, model_script: Path | None = None, changelog: str = "First revision.",
        now: datetime | None = None) -> Revision:
    """Create reference ``ref`` with draft revision 1 from ``model`` (the mesh check runs and is stored)."""
    try:
        check_ref(ref)
    except ValueError as err:
        raise InputError(str(err)) from None
    _stl(model)
    part_fields, instructions = _split_meta(meta)
    catalog.root.mkdir(parents=True, exist_ok=True)
    target = catalog.root / ref
    if target.exists():
        raise InputError(f"{target}: reference {ref} already exists; use `hospfab catalog revise {ref}`")
    staging = _staging(catalog.root, ref)
    try:
        script_name = None
        if model_script is not None:
            if not model_script.is_file():
                raise InputError(f"{model_script}: model script not found")
            script_name = model_script.name
            shutil.copyfile(model_script, staging / script_name)
        try:
            part = PartMeta(ref=ref, title=title, model_script=script_name, **part_fields)
        except ValueError as err:
            raise ConfigError(f"invalid part metadata for {ref}: {err}") from None
        write_yaml(staging / PART_FILE, part)
        rev_dir = staging / "rev-1"
        rev_dir.mkdir()
        _fill_revision(rev_dir, catalog, ref=ref, rev=1, model=model, source=source, changelog=changelog,
                       supersedes=None, instructions=instructions, now=_now(now))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _commit_dir(staging, target)
    return catalog.revision(ref, 1)


def revise(catalog: Catalog, ref: str, changelog: str, model: Path | None = None, *,
           source: Path | None = None, meta: dict[str, Any] | None = None, now: datetime | None = None) -> Revision:
    """Make draft revision N+1 of ``ref``: a new model (or the latest one again), instructions carried over
    from the latest revision and overridden by ``meta``; recipes must be built again."""
    part = catalog.get(ref)
    if not changelog.strip():
        raise InputError(f"{ref}: a new revision needs a changelog (--changelog)")
    base = part.latest
    if base is None:
        raise InputError(f"{ref}: has no revision to revise")
    part_fields, overrides = _split_meta(meta)
    if part_fields:
        raise InputError(f"{ref}: {', '.join(sorted(part_fields))} belong to part.yaml, not to a revision")
    if model is None:
        model = base.model_file
        if source is None and base.meta.model.source:
            source = base.path / base.meta.model.source
    _stl(model)
    instructions = base.meta.model_dump(include=REVISION_FIELDS)
    instructions.update(overrides)
    latest_valid = part.latest_validated
    rev = base.rev + 1
    staging = _staging(part.path, f"rev-{rev}")
    try:
        _fill_revision(staging, catalog, ref=ref, rev=rev, model=model, source=source, changelog=changelog,
                       supersedes=latest_valid.rev if latest_valid else base.rev, instructions=instructions,
                       now=_now(now))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _commit_dir(staging, part.path / f"rev-{rev}")
    return catalog.revision(ref, rev)


def _draft(catalog: Catalog, spec: str) -> Revision:
    ref, rev = parse_spec(spec)
    if rev is None:
        raise InputError(f"{spec}: name the revision explicitly (e.g. {ref}@2)")
    revision = catalog.revision(ref, rev)
    if revision.status != "draft" or revision.meta.status != "draft":
        raise SafetyError(f"{revision.path}: {revision.spec} is {revision.status} and immutable; "
                          f"make a new revision with `hospfab catalog revise {ref}`", code="immutable")
    return revision


def _recipe_name(printer: str, material: str, process: str) -> str:
    import re

    name = f"{printer}_{material}_{process}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name) + ".gcode"


def _test_only(catalog: Catalog, printer: str) -> bool | None:
    from hospfab.catalog.gate import profile_test_only

    return True if profile_test_only(catalog.checks, printer) else None


def _record_recipe(catalog: Catalog, revision: Revision, recipe: RecipeMeta) -> Revision:
    recipes = [r for r in revision.meta.recipes
               if (r.printer, r.material, r.process) != (recipe.printer, recipe.material, recipe.process)]
    recipes.append(recipe)
    write_yaml(revision.path / REVISION_FILE, revision.meta.model_copy(update={"recipes": recipes}))
    return catalog.revision(revision.ref, revision.rev)


def add_recipe(catalog: Catalog, spec: str, gcode: Path, *, printer: str, material: str, process: str,
               copies: int = 1, slicer: str = "", layers: int | None = None,
               estimates: dict[str, Any] | None = None, now: datetime | None = None) -> Revision:
    """Record an existing G-code file (made by `hospfab slice`) as a recipe of a draft revision."""
    revision = _draft(catalog, spec)
    if not gcode.is_file():
        raise InputError(f"{gcode}: G-code file not found")
    build = revision.path / "build"
    build.mkdir(exist_ok=True)
    target = safe_path(revision.path, f"build/{_recipe_name(printer, material, process)}",
                       owner=revision.path / REVISION_FILE)
    with atomic_path(target, mode=CATALOG_FILE_MODE) as tmp:
        shutil.copyfile(gcode, tmp)
    ok, _report = catalog.checks.gcode(target, printer, material)
    recipe = RecipeMeta(printer=printer, material=material, process=process,
                        build_file=target.relative_to(revision.path).as_posix(), sha256=sha256_file(target),
                        copies=copies, slicer=slicer, layers=layers, estimates=estimates or {},
                        gcode_check_ok=ok, built_at=_now(now), test_only=_test_only(catalog, printer))
    return _record_recipe(catalog, revision, recipe)


def build(catalog: Catalog, spec: str, printer: str, material: str, process: str, *, copies: int = 1,
          force: bool = False, now: datetime | None = None) -> Revision:
    """Slice the draft's STL for printer + material + process into ``build/`` and record the recipe."""
    revision = _draft(catalog, spec)
    if not revision.meta.model.mesh_ok and not force:
        raise CheckFailed(f"{revision.model_file}: the mesh check failed for {revision.spec}; fix the model "
                          f"and `hospfab catalog revise {revision.ref} --model FIXED.stl`")
    build_dir = revision.path / "build"
    build_dir.mkdir(exist_ok=True)
    target = build_dir / _recipe_name(printer, material, process)
    with atomic_path(target, mode=CATALOG_FILE_MODE) as tmp:
        outcome = catalog.checks.slice(revision.model_file, printer, material, process, copies, tmp, force=force)
    ok, _report = catalog.checks.gcode(target, printer, material)
    recipe = RecipeMeta(printer=printer, material=material, process=process,
                        build_file=target.relative_to(revision.path).as_posix(), sha256=sha256_file(target),
                        copies=outcome.copies, slicer=outcome.slicer, layers=outcome.layers,
                        estimates=outcome.estimates, gcode_check_ok=ok, built_at=_now(now),
                        test_only=_test_only(catalog, printer))
    return _record_recipe(catalog, revision, recipe)
