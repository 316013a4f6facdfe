"""Typed models of the catalog files: ``part.yaml`` and ``revision.yaml`` (pydantic, unknown keys rejected)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

REF_PATTERN = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")
FORMAT_VERSION = 1

Status = Literal["draft", "validated", "retired"]


def check_ref(ref: str) -> str:
    """A reference id: upper-case letters, digits and single hyphens, e.g. ``VISOR-HEADBAND``."""
    if not REF_PATTERN.match(ref or "") or len(ref) > 64:
        raise ValueError(f"invalid reference {ref!r}: use upper-case letters, digits and hyphens (e.g. EAR-SAVER)")
    return ref


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Replaces(_Strict):
    """The equipment part this reference replaces (spare parts only)."""

    equipment: str = Field(description="Equipment the part belongs to, e.g. 'Infusion pump X200'.")
    oem_part_number: str | None = Field(None, description="The manufacturer's part number, if known.")
    manufacturer: str | None = Field(None, description="Equipment manufacturer.")


class PartMeta(_Strict):
    """``<REF>/part.yaml``: what the reference is, for whom, and its limits. Changes rarely."""

    format: int = Field(FORMAT_VERSION, description="Catalog format version.")
    ref: str = Field(description="Stable reference id (upper-case letters, digits, hyphens).")
    title: str = Field(min_length=1, description="Short human title.")
    category: str = Field("general", description="e.g. 'PPE', 'respiratory', 'lab', 'equipment-spare'.")
    intended_use: str = Field("", description="What the part is for.")
    intended_users: list[str] = Field(default_factory=list, description="Who may use it (roles).")
    limitations: list[str] = Field(default_factory=list, description="Known limits of use.")
    contraindications: list[str] = Field(default_factory=list, description="When it must not be used.")
    replaces: Replaces | None = Field(None, description="For spare parts: the OEM part replaced.")
    source: str = Field("", description="Where the design comes from (authors, URL).")
    licence: str = Field("", description="Licence of the design (SPDX id where possible).")
    model_script: str | None = Field(None, description="Parametric model script, relative to the part folder.")

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        return check_ref(value)


class ModelFile(_Strict):
    """The revision's 3D model."""

    file: str = Field("model.stl", description="STL file, relative to the revision folder.")
    units: Literal["mm"] = Field("mm", description="Model units (always millimetres).")
    sha256: str = Field(description="sha256 of the STL.")
    source: str | None = Field(None, description="Parametric source copied into the revision, if any.")
    mesh_report: str = Field("mesh-check.json", description="Stored `hospfab check` report.")
    mesh_ok: bool = Field(description="Whether the mesh check passed when the revision was made.")


class RecipeMeta(_Strict):
    """One validated way to print the revision: printer profile + material + process -> a G-code build file."""

    printer: str
    material: str
    process: str
    build_file: str = Field(description="G-code, relative to the revision folder.")
    sha256: str
    copies: int = Field(1, ge=1, le=500, description="Copies per plate.")
    slicer: str = Field("", description="Slicer name and version.")
    layers: int | None = None
    estimates: dict[str, Any] = Field(default_factory=dict, description="print_time_s, filament_g, ...")
    gcode_check_ok: bool | None = Field(None, description="Result of `hospfab gcode check` at build time.")
    built_at: datetime | None = None
    test_only: bool | None = Field(None, description="Made for a test-only printer profile (never validated).")


class Dimension(_Strict):
    """One measured dimension of an accepted part: nominal value and tolerance, in millimetres."""

    name: str = Field(min_length=1, max_length=120, description="What is measured, e.g. 'pin spacing'.")
    nominal_mm: float = Field(gt=0, le=10000, description="Nominal value (mm).")
    tolerance_mm: float = Field(gt=0, le=100, description="Allowed deviation either way (mm).")


class Acceptance(_Strict):
    """How an inspector accepts a printed part (machine-readable for `hospfab inspect`)."""

    surface_tolerance_mm: float | None = Field(
        None, gt=0, le=10, description="General surface tolerance against the model (mm), for scan comparison.")
    dimensions: list[Dimension | str] = Field(
        default_factory=list,
        description="Named dimensions {name, nominal_mm, tolerance_mm}; free text only in old revisions.")
    fit_test: str = Field("", description="Functional fit test.")
    visual: str = Field("No stringing, layer separation, warping or sharp edges.", description="Visual check.")


