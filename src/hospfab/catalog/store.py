"""Reading the catalog: parts, revisions, recipes, ``resolve("REF[@REV]")``, verification and diffs.

The lifecycle (new, revise, build, validate, retire) lives in :mod:`hospfab.catalog.lifecycle`; the
:class:`Catalog` methods of the same names delegate to it.
"""

from __future__ import annotations

import builtins
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hospfab.catalog import manifest as mf
from hospfab.catalog.files import load_model
from hospfab.catalog.model import (
    LegacyRetirement, PartMeta, RetirementRecord, RevisionMeta, SignatureRecord, ValidationRecord, check_ref,
)
from hospfab.catalog.paths import PathRefused, check_no_links, safe_path
from hospfab.errors import ConfigError, HospfabError, InputError, NotFoundError, SafetyError

if TYPE_CHECKING:
    from hospfab.catalog.checks import Checks
    from hospfab.trust import TrustStore

PART_FILE = "part.yaml"
REVISION_FILE = "revision.yaml"
REV_DIR = re.compile(r"^rev-([1-9][0-9]{0,5})$")
SPEC = re.compile(r"^(?P<ref>[^@\s]+)(?:@(?P<rev>\S+))?$")
MAX_REV_DIGITS = 6  # revisions 1 .. 999999
MAX_SUGGESTIONS = 3  # "did you mean A, B or C?"
SUGGEST_CUTOFF = 0.6  # difflib similarity below which a reference is not suggested


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
    test_only: bool = False  # made for a test-only printer profile: only a fleet test printer may print it

    def to_dict(self) -> dict[str, Any]:
        return {
            "printer": self.printer, "material": self.material, "process": self.process,
            "build_file": str(self.build_file), "sha256": self.sha256, "copies": self.copies,
            "slicer": self.slicer, "layers": self.layers, "estimates": self.estimates, "test_only": self.test_only,
        }


@dataclass(frozen=True)
class DimensionSpec:
    name: str
    nominal_mm: float
    tolerance_mm: float


@dataclass(frozen=True)
class AcceptanceCriteria:
    """The machine-readable acceptance criteria of a revision (signed with it): a general surface tolerance and
    named dimensions, all in millimetres; ``free_text`` holds old free-text dimension lines."""

    surface_tolerance_mm: float | None
    dimensions: tuple[DimensionSpec, ...]
    fit_test: str
    visual: str
    free_text: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"surface_tolerance_mm": self.surface_tolerance_mm,
                "dimensions": [vars(d) for d in self.dimensions], "fit_test": self.fit_test,
                "visual": self.visual, "free_text": list(self.free_text)}


