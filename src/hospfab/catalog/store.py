"""Reading the catalog: parts, revisions, recipes, ``resolve("REF[@REV]")``, verification and diffs.

The lifecycle (new, revise, build, validate, retire) lives in :mod:`hospfab.catalog.lifecycle`; the
:class:`Catalog` methods of the same names delegate to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hospfab.catalog import manifest as mf
from hospfab.catalog.files import load_model
from hospfab.catalog.model import PartMeta, RetirementRecord, RevisionMeta, ValidationRecord, check_ref
from hospfab.catalog.paths import PathRefused, safe_path
from hospfab.catalog.signing import trusted_keys, verify_signature
from hospfab.errors import ConfigError, InputError, IntegrityError, NotFoundError, SafetyError

PART_FILE = "part.yaml"
REVISION_FILE = "revision.yaml"
REV_DIR = re.compile(r"^rev-([1-9][0-9]*)$")
SPEC = re.compile(r"^(?P<ref>[^@\s]+)(?:@(?P<rev>\S+))?$")


@dataclass(frozen=True)
class Recipe:
    """A validated way to print a revision. ``build_file`` is the absolute path of the locked G-code."""

    printer: str
    material: str
    process: str
    build_file: Path
    sha256: str
    copies: int
    slicer: str
    layers: int | None
    estimates: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "printer": self.printer, "material": self.material, "process": self.process,
            "build_file": str(self.build_file), "sha256": self.sha256, "copies": self.copies,
            "slicer": self.slicer, "layers": self.layers, "estimates": self.estimates,
        }


@dataclass
class Revision:
    ref: str
    rev: int
    status: str  # 'draft' | 'validated' | 'retired'
    path: Path
    meta: RevisionMeta
    recipes: list[Recipe]
    model_file: Path
    preview: Path | None
    validation: ValidationRecord | None = None
    retirement: RetirementRecord | None = None

    @property
    def spec(self) -> str:
        return f"{self.ref}@{self.rev}"

    @property
    def printable(self) -> bool:
        return self.status == "validated"

    def recipe_for(self, printer: str, material: str | None = None) -> Recipe | None:
        for recipe in self.recipes:
            if recipe.printer == printer and (material is None or recipe.material == material):
                return recipe
        return None

    def to_dict(self) -> dict[str, Any]:
        meta = self.meta.model_dump(mode="json", exclude={"recipes"})
        meta.update(
            status=self.status, path=str(self.path), model_file=str(self.model_file),
            preview=str(self.preview) if self.preview else None,
            recipes=[r.to_dict() for r in self.recipes],
            validation=self.validation.model_dump(mode="json") if self.validation else None,
            retirement=self.retirement.model_dump(mode="json") if self.retirement else None,
        )
        return meta


@dataclass
class Part:
    ref: str
    path: Path
    meta: PartMeta
    revisions: list[Revision] = field(default_factory=list)

    @property
    def latest_validated(self) -> Revision | None:
        valid = [r for r in self.revisions if r.status == "validated"]
        return valid[-1] if valid else None

    @property
    def latest(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    def summary(self) -> dict[str, Any]:
        latest = self.latest_validated
        return {
            "ref": self.ref,
            "title": self.meta.title,
            "category": self.meta.category,
            "latest_validated": latest.rev if latest else None,
            "status": latest.status if latest else (self.latest.status if self.latest else "empty"),
            "printers": sorted({r.printer for r in latest.recipes}) if latest else [],
            "materials": sorted({r.material for r in latest.recipes}) if latest else [],
            "revisions": [
                {"rev": r.rev, "status": r.status, "created_at": r.meta.created_at.isoformat(),
                 "recipes": len(r.recipes)}
                for r in self.revisions
            ],
        }


def parse_spec(spec: str) -> tuple[str, int | None]:
    """``"REF"`` -> (REF, None); ``"REF@3"`` -> (REF, 3)."""
    match = SPEC.match(spec.strip()) if isinstance(spec, str) else None
    if not match:
        raise InputError(f"invalid part spec {spec!r}: expected REF or REF@REV (e.g. EAR-SAVER@2)")
    try:
        ref = check_ref(match["ref"])
    except ValueError as err:
        raise InputError(str(err)) from None
    rev = match["rev"]
    if rev is None:
        return ref, None
    if not rev.isdigit() or int(rev) < 1:
        raise InputError(f"invalid revision in {spec!r}: expected a positive number after '@'")
    return ref, int(rev)


class Catalog:
    """A catalog folder. Every read goes to disk: no cached state to go stale."""

    def __init__(self, root: Path | str, *, checks: Any = None) -> None:
        self.root = Path(root)
        self.keys_dir = self.root / "keys"
        self._checks = checks

    @property
    def checks(self):
        if self._checks is None:
            from hospfab.catalog.checks import RealChecks

            self._checks = RealChecks()
        return self._checks

    # ---- reading -------------------------------------------------------------------------------------

    def _require_root(self) -> None:
        if not self.root.is_dir():
            raise NotFoundError(f"{self.root}: catalog folder not found (set --catalog or HOSPFAB_CATALOG)")

    def refs(self) -> list[str]:
        self._require_root()
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and (p / PART_FILE).exists() and p.name != "keys"
        )

    def part_dir(self, ref: str) -> Path:
        try:
            check_ref(ref)
        except ValueError as err:
            raise InputError(str(err)) from None
        return self.root / ref

    def get(self, ref: str) -> Part:
        self._require_root()
        folder = self.part_dir(ref)
        part_file = folder / PART_FILE
        if folder.is_symlink():
            raise PathRefused(f"{folder}: symbolic link refused in the catalog")
        if not part_file.is_file():
            raise NotFoundError(f"reference {ref} not found in catalog {self.root}")
        meta = load_model(part_file, PartMeta)
        if meta.ref != ref:
            raise ConfigError(f"{part_file}: key 'ref' is {meta.ref!r} but the folder is {ref!r}")
        if meta.model_script:
            safe_path(folder, meta.model_script, owner=part_file)
        revisions = [self._load_revision(ref, folder / name, int(m[1]))
                     for name in self._rev_dirs(folder) if (m := REV_DIR.match(name))]
        revisions.sort(key=lambda r: r.rev)
        return Part(ref, folder, meta, revisions)

    @staticmethod
    def _rev_dirs(folder: Path) -> list[str]:
        return [p.name for p in folder.iterdir() if p.is_dir() and REV_DIR.match(p.name)]

    def list(self) -> list[Part]:
        return [self.get(ref) for ref in self.refs()]

    def revision(self, ref: str, rev: int) -> Revision:
        folder = self.part_dir(ref) / f"rev-{rev}"
        if not (folder / REVISION_FILE).is_file():
            if not (self.part_dir(ref) / PART_FILE).is_file():
                raise NotFoundError(f"reference {ref} not found in catalog {self.root}")
            raise NotFoundError(f"{ref}@{rev}: no such revision in {self.part_dir(ref)}")
        self.get(ref)  # validates part.yaml too
        return self._load_revision(ref, folder, rev)

    def resolve(self, spec: str) -> Revision:
        """``"REF@REV"`` -> that revision (any status); ``"REF"`` -> the latest validated revision."""
        ref, rev = parse_spec(spec)
        if rev is not None:
            return self.revision(ref, rev)
        part = self.get(ref)
        latest = part.latest_validated
        if latest is None:
            states = ", ".join(f"rev {r.rev} {r.status}" for r in part.revisions) or "no revisions"
            raise SafetyError(f"{ref} has no validated revision ({states})", code="not_validated")
        return latest

    def _load_revision(self, ref: str, folder: Path, rev: int) -> Revision:
        if folder.is_symlink():
            raise PathRefused(f"{folder}: symbolic link refused in the catalog")
        rev_file = folder / REVISION_FILE
        meta = load_model(rev_file, RevisionMeta)
        if meta.ref != ref or meta.rev != rev:
            raise ConfigError(f"{rev_file}: says {meta.ref}@{meta.rev} but lives in {ref}/rev-{rev}")
        model_file = safe_path(folder, meta.model.file, owner=rev_file)
        safe_path(folder, meta.model.mesh_report, owner=rev_file)
        if meta.model.source:
            safe_path(folder, meta.model.source, owner=rev_file)
        preview = safe_path(folder, meta.preview, owner=rev_file) if meta.preview else None
        recipes = [
            Recipe(r.printer, r.material, r.process, safe_path(folder, r.build_file, owner=rev_file), r.sha256,
                   r.copies, r.slicer, r.layers, dict(r.estimates))
            for r in meta.recipes
        ]
        validation = retirement = None
        status = "draft"
        if (folder / mf.VALIDATION_NAME).exists():
            validation = load_model(folder / mf.VALIDATION_NAME, ValidationRecord)
            status = "validated"
            if (folder / mf.RETIREMENT_NAME).exists():
                retirement = load_model(folder / mf.RETIREMENT_NAME, RetirementRecord)
                status = "retired"
        elif (folder / mf.RETIREMENT_NAME).exists():
            retirement = load_model(folder / mf.RETIREMENT_NAME, RetirementRecord)
            status = "retired"
        return Revision(ref, rev, status, folder, meta, recipes, model_file, preview, validation, retirement)

    # ---- integrity -----------------------------------------------------------------------------------

    def verify_revision(self, revision: Revision) -> dict[str, Any]:
        """Check a validated (or retired-after-validation) revision: every file against the manifest, the
        manifest against the signed validation record, the signature against the trusted keys, and each
        recipe's sha256. Raises IntegrityError naming the first offending file."""
        folder = revision.path
        if revision.validation is None:
            raise IntegrityError(f"{revision.spec} is {revision.status}, not validated: nothing signed to verify",
                                 code="not_validated")
        manifest, manifest_sha = mf.load_manifest(folder)
        diff = mf.compare(folder, manifest)
        if not diff.ok:
            raise IntegrityError(diff.describe(folder), details={
                "changed": diff.changed, "added": diff.added, "removed": diff.removed})
        record = revision.validation
        where = folder / mf.VALIDATION_NAME
        if record.manifest_sha256 != manifest_sha:
            raise IntegrityError(f"{folder / mf.MANIFEST_NAME}: changed since it was signed in {where}")
        if (record.ref, record.rev) != (revision.ref, revision.rev) or (
                manifest.get("ref"), manifest.get("rev")) != (revision.ref, revision.rev):
            raise IntegrityError(f"{where}: signed for another revision ({record.ref}@{record.rev})")
        key = verify_signature(trusted_keys(self.keys_dir), record.key_id, record.signed_payload(),
                               record.signature, where)
        if revision.meta.status != "validated":
            raise IntegrityError(f"{folder / REVISION_FILE}: status is {revision.meta.status!r} in a signed revision")
        for recipe in revision.recipes:
            rel = recipe.build_file.relative_to(folder).as_posix()
            if manifest["files"].get(rel) != recipe.sha256:
                raise IntegrityError(f"{recipe.build_file}: sha256 differs from its recipe in {REVISION_FILE}")
        return {"ref": revision.ref, "rev": revision.rev, "status": revision.status, "ok": True,
                "files": len(manifest["files"]), "signed_by": record.by, "key": key.name, "key_id": key.key_id}

    def verify(self, ref: str | None = None) -> list[dict[str, Any]]:
        """Verify every signed revision (of ``ref`` or of the whole catalog). Never raises for a failed
        revision: each outcome has ``ok`` and, when it failed, ``error``/``code``."""
        from hospfab.errors import HospfabError

        outcomes: list[dict[str, Any]] = []
        for name in [ref] if ref else self.refs():
            try:
                part = self.get(name)
            except HospfabError as err:
                outcomes.append({"ref": name, "rev": None, "status": "unreadable", "ok": False,
                                 "error": err.message, "code": err.code, "exit_code": int(err.exit_code)})
                continue
            for revision in part.revisions:
                if revision.validation is None:
                    outcomes.append({"ref": name, "rev": revision.rev, "status": revision.status, "ok": True,
                                     "skipped": "not signed"})
                    continue
                try:
                    outcomes.append(self.verify_revision(revision))
                except HospfabError as err:
                    outcomes.append({"ref": name, "rev": revision.rev, "status": revision.status, "ok": False,
                                     "error": err.message, "code": err.code, "exit_code": int(err.exit_code)})
        return outcomes

    def diff(self, spec_a: str, spec_b: str) -> dict[str, Any]:
        from hospfab.catalog.diffing import diff_revisions

        return diff_revisions(self.resolve(spec_a), self.resolve(spec_b))

    # ---- lifecycle (see hospfab.catalog.lifecycle) ---------------------------------------------------

    def new(self, ref: str, title: str, model: Path, **kwargs: Any) -> Revision:
        from hospfab.catalog import lifecycle

        return lifecycle.new(self, ref, title, Path(model), **kwargs)

    def revise(self, ref: str, changelog: str, model: Path | None = None, **kwargs: Any) -> Revision:
        from hospfab.catalog import lifecycle

        return lifecycle.revise(self, ref, changelog, Path(model) if model else None, **kwargs)

    def add_recipe(self, spec: str, gcode: Path, **kwargs: Any) -> Revision:
        from hospfab.catalog import lifecycle

        return lifecycle.add_recipe(self, spec, Path(gcode), **kwargs)

    def build(self, spec: str, printer: str, material: str, process: str, **kwargs: Any) -> Revision:
        from hospfab.catalog import lifecycle

        return lifecycle.build(self, spec, printer, material, process, **kwargs)

    def validate(self, spec: str, *, by: str, role: str, key_file: Path, **kwargs: Any) -> Revision:
        from hospfab.catalog import lifecycle

        return lifecycle.validate(self, spec, by=by, role=role, key_file=Path(key_file), **kwargs)

    def retire(self, spec: str, reason: str, **kwargs: Any) -> Revision:
        from hospfab.catalog import lifecycle

        return lifecycle.retire(self, spec, reason, **kwargs)