class Sampling(_Strict):
    """Lot sampling plan (AP-HP drew one part at random from each lot of 100)."""

    lot_size: int = Field(100, ge=1)
    sample_size: int = Field(1, ge=1)
    method: str = Field(min_length=1, description="How the sample is drawn and what a failure means.")


class RevisionMeta(_Strict):
    """``<REF>/rev-N/revision.yaml``: one immutable-once-validated version of a reference."""

    format: int = Field(FORMAT_VERSION)
    ref: str
    rev: int = Field(ge=1)
    status: Status = "draft"
    created_at: datetime
    changelog: str = ""
    supersedes: int | None = Field(None, description="Revision this one replaces.")
    model: ModelFile
    preview: str | None = Field("preview.png", description="PNG picture of the part.")
    recipes: list[RecipeMeta] = Field(default_factory=list)
    post_processing: list[str] = Field(default_factory=list)
    cleaning: str = ""
    acceptance: Acceptance = Field(default_factory=Acceptance)
    sampling: Sampling | None = Field(None, description="Lot sampling plan (required to validate).")

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        return check_ref(value)


class ValidationRecord(_Strict):
    """``<REF>/rev-N/validation.yaml`` of the OLD format (1): signer name from free text, key trusted from the
    catalog's own ``keys/``. Read only to migrate (``hospfab catalog resign``)."""

    format: int = Field(FORMAT_VERSION)
    ref: str
    rev: int
    by: str = Field(min_length=1, description="Validator's name.")
    role: str = Field(min_length=1, description="Validator's role, e.g. 'biomedical engineer'.")
    at: datetime
    test_print: str = Field("", description="Which test print was inspected (printer, date, lot).")
    inspection: str = Field("", description="Inspection result.")
    manifest_sha256: str = Field(description="sha256 of manifest.json.")
    key_id: str = Field(description="Fingerprint of the signing public key.")
    signature: str = Field("", description="Ed25519 signature (base64) of the other fields.")

    def signed_payload(self) -> bytes:
        import json

        body = self.model_dump(mode="json", exclude={"signature"})
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class LegacyRetirement(_Strict):
    """``retirement.yaml`` of the old format (1), unsigned. Read only to migrate."""

    format: int = Field(1)
    ref: str
    rev: int
    reason: str = Field(min_length=1)
    at: datetime
    by: str = ""


SIGNED_FORMAT = 2
Meaning = Literal["validated", "approved", "retired"]
#: What a signature means, signed with it (21 CFR 11.50: the meaning of the signature is part of the record).
STATEMENTS: dict[str, str] = {
    "validated": "I validated this revision: its files, part metadata, instructions and acceptance criteria "
                 "are fit for the intended use.",
    "approved": "I approve this validated revision for production.",
    "retired": "I retire this revision: it must no longer be printed.",
}


class SignedRecord(_Strict):
    """Fields common to every signed record: what, who (from the trust store), when, and what it means."""

    format: int = Field(SIGNED_FORMAT)
    ref: str
    rev: int
    meaning: Meaning
    statement: str = Field(description="The meaning in words (fixed per meaning).")
    key_id: str = Field(description="Fingerprint of the signing key.")
    signer: str = Field(min_length=1, description="Signer's name from the site's trust store.")
    roles: list[str] = Field(description="Signer's roles from the trust store.")
    at: datetime
    manifest_sha256: str | None = Field(description="sha256 of manifest.json (None: an unlocked draft).")
    signature: str = Field("", description="Ed25519 signature (base64) of the other fields.")

    def signed_payload(self) -> bytes:
        import json

        body = self.model_dump(mode="json", exclude={"signature"})
        return b"hospfab-record-v2\n" + json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class SignatureRecord(SignedRecord):
    """``<REF>/rev-N/signatures/<key_id>.yaml``: one signer's validation or co-signature."""

    test_print: str = Field("", description="Which test print was inspected (printer, date, lot).")
    inspection: str = Field("", description="Inspection result.")
    migrated_from: dict[str, Any] | None = Field(None, description="The old-format record this one replaces.")


class RetirementRecord(SignedRecord):
    """``<REF>/rev-N/retirement.yaml``: the revision must no longer be printed (signed)."""

    reason: str = Field(min_length=1)