@dataclass
class Revision:
    ref: str
    rev: int
    status: str  # 'draft' | 'pending' (signed, approval policy not met) | 'validated' | 'retired'
    path: Path
    meta: RevisionMeta
    recipes: list[Recipe]
    model_file: Path
    preview: Path | None
    signatures: list[SignatureRecord] = field(default_factory=list)
    retirement: RetirementRecord | LegacyRetirement | None = None
    legacy: ValidationRecord | None = None  # old format (1): must be migrated with `catalog resign`
    pending: list[str] = field(default_factory=list)  # what the approval policy still lacks

    @property
    def spec(self) -> str:
        return f"{self.ref}@{self.rev}"

    @property
    def printable(self) -> bool:
        return self.status == "validated"

    @property
    def signed(self) -> bool:
        """Carries any signed record (or an old-format one)."""
        return bool(self.signatures) or self.legacy is not None or isinstance(self.retirement, RetirementRecord)

    @property
    def validation(self) -> SignatureRecord | ValidationRecord | None:
        """The record of the validating signature (old format: the old validation record)."""
        first = next((s for s in self.signatures if s.meaning == "validated"), None)
        return first or (self.signatures[0] if self.signatures else self.legacy)

    @property
    def acceptance_criteria(self) -> AcceptanceCriteria:
        """Surface tolerance and named dimensions (mm) for inspection, as signed in ``revision.yaml``."""
        a = self.meta.acceptance
        dims = tuple(DimensionSpec(d.name, d.nominal_mm, d.tolerance_mm) for d in a.dimensions if not isinstance(d, str))
        return AcceptanceCriteria(a.surface_tolerance_mm, dims, a.fit_test, a.visual,
                                  tuple(d for d in a.dimensions if isinstance(d, str)))

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
            signatures=[{k: v for k, v in s.model_dump(mode="json").items() if k != "signature"}
                        for s in self.signatures],
            validation=self.validation.model_dump(mode="json", exclude={"signature"}) if self.validation else None,
            retirement=self.retirement.model_dump(mode="json", exclude={"signature"}) if self.retirement else None,
            pending=list(self.pending), format=1 if self.legacy is not None else self.meta.format,
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
    match = SPEC.match(spec.strip()) if isinstance(spec, str) and len(spec) <= 200 else None
    if not match:
        shown_spec = spec if not isinstance(spec, str) or len(spec) <= 80 else spec[:80] + "..."
        raise InputError(f"invalid part spec {shown_spec!r}: expected REF or REF@REV (e.g. EAR-SAVER@2)")
    try:
        ref = check_ref(match["ref"])
    except ValueError as err:
        raise InputError(str(err)) from None
    rev = match["rev"]
    if rev is None:
        return ref, None
    if not (rev.isascii() and rev.isdigit()) or len(rev) > MAX_REV_DIGITS or int(rev) < 1:
        shown_rev = rev if len(rev) <= 12 else rev[:12] + "..."
        raise InputError(f"invalid revision {shown_rev!r} in {ref}@: expected a number from 1 to "
                         f"{10 ** MAX_REV_DIGITS - 1} after '@'")
    return ref, int(rev)


def close_refs(name: str, refs: list[str], n: int = MAX_SUGGESTIONS) -> list[str]:
    """The references of ``refs`` closest to ``name``, compared case-insensitively, closest first.

    Only ever suggested, never accepted in place of ``name``: a reference is an identity in a signed catalog."""
    wanted = name.strip().upper()
    by_upper = {ref.upper(): ref for ref in refs}
    same = [by_upper[wanted]] if wanted in by_upper else []
    close = [by_upper[m] for m in difflib.get_close_matches(wanted, list(by_upper), n=n, cutoff=SUGGEST_CUTOFF)]
    return list(dict.fromkeys(same + close))[:n]


def _did_you_mean(suggestions: list[str]) -> str:
    if not suggestions:
        return ""
    listed = suggestions[0] if len(suggestions) == 1 else f"{', '.join(suggestions[:-1])} or {suggestions[-1]}"
    return f"; did you mean {listed}?"


class Catalog:
    """A catalog folder. Every read goes to disk: no cached state to go stale (the site's trust store is read
    once per Catalog object).

    ``trust``: the site's :class:`~hospfab.trust.TrustStore` or its path (default: ``Settings.trust_store_path``);
    never read from the catalog. ``seen``: the journal database path where the highest catalog index version
    seen is recorded (default: ``Settings.journal_path``)."""

    def __init__(self, root: Path | str, *, checks: Checks | None = None, trust: TrustStore | Path | str | None = None, seen: Path | str | None = None) -> None:
        self.root = Path(root)
        self.keys_dir = self.root / "keys"  # public keys shipped for convenience: never trusted from here
        self._checks = checks
        self._trust = trust
        self._seen = seen

    @property
    def trust(self) -> TrustStore:
        from hospfab.trust import TrustStore

        if not isinstance(self._trust, TrustStore):
            path = self._trust
            if path is None:
                from hospfab.settings import Settings

                path = Settings.resolve().trust_store_path
            self._trust = TrustStore.load(Path(path))
        return self._trust

    @property
    def seen_path(self) -> Path:
        if self._seen is None:
            from hospfab.settings import Settings

            self._seen = Settings.resolve().journal_path
        return Path(self._seen)

    @property
    def checks(self) -> Checks:
        if self._checks is None:
            from hospfab.catalog.checks import RealChecks

            self._checks = RealChecks()
        return self._checks

    # ---- reading -------------------------------------------------------------------------------------

    def _require_root(self) -> None:
        if not self.root.is_dir():
            raise NotFoundError(f"{self.root}: catalog folder not found (set --catalog or HOSPFAB_CATALOG)")

    def unknown_ref(self, ref: str) -> NotFoundError:
        """The error for a reference that is not in the catalog, suggesting the closest ones (exit 2)."""
        shown_ref = ref if len(ref) <= 80 else ref[:80] + "..."
        try:
            suggestions = close_refs(ref, self.refs()) if len(ref) <= 200 else []
        except HospfabError:
            suggestions = []
        case = " (references are upper case)" if ref.upper() in suggestions and ref not in suggestions else ""
        return NotFoundError(
            f"reference {shown_ref} not found in catalog {self.root}{case}{_did_you_mean(suggestions)}",
            details={"suggestions": suggestions} if suggestions else None,
        )

    def parse_spec(self, spec: str) -> tuple[str, int | None]:
        """:func:`parse_spec`, except that a reference that is not one (``ear-saver``) but resembles one of this
        catalog's gives the closest ones ("did you mean EAR-SAVER?") instead of only the syntax error."""
        try:
            return parse_spec(spec)
        except InputError as err:
            candidate = spec.strip().split("@", 1)[0] if isinstance(spec, str) and len(spec) <= 200 else ""
            if not candidate or not err.message.startswith("invalid reference"):
                raise
            unknown = self.unknown_ref(candidate)
            if not unknown.details.get("suggestions"):
                raise
            raise unknown from None

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
        for path in (folder, part_file):
            if path.is_symlink():
                raise PathRefused(f"{path}: symbolic link refused in the catalog")
        if not part_file.is_file():
            raise self.unknown_ref(ref)
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
                raise self.unknown_ref(ref)
            raise NotFoundError(f"{ref}@{rev}: no such revision in {self.part_dir(ref)}")
        self.get(ref)  # validates part.yaml too
        return self._load_revision(ref, folder, rev)

    def resolve(self, spec: str) -> Revision:
        """``"REF@REV"`` -> that revision (any status); ``"REF"`` -> the latest validated revision."""
        ref, rev = self.parse_spec(spec)
        if rev is not None:
            return self.revision(ref, rev)
        part = self.get(ref)
        latest = part.latest_validated
        if latest is None:
            states = ", ".join(f"rev {r.rev} {r.status}" for r in part.revisions) or "no revisions"
            raise SafetyError(f"{ref} has no validated revision ({states})", code="not_validated")
        return latest

    def refusal(self, revision: Revision) -> SafetyError:
        """Why ``revision`` may not be printed, naming the revision to print instead first."""
        try:
            current = self.get(revision.ref).latest_validated
        except Exception:  # noqa: BLE001 - only the hint is lost
            current = None
        instead = (f"print {current.spec} instead (the current validated revision); " if current is not None
                   and current.rev != revision.rev else "")
        if revision.status == "retired":
            why = f" ({revision.retirement.reason})" if revision.retirement is not None else ""
            what = f"{revision.spec} is retired{why}"
        elif revision.status == "pending":
            what = f"{revision.spec} is pending approval (needs {'; '.join(revision.pending)})"
        else:
            what = f"{revision.spec} is {revision.status}"
        return SafetyError(f"{what}: {instead}refused (--allow-draft overrides, recorded)",
                           code=f"revision_{revision.status}")

    def _load_revision(self, ref: str, folder: Path, rev: int) -> Revision:
        check_no_links(folder)  # revision.yaml, records, signatures, build files: a link anywhere is refused
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
                   r.copies, r.slicer, r.layers, dict(r.estimates), bool(r.test_only))
            for r in meta.recipes
        ]
        signatures, legacy, retirement = self._records(folder)
        status, pending = "draft", []
        if retirement is not None:
            status = "retired"
        elif signatures:
            pending = self._policy_gaps(signatures)
            status = "pending" if pending else "validated"
        elif legacy is not None:
            status = "validated"  # old format: verify_revision refuses it and says how to migrate
        return Revision(ref, rev, status, folder, meta, recipes, model_file, preview, signatures, retirement,
                        legacy, pending)

    def _records(self, folder: Path) -> tuple[
            builtins.list[SignatureRecord], ValidationRecord | None, RetirementRecord | LegacyRetirement | None]:
        signatures: list[SignatureRecord] = []
        sig_dir = folder / mf.SIGNATURES_DIR
        if sig_dir.is_symlink():
            raise PathRefused(f"{sig_dir}: symbolic link refused in the catalog")
        if sig_dir.is_dir():
            for path in sorted(sig_dir.iterdir()):
                record = load_model(path, SignatureRecord)
                if path.name != f"{record.key_id}.yaml":
                    raise ConfigError(f"{path}: holds the signature of key {record.key_id}; expected "
                                      f"{record.key_id}.yaml")
                signatures.append(record)
        legacy: ValidationRecord | None = None
        retirement: RetirementRecord | LegacyRetirement | None = None
        if (folder / mf.VALIDATION_NAME).exists():
            legacy = load_model(folder / mf.VALIDATION_NAME, ValidationRecord)
        retire_file = folder / mf.RETIREMENT_NAME
        if retire_file.exists():
            from hospfab.fileio import read_yaml_mapping

            raw = read_yaml_mapping(retire_file, what="retirement record")
            model: type[LegacyRetirement] | type[RetirementRecord] = (
                LegacyRetirement if raw.get("format", 1) == 1 else RetirementRecord)
            retirement = load_model(retire_file, model)
        signatures.sort(key=lambda r: (r.meaning != "validated", r.at, r.key_id))
        return signatures, legacy, retirement

    def _policy_gaps(self, signatures: builtins.list[SignatureRecord]) -> builtins.list[str]:
        """What the site's approval policy still lacks, counting signers the trust store trusts now (their
        signatures are checked by :meth:`verify_revision`)."""
        from hospfab.errors import HospfabError

        signers, untrusted = [], []
        for record in signatures:
            try:
                signers.append(self.trust.signer(record.key_id))
            except HospfabError as err:
                state = {"revoked_key": "is revoked", "expired_key": "has expired"}.get(err.code, "is not trusted")
                untrusted.append(f"key {record.key_id} ({record.signer}) {state}")
        missing = self.trust.policy.missing(signers)
        return missing + ([f"not counted: {', '.join(untrusted)} at this site"] if missing and untrusted else [])

    # ---- integrity -----------------------------------------------------------------------------------

    def verify_revision(self, revision: Revision, *, unsigned_ok: bool = False) -> dict[str, Any]:
        """Check a signed revision: every file against the manifest, the part metadata against the snapshot
        signed in it, each signature against the site's trust store, the approval policy, the retirement,
        and the revision's entry in the catalog's signed index (no rollback). Raises IntegrityError (exit 4)
        naming what changed. ``unsigned_ok``: a draft only has its index entry checked (print overrides)."""
        from hospfab.catalog.verify import verify_revision

        return verify_revision(self, revision, unsigned_ok=unsigned_ok)

    def verify(self, ref: str | None = None) -> builtins.list[dict[str, Any]]:
        """Verify every signed revision (of ``ref`` or of the whole catalog) and the signed index. Never raises
        for a failed revision: each outcome has ``ok`` and, when it failed, ``error``/``code``/``exit_code``
        (4: anything unreadable or inconsistent in a catalog under verification is refused)."""
        from hospfab.catalog.verify import verify_catalog

        return verify_catalog(self, ref)

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

    def validate(self, spec: str, *, key_file: Path, **kwargs: Any) -> Revision:
        from hospfab.catalog import signoff

        return signoff.validate(self, spec, key_file=Path(key_file), **kwargs)

    def sign(self, spec: str, *, key_file: Path, **kwargs: Any) -> Revision:
        from hospfab.catalog import signoff

        return signoff.cosign(self, spec, key_file=Path(key_file), **kwargs)

    def retire(self, spec: str, reason: str, *, key_file: Path, **kwargs: Any) -> Revision:
        from hospfab.catalog import signoff

        return signoff.retire(self, spec, reason, key_file=Path(key_file), **kwargs)

    def resign(self, specs: builtins.list[str] | None, *, key_file: Path, **kwargs: Any) -> builtins.list[Revision]:
        from hospfab.catalog import migrate

        return migrate.resign(self, specs, key_file=Path(key_file), **kwargs)
